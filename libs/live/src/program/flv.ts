/**
 * FLV tag stream handling for the output stage: split an encoder's FLV byte
 * stream into tags, keep what a late-joining output needs (header, metadata,
 * codec configs, the current GOP), and rewrite tag timestamps so that a
 * restarted encoder continues the same timeline. Pure.
 *
 * Hand-rolled on purpose: FLV's tag framing is 15 bytes of header per tag, and
 * the npm FLV packages are demuxers/players that decode payloads we only pass
 * through.
 */
export const FLV_AUDIO = 8;
export const FLV_VIDEO = 9;
export const FLV_SCRIPT = 18;

export interface FlvTag {
  type: number;
  /** Milliseconds. */
  timestamp: number;
  /** The whole tag: 11-byte header, payload, 4-byte previous-tag-size. */
  raw: Buffer;
}

const FLV_HEADER_BYTES = 9 + 4;

/** AVC sequence header (SPS/PPS) or AAC AudioSpecificConfig. */
export const isCodecConfig = (tag: FlvTag) =>
  (tag.type === FLV_VIDEO && (tag.raw[11] & 0x0f) === 7 && tag.raw[12] === 0) || (tag.type === FLV_AUDIO && tag.raw[11] >> 4 === 10 && tag.raw[12] === 0);
/**
 * A key video frame carrying picture data: for AVC, a NALU packet (type 1), not
 * the codec config (0) nor the end-of-sequence marker (2) an encoder writes when
 * it stops, which also carries the key-frame flag.
 */
export const isVideoKeyframe = (tag: FlvTag) =>
  tag.type === FLV_VIDEO && tag.raw[11] >> 4 === 1 && ((tag.raw[11] & 0x0f) !== 7 || tag.raw[12] === 1);

/** Splits an FLV byte stream into its file header and tags, across arbitrary chunk boundaries. */
export class FlvTagReader {
  #buffer: Buffer = Buffer.alloc(0);
  #header: Buffer | undefined;

  /** The 9-byte header plus PreviousTagSize0, once read. */
  get header(): Buffer | undefined {
    return this.#header;
  }

  push(chunk: Buffer): FlvTag[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const tags: FlvTag[] = [];
    let offset = 0;
    if (!this.#header) {
      if (this.#buffer.length < FLV_HEADER_BYTES) return tags;
      if (this.#buffer.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV stream');
      this.#header = Buffer.from(this.#buffer.subarray(0, FLV_HEADER_BYTES));
      offset = FLV_HEADER_BYTES;
    }
    while (this.#buffer.length - offset >= 11) {
      const size = this.#buffer.readUIntBE(offset + 1, 3);
      const total = 11 + size + 4;
      if (this.#buffer.length - offset < total) break;
      const raw = Buffer.from(this.#buffer.subarray(offset, offset + total));
      tags.push({ type: raw[0] & 0x1f, timestamp: readTimestamp(raw), raw });
      offset += total;
    }
    this.#buffer = this.#buffer.subarray(offset);
    return tags;
  }
}

function readTimestamp(raw: Buffer): number {
  return (raw[7] << 24) | raw.readUIntBE(4, 3);
}

/** A copy of the tag with another timestamp. */
export function withTimestamp(tag: FlvTag, timestamp: number): FlvTag {
  const raw = Buffer.from(tag.raw);
  const ts = Math.max(0, Math.round(timestamp)) >>> 0;
  raw.writeUIntBE(ts & 0xffffff, 4, 3);
  raw[7] = (ts >>> 24) & 0xff;
  return { type: tag.type, timestamp: ts, raw };
}

/**
 * Keeps one continuous timeline across encoder sessions: the first tag of a new
 * session is placed one `gapMs` after the last tag written, and the rest of the
 * session keeps its own spacing.
 */
export class TimelineStitcher {
  #offset = 0;
  #last = -1;
  #sessionStart: number | undefined;

  constructor(private readonly gapMs = 40) {}

  newSession(): void {
    this.#sessionStart = undefined;
  }

  place(tag: FlvTag): FlvTag {
    if (this.#sessionStart === undefined) {
      this.#sessionStart = tag.timestamp;
      this.#offset = this.#last < 0 ? 0 : this.#last + this.gapMs - tag.timestamp;
    }
    const placed = withTimestamp(tag, Math.max(tag.timestamp + this.#offset, this.#last < 0 ? 0 : this.#last));
    this.#last = placed.timestamp;
    return placed;
  }
}

/**
 * What a new output must receive before live tags: the FLV header, the latest
 * metadata and codec configs, and the tags since the latest keyframe (so its
 * first video frame decodes at once, like an origin's GOP cache).
 */
export class GopCache {
  #header: Buffer | undefined;
  #metadata: FlvTag | undefined;
  readonly #configs = new Map<number, FlvTag>();
  #gop: FlvTag[] = [];

  setHeader(header: Buffer): void {
    this.#header = header;
  }

  add(tag: FlvTag): void {
    if (tag.type === FLV_SCRIPT) this.#metadata = tag;
    else if (isCodecConfig(tag)) this.#configs.set(tag.type, tag);
    else if (isVideoKeyframe(tag)) this.#gop = [tag];
    else if (this.#gop.length) this.#gop.push(tag);
  }

  /** Null until a header, both codec configs and a keyframe were seen. */
  snapshot(): Buffer | null {
    if (!this.#header || !this.#configs.has(FLV_VIDEO) || this.#gop.length === 0) return null;
    const parts = [this.#header];
    if (this.#metadata) parts.push(this.#metadata.raw);
    for (const config of this.#configs.values()) parts.push(withTimestamp(config, this.#gop[0].timestamp).raw);
    for (const tag of this.#gop) parts.push(tag.raw);
    return Buffer.concat(parts);
  }
}
