import { ChunkReader, ChunkStreamError, encodeMessage, MessageType, RtmpMessage } from './chunk-stream';

const strip = (m: RtmpMessage) => ({ csid: m.chunkStreamId, type: m.typeId, sid: m.streamId, ts: m.timestamp, payload: m.payload.toString('hex') });

/** Feeds bytes one at a time: a reader must not depend on how reads split the stream. */
function byteByByte(reader: ChunkReader, bytes: Buffer): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(...reader.push(bytes.subarray(i, i + 1)));
  return out;
}

describe('ChunkReader', () => {
  it('reads a full header, then compressed ones (fmt 1, 2, 3) on the same chunk stream', () => {
    const bytes = Buffer.concat([
      // fmt 0, csid 4: ts 1000, length 2, type 8 (audio), stream 1
      Buffer.from('04' + '0003e8' + '000002' + '08' + '01000000' + 'aabb', 'hex'),
      // fmt 1: delta 20, length 3, type 9
      Buffer.from('44' + '000014' + '000003' + '09' + 'ccddee', 'hex'),
      // fmt 2: delta 30 (length 3, type 9 kept)
      Buffer.from('84' + '00001e' + '010203', 'hex'),
      // fmt 3 starting a new message: repeats the delta (30)
      Buffer.from('c4' + '040506', 'hex'),
    ]);
    const messages = byteByByte(new ChunkReader(), bytes).map(strip);
    expect(messages).toEqual([
      { csid: 4, type: 8, sid: 1, ts: 1000, payload: 'aabb' },
      { csid: 4, type: 9, sid: 1, ts: 1020, payload: 'ccddee' },
      { csid: 4, type: 9, sid: 1, ts: 1050, payload: '010203' },
      { csid: 4, type: 9, sid: 1, ts: 1080, payload: '040506' },
    ]);
  });

  it('splits a message at the chunk size and follows Set Chunk Size', () => {
    const payload = Buffer.alloc(300, 7);
    const reader = new ChunkReader();
    // At the default 128 bytes: 128 + 128 + 44.
    const at128 = encodeMessage({ chunkStreamId: 6, typeId: MessageType.Video, streamId: 1, timestamp: 5, payload }, 128);
    expect(at128.length).toBe(12 + 300 + 2);
    const setSize = encodeMessage({ chunkStreamId: 2, typeId: MessageType.SetChunkSize, streamId: 0, timestamp: 0, payload: Buffer.from('00001000', 'hex') }, 128);
    const at4096 = encodeMessage({ chunkStreamId: 6, typeId: MessageType.Video, streamId: 1, timestamp: 9, payload }, 4096);
    expect(at4096.length).toBe(12 + 300);
    const messages = byteByByte(reader, Buffer.concat([at128, setSize, at4096]));
    expect(messages.map((m) => [m.typeId, m.payload.length, m.timestamp])).toEqual([
      [9, 300, 5],
      [1, 4, 0],
      [9, 300, 9],
    ]);
    expect(reader.chunkSize).toBe(4096);
    expect(messages[2].endOffset).toBe(at128.length + setSize.length + at4096.length);
  });

  it('reads extended timestamps, also repeated on fmt 3 continuation chunks', () => {
    const payload = Buffer.alloc(200, 1);
    const bytes = encodeMessage({ chunkStreamId: 3, typeId: MessageType.CommandAmf0, streamId: 0, timestamp: 0x1000000, payload }, 128);
    // fmt 0 + 0xffffff + 4-byte field, then fmt 3 + 4-byte field again.
    expect(bytes.length).toBe(1 + 11 + 4 + 128 + 1 + 4 + 72);
    const [message] = byteByByte(new ChunkReader(), bytes);
    expect(message.timestamp).toBe(0x1000000);
    expect(message.payload.equals(payload)).toBe(true);
  });

  it('reads two- and three-byte basic headers', () => {
    const two = encodeMessage({ chunkStreamId: 100, typeId: 18, streamId: 1, timestamp: 0, payload: Buffer.from('01', 'hex') }, 128);
    expect(two[0]).toBe(0);
    expect(two[1]).toBe(36);
    const three = encodeMessage({ chunkStreamId: 1000, typeId: 18, streamId: 1, timestamp: 0, payload: Buffer.from('02', 'hex') }, 128);
    expect(three[0]).toBe(1);
    expect(byteByByte(new ChunkReader(), Buffer.concat([two, three])).map((m) => m.chunkStreamId)).toEqual([100, 1000]);
  });

  it('interleaves chunks of messages on different chunk streams', () => {
    const a = encodeMessage({ chunkStreamId: 4, typeId: 8, streamId: 1, timestamp: 0, payload: Buffer.alloc(200, 0xa) }, 128);
    const v = encodeMessage({ chunkStreamId: 6, typeId: 9, streamId: 1, timestamp: 0, payload: Buffer.alloc(10, 0xb) }, 128);
    // a's first chunk (1 + 11 + 128), then all of v, then a's continuation.
    const bytes = Buffer.concat([a.subarray(0, 140), v, a.subarray(140)]);
    const messages = new ChunkReader().push(bytes);
    expect(messages.map((m) => [m.chunkStreamId, m.payload.length])).toEqual([
      [6, 10],
      [4, 200],
    ]);
  });

  it('drops a partial message on Abort', () => {
    const a = encodeMessage({ chunkStreamId: 4, typeId: 8, streamId: 1, timestamp: 0, payload: Buffer.alloc(200, 0xa) }, 128);
    const abort = encodeMessage({ chunkStreamId: 2, typeId: MessageType.Abort, streamId: 0, timestamp: 0, payload: Buffer.from('00000004', 'hex') }, 128);
    const next = encodeMessage({ chunkStreamId: 4, typeId: 8, streamId: 1, timestamp: 40, payload: Buffer.from('ff', 'hex') }, 128);
    const messages = new ChunkReader().push(Buffer.concat([a.subarray(0, 140), abort, next]));
    expect(messages.map((m) => [m.typeId, m.payload.toString('hex')])).toEqual([
      [2, '00000004'],
      [8, 'ff'],
    ]);
  });

  it('refuses a compressed header on a chunk stream that never had a full one, and giant messages', () => {
    expect(() => new ChunkReader().push(Buffer.from('44000014000003090102', 'hex'))).toThrow(ChunkStreamError);
    expect(() => new ChunkReader().push(Buffer.from('040000009000000801000000', 'hex'))).toThrow(/bytes on chunk stream/);
  });

  it('encodes an empty message as one chunk', () => {
    const bytes = encodeMessage({ chunkStreamId: 3, typeId: 20, streamId: 0, timestamp: 0, payload: Buffer.alloc(0) }, 128);
    expect(bytes.length).toBe(12);
    expect(new ChunkReader().push(bytes).map((m) => m.payload.length)).toEqual([0]);
  });
});
