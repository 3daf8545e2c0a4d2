/**
 * The RTMP chunk stream (RTMP 1.0 §5.3): messages cut into chunks with compressed
 * headers, reassembled here. Pure: bytes in, messages out. Why our own: see amf0.ts.
 */

/** RTMP message type ids the front looks at. */
export const MessageType = {
  SetChunkSize: 1,
  Abort: 2,
  Acknowledgement: 3,
  UserControl: 4,
  WindowAckSize: 5,
  SetPeerBandwidth: 6,
  Audio: 8,
  Video: 9,
  DataAmf3: 15,
  CommandAmf3: 17,
  DataAmf0: 18,
  CommandAmf0: 20,
} as const;

export const DEFAULT_CHUNK_SIZE = 128;
/** Largest chunk size the protocol allows (31 bits). */
const MAX_CHUNK_SIZE = 0x7fffffff;
/** A message larger than this is refused (no RTMP command or video frame the front must read comes close). */
const MAX_MESSAGE_LENGTH = 8 * 1024 * 1024;

export interface RtmpMessage {
  /** Chunk stream id it arrived on. */
  chunkStreamId: number;
  typeId: number;
  /** Message stream id (0 for control and connection-level commands). */
  streamId: number;
  /** Absolute timestamp in ms. */
  timestamp: number;
  payload: Buffer;
  /** Bytes of the chunk stream consumed up to the end of this message's last chunk. */
  endOffset: number;
}

export class ChunkStreamError extends Error {}

interface ChunkStreamState {
  timestamp: number;
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  /** The previous header on this chunk stream carried an extended timestamp (fmt 3 chunks then repeat it). */
  extended: boolean;
  parts: Buffer[];
  received: number;
  /** The header seen so far had a full header since the stream began. */
  known: boolean;
}

/**
 * Reassembles messages from one direction of an RTMP connection (after the
 * handshake). Applies the sender's Set Chunk Size and Abort messages itself.
 */
export class ChunkReader {
  #chunkSize = DEFAULT_CHUNK_SIZE;
  #pending: Buffer = Buffer.alloc(0);
  /** Bytes consumed before `#pending` starts. */
  #consumed = 0;
  readonly #streams = new Map<number, ChunkStreamState>();

  /** The sender's current chunk size. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Total bytes fed so far. */
  get offset(): number {
    return this.#consumed + this.#pending.length;
  }

  /** Feeds bytes; returns every message completed by them. Throws ChunkStreamError on a malformed stream. */
  push(bytes: Buffer): RtmpMessage[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, bytes]) : bytes;
    const out: RtmpMessage[] = [];
    for (;;) {
      const used = this.#readChunk(this.#pending, out);
      if (used === 0) break;
      this.#pending = this.#pending.subarray(used);
      this.#consumed += used;
    }
    return out;
  }

  /** Parses one whole chunk at the start of `buf`; returns its size, or 0 if it is not all there yet. */
  #readChunk(buf: Buffer, out: RtmpMessage[]): number {
    if (buf.length < 1) return 0;
    const fmt = buf[0] >> 6;
    let csid = buf[0] & 0x3f;
    let p = 1;
    if (csid === 0) {
      if (buf.length < 2) return 0;
      csid = 64 + buf[1];
      p = 2;
    } else if (csid === 1) {
      if (buf.length < 3) return 0;
      csid = 64 + buf[1] + buf[2] * 256;
      p = 3;
    }
    const headerSize = [11, 7, 3, 0][fmt];
    if (buf.length < p + headerSize) return 0;
    const previous = this.#streams.get(csid);
    if (fmt !== 0 && !previous?.known) throw new ChunkStreamError(`chunk stream ${csid} starts without a full header`);
    const state: ChunkStreamState = previous ?? {
      timestamp: 0,
      delta: 0,
      length: 0,
      typeId: 0,
      streamId: 0,
      extended: false,
      parts: [],
      received: 0,
      known: false,
    };
    let field = 0;
    let length = state.length;
    let typeId = state.typeId;
    let streamId = state.streamId;
    if (fmt <= 2) field = buf.readUIntBE(p, 3);
    if (fmt <= 1) {
      length = buf.readUIntBE(p + 3, 3);
      typeId = buf[p + 6];
    }
    if (fmt === 0) streamId = buf.readUInt32LE(p + 7);
    p += headerSize;
    // fmt 0-2 say so by a 0xffffff field; a fmt 3 chunk repeats the extended field of the header it continues.
    const extended = fmt <= 2 ? field === 0xffffff : state.extended;
    if (extended) {
      if (buf.length < p + 4) return 0;
      field = buf.readUInt32BE(p);
      p += 4;
    }
    const startsMessage = state.received === 0;
    if (startsMessage && length > MAX_MESSAGE_LENGTH) {
      throw new ChunkStreamError(`message of ${length} bytes on chunk stream ${csid}`);
    }
    const remaining = (startsMessage ? length : state.length) - state.received;
    const take = Math.min(this.#chunkSize, remaining);
    if (buf.length < p + take) return 0;

    // The chunk is complete: commit its header.
    if (startsMessage) {
      if (fmt === 0) state.timestamp = field;
      else if (fmt === 1 || fmt === 2) {
        state.delta = field;
        state.timestamp += field;
      } else state.timestamp += state.delta; // fmt 3 starting a new message repeats the delta
      state.length = length;
      state.typeId = typeId;
      state.streamId = streamId;
    }
    if (fmt <= 2) state.extended = extended;
    state.known = true;
    this.#streams.set(csid, state);
    if (take > 0) state.parts.push(buf.subarray(p, p + take));
    state.received += take;
    p += take;
    if (state.received >= state.length) {
      const payload = state.parts.length === 1 ? Buffer.from(state.parts[0]) : Buffer.concat(state.parts);
      state.parts = [];
      state.received = 0;
      const message: RtmpMessage = {
        chunkStreamId: csid,
        typeId: state.typeId,
        streamId: state.streamId,
        timestamp: state.timestamp,
        payload,
        endOffset: this.#consumed + p,
      };
      this.#control(message);
      out.push(message);
    }
    return p;
  }

  /** Protocol control messages that change how this direction is read. */
  #control(message: RtmpMessage): void {
    if (message.typeId === MessageType.SetChunkSize && message.payload.length >= 4) {
      const size = message.payload.readUInt32BE(0) & MAX_CHUNK_SIZE;
      if (size < 1) throw new ChunkStreamError('chunk size 0');
      this.#chunkSize = size;
    } else if (message.typeId === MessageType.Abort && message.payload.length >= 4) {
      const state = this.#streams.get(message.payload.readUInt32BE(0));
      if (state) {
        state.parts = [];
        state.received = 0;
      }
    }
  }
}

/** One message as chunks: a full (fmt 0) header, then fmt 3 continuations. */
export function encodeMessage(
  message: { chunkStreamId: number; typeId: number; streamId: number; timestamp: number; payload: Buffer },
  chunkSize: number,
): Buffer {
  const { chunkStreamId: csid, payload } = message;
  const basic = (fmt: number): Buffer =>
    csid < 64
      ? Buffer.from([(fmt << 6) | csid])
      : csid < 320
        ? Buffer.from([fmt << 6, csid - 64])
        : Buffer.from([(fmt << 6) | 1, (csid - 64) & 0xff, (csid - 64) >> 8]);
  const extended = message.timestamp >= 0xffffff;
  const header = Buffer.alloc(11 + (extended ? 4 : 0));
  header.writeUIntBE(extended ? 0xffffff : message.timestamp, 0, 3);
  header.writeUIntBE(payload.length, 3, 3);
  header[6] = message.typeId;
  header.writeUInt32LE(message.streamId, 7);
  if (extended) header.writeUInt32BE(message.timestamp, 11);
  const parts: Buffer[] = [basic(0), header];
  for (let offset = 0; offset < payload.length || offset === 0; offset += chunkSize) {
    if (offset > 0) {
      parts.push(basic(3));
      if (extended) parts.push(header.subarray(11, 15));
    }
    parts.push(payload.subarray(offset, offset + chunkSize));
    if (payload.length === 0) break;
  }
  return Buffer.concat(parts);
}
