import { Fmp4Index, IndexedFragment } from './fmp4-index';

export interface RecordingPlaylistOptions {
  /** URI of the fragmented file, relative to the playlist. */
  mediaUri: string;
  /** A segment ends at the first keyframe fragment once it is this long (ms). Default 4000. */
  segmentTargetMs?: number;
  /** The recording has ended: a VOD playlist with EXT-X-ENDLIST; otherwise an EVENT playlist that grows. */
  ended: boolean;
}

interface Segment {
  init: number;
  fragments: IndexedFragment[];
  durationMs: number;
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/**
 * A recording as HLS, by byte ranges into its one fragmented MP4 (RFC 8216
 * 4.3.2.2 and 4.3.2.5): no second copy of the media on disk. Segments start at
 * a fragment that begins with a keyframe; a new init (the codec configs
 * changed) starts a segment with its own EXT-X-MAP and a discontinuity. Pure.
 */
export function recordingPlaylist(index: Fmp4Index, o: RecordingPlaylistOptions): string {
  const target = o.segmentTargetMs ?? 4000;
  const segments: Segment[] = [];
  for (const fragment of index.fragments) {
    const open = segments[segments.length - 1];
    const cut = !open || open.init !== fragment.init || (fragment.independent && open.durationMs >= target);
    if (cut) segments.push({ init: fragment.init, fragments: [fragment], durationMs: fragment.durationMs });
    else {
      open.fragments.push(fragment);
      open.durationMs += fragment.durationMs;
    }
  }
  const targetDuration = Math.max(1, ...segments.map((s) => Math.ceil(s.durationMs / 1000)));
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${targetDuration}`,
    `#EXT-X-PLAYLIST-TYPE:${o.ended ? 'VOD' : 'EVENT'}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-INDEPENDENT-SEGMENTS',
  ];
  let init: number | undefined;
  for (const segment of segments) {
    if (segment.init !== init) {
      if (init !== undefined) lines.push('#EXT-X-DISCONTINUITY');
      const map = index.inits[segment.init];
      lines.push(`#EXT-X-MAP:URI="${o.mediaUri}",BYTERANGE="${map.length}@${map.offset}"`);
      init = segment.init;
    }
    const first = segment.fragments[0];
    const last = segment.fragments[segment.fragments.length - 1];
    lines.push(`#EXTINF:${seconds(segment.durationMs)},`, `#EXT-X-BYTERANGE:${last.offset + last.length - first.offset}@${first.offset}`, o.mediaUri);
  }
  if (o.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
