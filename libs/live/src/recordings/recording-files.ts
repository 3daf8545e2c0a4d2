import { join } from 'node:path';

/**
 * Where a recording's files live and what they are called: one folder per
 * recording under DATA_DIR/recordings. `fragmented.mp4` is written as the
 * recording runs (init, then fragments appended and flushed: it plays up to
 * the last whole fragment after any crash) and is the HLS playlist's media;
 * `recording.mp4` is the normal MP4 made from it at the end, written under a
 * temporary name first so a file by that name is always complete.
 */
export const RECORDING_FILES = {
  fragmented: 'fragmented.mp4',
  mp4: 'recording.mp4',
  mp4Partial: 'recording.mp4.part',
  playlist: 'index.m3u8',
} as const;

export type RecordingFileName = (typeof RECORDING_FILES)[keyof typeof RECORDING_FILES];

/** Names a client may download (the partial MP4 is not one). */
export const DOWNLOADABLE = new Set<string>([RECORDING_FILES.fragmented, RECORDING_FILES.mp4, RECORDING_FILES.playlist]);

const RECORDING_ID = /^rec_[A-Za-z0-9]{1,32}$/;

export const isRecordingId = (id: string) => RECORDING_ID.test(id);

/** The recording's folder; refuses anything that is not a recording id (no path tricks). */
export function recordingDir(root: string, id: string): string {
  if (!isRecordingId(id)) throw new Error(`not a recording id: ${id}`);
  return join(root, id);
}

/** ffmpeg arguments that turn the fragmented file into a normal MP4 (moov first), copying every stream. */
export function finaliseArgs(fragmented: string, output: string): string[] {
  return ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', fragmented, '-map', '0', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', output];
}
