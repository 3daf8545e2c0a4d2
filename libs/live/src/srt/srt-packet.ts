/**
 * The parts of SRT's wire format the SRT ingest needs to route a caller by
 * its stream id (draft-sharabayko-srt §3: the 16-byte header, the handshake
 * control packet and its Stream ID extension), and the SRT Access Control
 * stream id syntax (`#!::r=…,s=…,m=…`). Pure: no I/O.
 *
 * The ingest does not speak SRT itself: Debian's srt-live-transmit does, one
 * per caller, behind a UDP relay (srt-ingest.ts). The relay only reads each
 * caller's handshake to learn where the stream goes, and answers a refused
 * caller with a rejection, so this is all of SRT it must know.
 */

export const SRT_HEADER_BYTES = 16;
/** The handshake's fixed part (Version … Peer IP Address), after the header. */
export const HANDSHAKE_CIF_BYTES = 48;

export const HANDSHAKE_INDUCTION = 1;
export const HANDSHAKE_CONCLUSION = 0xffffffff;
/** Extension types of a HSv5 conclusion. */
const EXT_STREAM_ID = 5;

/** Rejection reasons a listener may answer with (SRT's SRT_REJX_* codes: 1000 + an HTTP-like status). */
export const REJECT = {
  /** Malformed or missing stream id. */
  BAD_REQUEST: 1400,
  /** The key does not open this stream. */
  FORBIDDEN: 1403,
  /** No such stream. */
  NOT_FOUND: 1404,
  /** Only publishing is served. */
  BAD_MODE: 1405,
  /** Too many callers at once. */
  OVERLOAD: 1503,
} as const;

export interface SrtHandshake {
  version: number;
  /** INDUCTION, CONCLUSION, or another value (a rejection code, a rendezvous step). */
  handshakeType: number;
  /** The sender's own socket id. */
  socketId: number;
  synCookie: number;
  /** The Stream ID extension of a HSv5 conclusion, decoded. */
  streamId?: string;
}

/** True for an SRT control packet (the F bit). */
export function isControl(packet: Buffer): boolean {
  return packet.length >= SRT_HEADER_BYTES && (packet[0] & 0x80) !== 0;
}

/** Control type 0 (handshake) packets only; anything else (data, other control, malformed) is undefined. */
export function parseHandshake(packet: Buffer): SrtHandshake | undefined {
  if (!isControl(packet) || (packet.readUInt16BE(0) & 0x7fff) !== 0) return undefined;
  if (packet.length < SRT_HEADER_BYTES + HANDSHAKE_CIF_BYTES) return undefined;
  const cif = SRT_HEADER_BYTES;
  const handshake: SrtHandshake = {
    version: packet.readUInt32BE(cif),
    handshakeType: packet.readUInt32BE(cif + 20),
    socketId: packet.readUInt32BE(cif + 24),
    synCookie: packet.readUInt32BE(cif + 28),
  };
  // Extensions follow the fixed part: type (16), length in 4-byte words (16), contents.
  let at = cif + HANDSHAKE_CIF_BYTES;
  while (at + 4 <= packet.length) {
    const type = packet.readUInt16BE(at);
    const bytes = packet.readUInt16BE(at + 2) * 4;
    const start = at + 4;
    if (start + bytes > packet.length) return undefined;
    if (type === EXT_STREAM_ID) handshake.streamId = decodeStreamIdWords(packet.subarray(start, start + bytes));
    at = start + bytes;
  }
  return handshake;
}

/**
 * libsrt writes the stream id as 32-bit words in host order turned to network
 * order, so on the wire each group of four characters comes reversed; the
 * last group is padded with zero bytes.
 */
export function decodeStreamIdWords(contents: Buffer): string {
  const bytes = Buffer.alloc(contents.length);
  for (let i = 0; i + 4 <= contents.length; i += 4) {
    bytes[i] = contents[i + 3];
    bytes[i + 1] = contents[i + 2];
    bytes[i + 2] = contents[i + 1];
    bytes[i + 3] = contents[i];
  }
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

/** The inverse of decodeStreamIdWords (for tests and for building a caller's packet). */
export function encodeStreamIdWords(streamId: string): Buffer {
  const raw = Buffer.from(streamId, 'utf8');
  const padded = Buffer.alloc(Math.ceil(raw.length / 4) * 4);
  raw.copy(padded);
  const out = Buffer.alloc(padded.length);
  for (let i = 0; i < padded.length; i += 4) {
    out[i] = padded[i + 3];
    out[i + 1] = padded[i + 2];
    out[i + 2] = padded[i + 1];
    out[i + 3] = padded[i];
  }
  return out;
}

/**
 * A listener's answer refusing a caller's conclusion: the caller's handshake,
 * addressed to the caller's socket, with the rejection reason as its
 * handshake type and no extensions (libsrt then reports the reason and gives up).
 */
export function buildRejection(conclusion: Buffer, reason: number): Buffer {
  const caller = parseHandshake(conclusion);
  if (!caller) throw new Error('not a handshake');
  const out = Buffer.from(conclusion.subarray(0, SRT_HEADER_BYTES + HANDSHAKE_CIF_BYTES));
  out.writeUInt32BE(caller.socketId, 12); // destination socket id
  out.writeUInt32BE(reason >>> 0, SRT_HEADER_BYTES + 20);
  out.writeUInt32BE(0, SRT_HEADER_BYTES + 24); // a refusal has no socket of its own
  return out;
}

/** What a caller asks for in its stream id (SRT Access Control: `#!::` then `key=value` pairs). */
export interface StreamRequest {
  /** `r`: the resource, here `<app>/<stream>`. */
  resource: string;
  /** `s`: the session id, here the stream's publish key. */
  key?: string;
  /** `m`: `publish` (default) or another mode. */
  mode: string;
}

/**
 * Parses `#!::r=live/abc__host,s=KEY,m=publish`; undefined when it is not that
 * syntax or names no resource. A caller that sends its stream id still
 * URL-encoded (ffmpeg passes a URL's `streamid=%23!%3A%3A…` on as it is) is
 * understood too.
 */
export function parseStreamId(streamId: string): StreamRequest | undefined {
  if (/^%23/i.test(streamId)) {
    try {
      streamId = decodeURIComponent(streamId);
    } catch {
      return undefined;
    }
  }
  if (!streamId.startsWith('#!::')) return undefined;
  const fields = new Map<string, string>();
  for (const pair of streamId.slice(4).split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    fields.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const resource = fields.get('r');
  if (!resource) return undefined;
  return { resource, key: fields.get('s'), mode: fields.get('m') ?? 'publish' };
}

/** The stream id a publisher of `<app>/<stream>` with `key` sends. */
export function formatStreamId(app: string, stream: string, key: string): string {
  return `#!::r=${app}/${stream},s=${key},m=publish`;
}

/** The URL a publisher gives its SRT encoder (ffmpeg, OBS and hardware encoders take the stream id in it). */
export function srtPublishUrl(host: string, port: number, app: string, stream: string, key: string): string {
  return `srt://${host}:${port}?streamid=${formatStreamId(app, stream, key)}`;
}
