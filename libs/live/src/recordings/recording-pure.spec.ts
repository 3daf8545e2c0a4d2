import { Fmp4Index } from './fmp4-index';
import { finaliseArgs, isRecordingId, recordingDir } from './recording-files';
import { recordingPlaylist } from './recording-playlist';
import { nextRecordingState } from './recording-state';

describe('recording states', () => {
  it('ends once, from recording: stop → done, fail → failed, recover → interrupted', () => {
    expect(nextRecordingState('recording', { kind: 'stop' })).toBe('done');
    expect(nextRecordingState('recording', { kind: 'fail', reason: 'ENOSPC' })).toBe('failed');
    expect(nextRecordingState('recording', { kind: 'recover' })).toBe('interrupted');
    for (const ended of ['done', 'failed', 'interrupted'] as const) {
      expect(nextRecordingState(ended, { kind: 'stop' })).toBeUndefined();
      expect(nextRecordingState(ended, { kind: 'fail', reason: 'x' })).toBeUndefined();
      expect(nextRecordingState(ended, { kind: 'recover' })).toBeUndefined();
    }
  });
});

describe('recording files', () => {
  it('one folder per recording id, nothing else', () => {
    expect(recordingDir('/data/recordings', 'rec_abc123')).toBe('/data/recordings/rec_abc123');
    expect(isRecordingId('rec_abc123')).toBe(true);
    for (const bad of ['../etc', 'rec_', 'rec_a/b', 'rec_a.b', 'ch_abc']) {
      expect(isRecordingId(bad)).toBe(false);
      expect(() => recordingDir('/data/recordings', bad)).toThrow();
    }
  });

  it('finalises by copying every stream into an MP4 with its moov first', () => {
    expect(finaliseArgs('/r/fragmented.mp4', '/r/recording.mp4.part')).toEqual([
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
      '-i', '/r/fragmented.mp4',
      '-map', '0', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', '/r/recording.mp4.part',
    ]);
  });
});

describe('recordingPlaylist', () => {
  // Init 0 at 0 (800 bytes), 1 s keyframe fragments of 1000 bytes (two halves each), a new init at 6.
  const fragment = (n: number, offset: number, init: number, independent: boolean) => ({ offset, length: 1000, init, startMs: n * 500, durationMs: 500, independent });
  const index: Fmp4Index = {
    inits: [
      { offset: 0, length: 800 },
      { offset: 6800, length: 900 },
    ],
    fragments: [
      fragment(0, 800, 0, true),
      fragment(1, 1800, 0, false),
      fragment(2, 2800, 0, true),
      fragment(3, 3800, 0, false),
      fragment(4, 4800, 0, true),
      fragment(5, 5800, 0, false),
      fragment(6, 7700, 1, true),
      fragment(7, 8700, 1, false),
    ],
    wholeLength: 9700,
  };

  it('lists byte ranges of the one file, segments from keyframe fragments, a new map and a discontinuity per init', () => {
    expect(recordingPlaylist(index, { mediaUri: 'fragmented.mp4', segmentTargetMs: 2000, ended: true })).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-PLAYLIST-TYPE:VOD',
        '#EXT-X-MEDIA-SEQUENCE:0',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MAP:URI="fragmented.mp4",BYTERANGE="800@0"',
        '#EXTINF:2.000,',
        '#EXT-X-BYTERANGE:4000@800',
        'fragmented.mp4',
        '#EXTINF:1.000,',
        '#EXT-X-BYTERANGE:2000@4800',
        'fragmented.mp4',
        '#EXT-X-DISCONTINUITY',
        '#EXT-X-MAP:URI="fragmented.mp4",BYTERANGE="900@6800"',
        '#EXTINF:1.000,',
        '#EXT-X-BYTERANGE:2000@7700',
        'fragmented.mp4',
        '#EXT-X-ENDLIST',
        '',
      ].join('\n'),
    );
  });

  it('is an EVENT playlist without an end while recording, and a bare one before any media', () => {
    const live = recordingPlaylist(index, { mediaUri: 'fragmented.mp4', ended: false });
    expect(live).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
    expect(live).not.toContain('#EXT-X-ENDLIST');
    expect(recordingPlaylist({ inits: [], fragments: [], wholeLength: 0 }, { mediaUri: 'f.mp4', ended: false })).toBe(
      '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n',
    );
  });
});
