import {
  buildRejection,
  decodeStreamIdWords,
  encodeStreamIdWords,
  formatStreamId,
  HANDSHAKE_CONCLUSION,
  HANDSHAKE_INDUCTION,
  parseHandshake,
  parseStreamId,
  REJECT,
} from './srt-packet';

/** A caller's handshake as libsrt lays it out: header, the 48-byte fixed part, then extensions. */
function handshake(type: number, socketId: number, streamId?: string): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt16BE(0x8000, 0); // control, type 0 (handshake)
  header.writeUInt32BE(0, 12); // to the listener: no socket id known yet
  const cif = Buffer.alloc(48);
  cif.writeUInt32BE(type === HANDSHAKE_INDUCTION ? 4 : 5, 0);
  cif.writeUInt32BE(type >>> 0, 20);
  cif.writeUInt32BE(socketId, 24);
  cif.writeUInt32BE(0xc0ffee, 28);
  const parts = [header, cif];
  if (streamId !== undefined) {
    const hsreq = Buffer.alloc(4 + 12);
    hsreq.writeUInt16BE(1, 0);
    hsreq.writeUInt16BE(3, 2);
    const words = encodeStreamIdWords(streamId);
    const sid = Buffer.alloc(4);
    sid.writeUInt16BE(5, 0);
    sid.writeUInt16BE(words.length / 4, 2);
    parts.push(hsreq, sid, words);
  }
  return Buffer.concat(parts);
}

describe('SRT handshake codec', () => {
  it('reads an induction and a conclusion with its stream id', () => {
    expect(parseHandshake(handshake(HANDSHAKE_INDUCTION, 77))).toEqual({ version: 4, handshakeType: HANDSHAKE_INDUCTION, socketId: 77, synCookie: 0xc0ffee });
    const id = formatStreamId('live', 'show__host', 'K3y_-x');
    expect(parseHandshake(handshake(HANDSHAKE_CONCLUSION, 78, id))).toMatchObject({ version: 5, handshakeType: HANDSHAKE_CONCLUSION, socketId: 78, streamId: id });
  });

  it('reverses every 4-byte group of the stream id, padding the last with zeros', () => {
    expect([...encodeStreamIdWords('abcdef')]).toEqual([...Buffer.from('dcba\0\0fe', 'latin1')]);
    expect(decodeStreamIdWords(Buffer.from('dcba\0\0fe', 'latin1'))).toBe('abcdef');
    for (const s of ['', 'a', '#!::r=x', '中文流']) expect(decodeStreamIdWords(encodeStreamIdWords(s))).toBe(s);
  });

  it('ignores what is not a handshake, and a truncated one', () => {
    expect(parseHandshake(Buffer.from('hello, not srt at all'))).toBeUndefined();
    const data = Buffer.alloc(80); // F bit clear: a data packet
    expect(parseHandshake(data)).toBeUndefined();
    const keepalive = Buffer.alloc(64);
    keepalive.writeUInt16BE(0x8001, 0);
    expect(parseHandshake(keepalive)).toBeUndefined();
    const full = handshake(HANDSHAKE_CONCLUSION, 5, '#!::r=live/a,s=b');
    expect(parseHandshake(full.subarray(0, 60))).toBeUndefined();
    expect(parseHandshake(full.subarray(0, full.length - 4))).toBeUndefined();
  });

  it('answers a conclusion with a rejection addressed to the caller', () => {
    const rejection = buildRejection(handshake(HANDSHAKE_CONCLUSION, 4242, '#!::r=live/a'), REJECT.FORBIDDEN);
    expect(rejection.length).toBe(64);
    expect(rejection.readUInt32BE(12)).toBe(4242);
    expect(parseHandshake(rejection)).toMatchObject({ handshakeType: 1403, socketId: 0 });
    expect(() => buildRejection(Buffer.from('nope'), 1400)).toThrow();
  });
});

describe('SRT stream ids', () => {
  it('reads the access-control syntax, publish by default', () => {
    expect(parseStreamId('#!::r=live/show__host,s=KEY,m=publish')).toEqual({ resource: 'live/show__host', key: 'KEY', mode: 'publish' });
    expect(parseStreamId('#!::r=ingest/in-1,s=K')).toEqual({ resource: 'ingest/in-1', key: 'K', mode: 'publish' });
    expect(parseStreamId('#!::r=live/x,m=request')).toEqual({ resource: 'live/x', key: undefined, mode: 'request' });
  });

  it('understands a stream id a caller left URL-encoded', () => {
    expect(parseStreamId(encodeURIComponent('#!::r=live/show__host,s=KEY,m=publish'))).toEqual({ resource: 'live/show__host', key: 'KEY', mode: 'publish' });
    expect(parseStreamId('%23%E0%A4%A')).toBeUndefined();
  });

  it('refuses other syntaxes', () => {
    for (const s of ['live/show', '#!::', '#!::s=KEY', '#!::r', '#!::=x,r=y', '']) expect(parseStreamId(s)).toBeUndefined();
  });

  it('formats what it parses', () => {
    expect(parseStreamId(formatStreamId('ingest', 'in-abc', 'k-_9'))).toEqual({ resource: 'ingest/in-abc', key: 'k-_9', mode: 'publish' });
  });
});
