/** Builders of minimal FLV tags for specs (payloads carry only what the classifiers read). */
import { FLV_AUDIO, FLV_VIDEO, FlvTag } from '../flv';

export const FLV_HEADER = Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);

export function rawTag(type: number, timestamp: number, payload: number[]): Buffer {
  const size = payload.length;
  const b = Buffer.alloc(11 + size + 4);
  b[0] = type;
  b.writeUIntBE(size, 1, 3);
  b.writeUIntBE(timestamp & 0xffffff, 4, 3);
  b[7] = timestamp >>> 24;
  Buffer.from(payload).copy(b, 11);
  b.writeUInt32BE(11 + size, 11 + size);
  return b;
}

export const avcConfig = (ts: number, marker = 0) => rawTag(FLV_VIDEO, ts, [0x17, 0, 0, 0, 0, 1, marker]);
export const keyframe = (ts: number, marker = 0) => rawTag(FLV_VIDEO, ts, [0x17, 1, 0, 0, 0, 9, marker]);
export const interframe = (ts: number, marker = 0) => rawTag(FLV_VIDEO, ts, [0x27, 1, 0, 0, 0, 8, marker]);
export const aacConfig = (ts: number, marker = 0) => rawTag(FLV_AUDIO, ts, [0xaf, 0, 0x12, 0x10, marker]);
export const aac = (ts: number, marker = 0) => rawTag(FLV_AUDIO, ts, [0xaf, 1, 0x21, marker]);

/** As FlvTagReader would deliver it. */
export const asTag = (raw: Buffer): FlvTag => ({ type: raw[0] & 0x1f, timestamp: (raw[7] << 24) | raw.readUIntBE(4, 3), raw });
/** The marker byte the builders append (tells which feed a tag came from). */
export const markerOf = (tag: FlvTag): number => tag.raw[tag.raw.length - 5];
