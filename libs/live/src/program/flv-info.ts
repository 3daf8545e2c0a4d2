import { FLV_AUDIO, FlvTag } from './flv';

/** What a channel's source looks like, so a mix that replaces it can match it. */
export interface SourceInfo {
  width?: number;
  height?: number;
  fps?: number;
  sampleRate?: number;
  channels?: number;
}

/**
 * Reads a number property of an onMetaData script tag (AMF0: the key as a
 * 16-bit length + name, then type 0 and a big-endian double). Pure; only the
 * few numeric keys we need, so no AMF library.
 */
export function metadataNumber(tag: FlvTag, key: string): number | undefined {
  const needle = Buffer.concat([Buffer.from([0, key.length]), Buffer.from(key, 'latin1'), Buffer.from([0])]);
  const at = tag.raw.indexOf(needle, 11);
  if (at < 0 || at + needle.length + 8 > tag.raw.length - 4) return undefined;
  const value = tag.raw.readDoubleBE(at + needle.length);
  return Number.isFinite(value) ? value : undefined;
}

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Sample rate and channels from an AAC sequence header (AudioSpecificConfig). */
export function aacConfigInfo(tag: FlvTag): { sampleRate: number; channels: number } | undefined {
  if (tag.type !== FLV_AUDIO || tag.raw[11] >> 4 !== 10 || tag.raw[12] !== 0 || tag.raw.length < 11 + 4 + 4) return undefined;
  const asc = (tag.raw[13] << 8) | tag.raw[14];
  const sampleRate = AAC_RATES[(asc >> 7) & 0x0f];
  const channels = (asc >> 3) & 0x0f;
  return sampleRate && channels ? { sampleRate, channels } : undefined;
}
