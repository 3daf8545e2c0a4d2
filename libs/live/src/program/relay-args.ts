/**
 * ffmpeg argument lists for the gateway's FLV relays: pushing an FLV tag
 * stream to an RTMP URL, and pulling an RTMP stream as FLV tags. Pure; the
 * specs assert the exact arrays.
 */

/** Copies the FLV on stdin to `url` (an output of a mix task, or a channel's program). */
export function buildRtmpOutputArgs(url: string): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'info', '-nostats',
    // The stream opens with both codec configs (GOP cache), so no long probe is needed.
    // (Never `-fflags nobuffer` on inputs: it discards the packets read while probing,
    // which here is the first keyframe.)
    '-probesize', '512', '-analyzeduration', '0', '-fpsprobesize', '0',
    '-f', 'flv', '-i', 'pipe:0',
    '-c', 'copy', '-map', '0',
    // Timestamps as given: a relay that restarts, or a channel's program that comes back on
    // air, carries on the timeline players still connected to the origin already have.
    '-copyts',
    '-rw_timeout', '5000000',
    // The input is already in timestamp order: write each packet at once instead of
    // holding it for interleaving (that held the first media back ~0.7 s), and flush it.
    '-max_interleave_delta', '1', '-flush_packets', '1',
    '-f', 'flv', '-flvflags', 'no_duration_filesize', url,
  ];
}

/**
 * Reads an RTMP stream (a host's source) and writes it as FLV on stdout,
 * untouched (`-c copy`). A stalled source ends the process after 5 s.
 */
export function buildSourcePullArgs(url: string): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'info', '-nostats',
    '-rw_timeout', '5000000',
    // Enough probing to see both streams of a camera/OBS push (the origin sends its
    // metadata, codec configs and GOP first), bounded so going live stays quick.
    '-probesize', '65536', '-analyzeduration', '500000',
    '-i', url,
    '-c', 'copy', '-map', '0:v:0?', '-map', '0:a:0?',
    '-max_interleave_delta', '1', '-flush_packets', '1',
    '-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1',
  ];
}
