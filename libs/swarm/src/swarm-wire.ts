/**
 * What viewers send each other over an RTCDataChannel (seed 002's peers).
 * Binary, one message per data channel message:
 *
 *   0xB5 (magic) · 1 (version) · type · block number (u32, big-endian) · …
 *
 *   type 1 BLOCK  · total bytes (u32) · offset (u32) · the bytes at offset
 *   type 2 WANT   (asks the peer for that block)
 *   type 3 NONE   (the peer does not have it, or may not send it now)
 *
 * A block travels in chunks of at most CHUNK_BYTES, in order (the channel is
 * ordered and reliable). Nothing a peer sends is trusted: `decodeMessage`
 * never throws and returns undefined for anything malformed, the assembler
 * bounds what it holds, and a complete block is only used once its SHA-256
 * matches the one the origin published. Pure (no Node or DOM APIs), shared
 * by the web app and the tests.
 */
export const WIRE_MAGIC = 0xb5;
export const WIRE_VERSION = 1;
export const CHUNK_BYTES = 16 * 1024;
/** No block is larger (a part of a few hundred ms, even at a high bit rate, is far smaller). */
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024;
const HEADER = 7;
const BLOCK_HEADER = HEADER + 8;

export type WireMessage =
  | { type: 'block'; n: number; total: number; offset: number; bytes: Uint8Array }
  | { type: 'want'; n: number }
  | { type: 'none'; n: number };

const TYPES = { block: 1, want: 2, none: 3 } as const;

function header(type: number, n: number, extra: number): { out: Uint8Array; view: DataView } {
  const out = new Uint8Array(HEADER + extra);
  const view = new DataView(out.buffer);
  out[0] = WIRE_MAGIC;
  out[1] = WIRE_VERSION;
  out[2] = type;
  view.setUint32(3, n);
  return { out, view };
}

export function encodeWant(n: number): Uint8Array {
  return header(TYPES.want, n, 0).out;
}

export function encodeNone(n: number): Uint8Array {
  return header(TYPES.none, n, 0).out;
}

/** A block as its chunks, each one data channel message. */
export function encodeBlock(n: number, data: Uint8Array): Uint8Array[] {
  if (data.length === 0 || data.length > MAX_BLOCK_BYTES) throw new RangeError(`block ${n}: ${data.length} bytes is not a block's size`);
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) {
    const bytes = data.subarray(offset, Math.min(data.length, offset + CHUNK_BYTES));
    const { out, view } = header(TYPES.block, n, 8 + bytes.length);
    view.setUint32(HEADER, data.length);
    view.setUint32(HEADER + 4, offset);
    out.set(bytes, BLOCK_HEADER);
    chunks.push(out);
  }
  return chunks;
}

/** One data channel message, or undefined when it is not a well-formed one (never throws). */
export function decodeMessage(input: unknown): WireMessage | undefined {
  let buf: Uint8Array;
  if (input instanceof Uint8Array) buf = input;
  else if (input instanceof ArrayBuffer) buf = new Uint8Array(input);
  else return undefined;
  if (buf.length < HEADER || buf[0] !== WIRE_MAGIC || buf[1] !== WIRE_VERSION) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getUint32(3);
  switch (buf[2]) {
    case TYPES.want:
      return buf.length === HEADER ? { type: 'want', n } : undefined;
    case TYPES.none:
      return buf.length === HEADER ? { type: 'none', n } : undefined;
    case TYPES.block: {
      if (buf.length <= BLOCK_HEADER || buf.length > BLOCK_HEADER + CHUNK_BYTES) return undefined;
      const total = view.getUint32(HEADER);
      const offset = view.getUint32(HEADER + 4);
      const bytes = buf.subarray(BLOCK_HEADER);
      if (total === 0 || total > MAX_BLOCK_BYTES || offset % CHUNK_BYTES !== 0 || offset + bytes.length > total) return undefined;
      // Every chunk but the last is full.
      if (offset + bytes.length < total && bytes.length !== CHUNK_BYTES) return undefined;
      return { type: 'block', n, total, offset, bytes };
    }
    default:
      return undefined;
  }
}

/**
 * Puts one peer's chunks back together. Chunks of a block come in order; one
 * out of order, or of another size than the block began with, drops that
 * block. At most `maxPending` blocks are in progress (the oldest is dropped).
 */
export class BlockAssembler {
  readonly #pending = new Map<number, { data: Uint8Array; received: number }>();

  constructor(private readonly maxPending = 16) {}

  /** The complete block, once its last chunk arrived. */
  add(chunk: Extract<WireMessage, { type: 'block' }>): { n: number; data: Uint8Array } | undefined {
    let entry = this.#pending.get(chunk.n);
    if (chunk.offset === 0) {
      entry = { data: new Uint8Array(chunk.total), received: 0 };
      this.#pending.delete(chunk.n);
      this.#pending.set(chunk.n, entry);
      while (this.#pending.size > this.maxPending) this.#pending.delete(this.#pending.keys().next().value as number);
    }
    if (!entry || entry.data.length !== chunk.total || entry.received !== chunk.offset) {
      this.#pending.delete(chunk.n);
      return undefined;
    }
    entry.data.set(chunk.bytes, chunk.offset);
    entry.received += chunk.bytes.length;
    if (entry.received < chunk.total) return undefined;
    this.#pending.delete(chunk.n);
    return { n: chunk.n, data: entry.data };
  }

  get pending(): number {
    return this.#pending.size;
  }
}
