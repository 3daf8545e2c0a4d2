/**
 * SRTLA (SRT link aggregation, "srtla2": BELABOX's srtla_send, Moblin, IRL
 * Pro) on the wire, as public sources describe it. A bonding sender spreads
 * one SRT connection's packets over several links (its modems, Wi-Fi, …); the
 * receiver gathers them into one SRT peer. Every datagram is either an SRT
 * packet, forwarded unchanged, or an SRTLA control packet: a 16-bit
 * big-endian type at offset 0 with SRT's control bit set. Pure: no I/O.
 *
 * Registration: REG1 (a 256-byte id the sender made up) → REG2 (the same id,
 * its last 128 bytes replaced by the receiver's: the group's id) → REG2 from
 * every link of the sender → REG3 each. Keepalives are echoed as they came
 * (a sender times its round trip with them); after every 10 SRT data packets
 * on a link, the receiver tells that link which ones it got (ACK).
 */

export const SRTLA = {
  KEEPALIVE: 0x9000,
  ACK: 0x9100,
  REG1: 0x9200,
  REG2: 0x9201,
  REG3: 0x9202,
  REG_ERR: 0x9210,
  REG_NGP: 0x9211,
  REG_NAK: 0x9212,
} as const;

export const SRTLA_ID_BYTES = 256;
export const REG_BYTES = 2 + SRTLA_ID_BYTES;
/** Data packets per link between two SRTLA ACKs. */
export const ACK_EVERY = 10;
/** The extended keepalive (IRL's srtla_send): telemetry after the timestamp, tagged with this magic. */
const KEEPALIVE_MAGIC = 0xc01f;
export const EXTENDED_KEEPALIVE_BYTES = 38;

/** The SRTLA type of a datagram, or undefined for an SRT packet (anything not in SRTLA's 0x9000-0xAFFF control space). */
export function srtlaType(packet: Buffer): number | undefined {
  if (packet.length < 2) return undefined;
  const type = packet.readUInt16BE(0);
  return type >= 0x9000 && type < 0xb000 ? type : undefined;
}

/** An SRT data packet's 31-bit sequence number; undefined for control packets. */
export function srtDataSequence(packet: Buffer): number | undefined {
  if (packet.length < 16 || (packet[0] & 0x80) !== 0) return undefined;
  return packet.readUInt32BE(0);
}

/** SRT control type (ACK is 2, NAK 3, …) of an SRT control packet. */
export function srtControlType(packet: Buffer): number | undefined {
  if (packet.length < 16 || (packet[0] & 0x80) === 0) return undefined;
  return packet.readUInt16BE(0) & 0x7fff;
}

export const SRT_ACK = 2;
export const SRT_NAK = 3;

export function reg(type: typeof SRTLA.REG1 | typeof SRTLA.REG2, id: Buffer): Buffer {
  if (id.length !== SRTLA_ID_BYTES) throw new Error(`an SRTLA id is ${SRTLA_ID_BYTES} bytes`);
  const out = Buffer.alloc(REG_BYTES);
  out.writeUInt16BE(type, 0);
  id.copy(out, 2);
  return out;
}

/** A bare type: REG3, REG_ERR, REG_NGP, a 2-byte keepalive. */
export function bare(type: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(type, 0);
  return out;
}

/** The id a REG1 or REG2 carries (only at exactly their length: anything else is not registration). */
export function regId(packet: Buffer): Buffer | undefined {
  return packet.length === REG_BYTES ? packet.subarray(2) : undefined;
}

/** The receiver's ACK of up to ACK_EVERY data sequence numbers a link carried. */
export function ack(sequences: number[]): Buffer {
  const out = Buffer.alloc(4 + 4 * sequences.length);
  out.writeUInt32BE(SRTLA.ACK * 0x10000, 0);
  sequences.forEach((s, i) => out.writeUInt32BE(s >>> 0, 4 + 4 * i));
  return out;
}

export function ackSequences(packet: Buffer): number[] {
  const out: number[] = [];
  for (let at = 4; at + 4 <= packet.length; at += 4) out.push(packet.readUInt32BE(at));
  return out;
}

/** What a sender tells about its link in an extended keepalive (all optional: plain keepalives carry none). */
export interface LinkReport {
  /** The sender's clock when it sent the keepalive (ms). */
  timestampMs?: number;
  connId?: number;
  window?: number;
  inFlight?: number;
  rttMs?: number;
  nakCount?: number;
  /** Bytes per second the sender put on the link. */
  bitrate?: number;
}

/** A keepalive: 2 bytes (the type), 10 (and a u64 ms timestamp) or 38 (and the link's telemetry). */
export function keepalive(report: LinkReport = {}): Buffer {
  if (report.timestampMs === undefined) return bare(SRTLA.KEEPALIVE);
  const extended = report.rttMs !== undefined;
  const out = Buffer.alloc(extended ? EXTENDED_KEEPALIVE_BYTES : 10);
  out.writeUInt16BE(SRTLA.KEEPALIVE, 0);
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(report.timestampMs))), 2);
  if (extended) {
    out.writeUInt16BE(KEEPALIVE_MAGIC, 10);
    out.writeUInt16BE(1, 12);
    out.writeUInt32BE((report.connId ?? 0) >>> 0, 14);
    out.writeInt32BE(report.window ?? 0, 18);
    out.writeInt32BE(report.inFlight ?? 0, 22);
    out.writeUInt32BE(Math.max(0, Math.round(report.rttMs ?? 0)), 26);
    out.writeUInt32BE((report.nakCount ?? 0) >>> 0, 30);
    out.writeUInt32BE(Math.max(0, Math.round(report.bitrate ?? 0)) >>> 0, 34);
  }
  return out;
}

export function parseKeepalive(packet: Buffer): LinkReport {
  if (packet.length < 10) return {};
  const report: LinkReport = { timestampMs: Number(packet.readBigUInt64BE(2)) };
  if (packet.length >= EXTENDED_KEEPALIVE_BYTES && packet.readUInt16BE(10) === KEEPALIVE_MAGIC && packet.readUInt16BE(12) === 1) {
    report.connId = packet.readUInt32BE(14);
    report.window = packet.readInt32BE(18);
    report.inFlight = packet.readInt32BE(22);
    report.rttMs = packet.readUInt32BE(26);
    report.nakCount = packet.readUInt32BE(30);
    report.bitrate = packet.readUInt32BE(34);
  }
  return report;
}

/** The sequence numbers an SRT NAK reports lost (its loss list: single numbers, or ranges whose first has bit 31 set). */
export function nakLosses(packet: Buffer, limit = 4096): number[] {
  const out: number[] = [];
  for (let at = 16; at + 4 <= packet.length && out.length < limit; at += 4) {
    const word = packet.readUInt32BE(at);
    if (word & 0x80000000) {
      if (at + 8 > packet.length) break;
      const from = word & 0x7fffffff;
      const to = packet.readUInt32BE(at + 4) & 0x7fffffff;
      for (let s = from; s <= to && out.length < limit; s++) out.push(s);
      at += 4;
    } else out.push(word);
  }
  return out;
}

/** The last acknowledged sequence number of an SRT ACK (the next one the receiver expects). */
export function ackedUpTo(packet: Buffer): number | undefined {
  return packet.length >= 20 ? packet.readUInt32BE(16) & 0x7fffffff : undefined;
}

/**
 * A capacity probe (our sender's, seed 000's "available bandwidth"): a
 * keepalive padded to a data packet's size, tagged with its own magic, a
 * train id and its place in the train. A receiver echoes it as it echoes any
 * keepalive (ours and BELABOX's echo the datagram as it came), so a train
 * sent back to back returns spaced by the path's bottleneck. Receivers that
 * read keepalives see a plain one (a timestamp; the magic is not telemetry's).
 */
const PROBE_MAGIC = 0xc0fe;
export const PROBE_BYTES = 1316;

export function capacityProbe(train: number, index: number, timestampMs: number): Buffer {
  const out = Buffer.alloc(PROBE_BYTES);
  out.writeUInt16BE(SRTLA.KEEPALIVE, 0);
  out.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(timestampMs))), 2);
  out.writeUInt16BE(PROBE_MAGIC, 10);
  out.writeUInt16BE(train & 0xffff, 12);
  out.writeUInt16BE(index & 0xffff, 14);
  return out;
}

/** A capacity probe's train and index, or undefined for any other packet (a keepalive, telemetry, data). */
export function parseCapacityProbe(packet: Buffer): { train: number; index: number } | undefined {
  if (packet.length !== PROBE_BYTES || packet.readUInt16BE(0) !== SRTLA.KEEPALIVE || packet.readUInt16BE(10) !== PROBE_MAGIC) return undefined;
  return { train: packet.readUInt16BE(12), index: packet.readUInt16BE(14) };
}
