import { HlsSegment, HlsSnapshot } from './hls-segmenter';

/** How the playlists name the channel's resources (relative to the playlist). */
export interface HlsUris {
  init(id: number): string;
  segment(msn: number): string;
  part(msn: number, index: number): string;
}

export const HLS_URIS: HlsUris = {
  init: (id) => `init-${id}.mp4`,
  segment: (msn) => `seg-${msn}.m4s`,
  part: (msn, index) => `part-${msn}.${index}.m4s`,
};

/** Reads a resource name back: the inverse of HLS_URIS. */
export function parseHlsUri(name: string): { kind: 'init'; id: number } | { kind: 'segment'; msn: number } | { kind: 'part'; msn: number; index: number } | undefined {
  let m = /^init-(\d{1,9})\.mp4$/.exec(name);
  if (m) return { kind: 'init', id: Number(m[1]) };
  m = /^seg-(\d{1,12})\.m4s$/.exec(name);
  if (m) return { kind: 'segment', msn: Number(m[1]) };
  m = /^part-(\d{1,12})\.(\d{1,4})\.m4s$/.exec(name);
  if (m) return { kind: 'part', msn: Number(m[1]), index: Number(m[2]) };
  return undefined;
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

export interface MediaPlaylistOptions {
  /** LL-HLS: parts, server control and a preload hint. Without it the plain form (complete segments only) for any HLS reader. */
  lowLatency: boolean;
  uris?: HlsUris;
}

/**
 * The channel's media playlist. Both forms list the same segments; the
 * low-latency one adds the parts of the newest segments and of the one being
 * cut, blocking reload and the hint of the next part (RFC 8216bis, version 9).
 * A segment whose init differs from the one before it gets a new EXT-X-MAP;
 * a discontinuity (codec configs changed) its EXT-X-DISCONTINUITY. Pure.
 */
export function mediaPlaylist(s: HlsSnapshot, o: MediaPlaylistOptions): string {
  const uris = o.uris ?? HLS_URIS;
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${o.lowLatency ? 9 : 7}`, `#EXT-X-TARGETDURATION:${s.targetDuration}`];
  if (o.lowLatency) {
    lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${seconds(s.partTargetMs * 3)}`);
    lines.push(`#EXT-X-PART-INF:PART-TARGET=${seconds(s.partTargetMs)}`);
  }
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${s.mediaSequence}`, `#EXT-X-DISCONTINUITY-SEQUENCE:${s.discontinuitySequence}`, '#EXT-X-INDEPENDENT-SEGMENTS');
  const listed: HlsSegment[] = o.lowLatency && s.open && s.open.parts.length ? [...s.segments, s.open] : s.segments;
  const withParts = new Set(o.lowLatency ? listed.slice(-(s.partSegments + (listed.at(-1) === s.open ? 1 : 0))).map((seg) => seg.msn) : []);
  let initId: number | undefined;
  for (const seg of listed) {
    if (seg.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (seg.initId !== initId) {
      lines.push(`#EXT-X-MAP:URI="${uris.init(seg.initId)}"`);
      initId = seg.initId;
    }
    if (seg.programDateTime !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(seg.programDateTime).toISOString()}`);
    if (withParts.has(seg.msn)) {
      for (const part of seg.parts) {
        lines.push(`#EXT-X-PART:DURATION=${seconds(part.durationMs)},URI="${uris.part(seg.msn, part.index)}"${part.independent ? ',INDEPENDENT=YES' : ''}`);
      }
    }
    if (seg.durationMs !== undefined) lines.push(`#EXTINF:${seconds(seg.durationMs)},`, uris.segment(seg.msn));
  }
  if (o.lowLatency && listed.length) {
    const next = s.open ? { msn: s.open.msn, index: s.open.parts.length } : { msn: listed.at(-1)!.msn + 1, index: 0 };
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${uris.part(next.msn, next.index)}"`);
  }
  return `${lines.join('\n')}\n`;
}

/** Peak bit rate of the complete segments (bits per second), for a multivariant playlist's BANDWIDTH. */
export function peakBandwidth(s: HlsSnapshot): number {
  let peak = 0;
  for (const seg of s.segments) if (seg.data && seg.durationMs) peak = Math.max(peak, (seg.data.length * 8 * 1000) / seg.durationMs);
  return Math.ceil(peak);
}

/**
 * A multivariant playlist with the one rendition (the program is not
 * re-encoded, so there is no ladder): CODECS and RESOLUTION let a player
 * check it can play it before loading media. Undefined until there is an init.
 */
export function multivariantPlaylist(s: HlsSnapshot, mediaUri: string): string | undefined {
  if (!s.init) return undefined;
  const { video, audio } = s.init;
  const codecs = [video.codec, ...(audio ? [audio.codec] : [])].join(',');
  const bandwidth = Math.max(peakBandwidth(s), 1);
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-STREAM-INF:BANDWIDTH=${bandwidth},CODECS="${codecs}",RESOLUTION=${video.width}x${video.height}`,
    mediaUri,
    '',
  ].join('\n');
}
