import { buildRtmpOutputArgs, buildSourcePullArgs } from './relay-args';

describe('relay ffmpeg arguments', () => {
  it('pushes FLV from stdin to an RTMP URL without probing or interleave hold', () => {
    expect(buildRtmpOutputArgs('rtmp://h/live/c?key=k')).toEqual([
      '-hide_banner', '-nostdin', '-loglevel', 'info', '-nostats',
      '-probesize', '512', '-analyzeduration', '0', '-fpsprobesize', '0',
      '-f', 'flv', '-i', 'pipe:0', '-c', 'copy', '-map', '0', '-copyts', '-rw_timeout', '5000000',
      '-max_interleave_delta', '1', '-flush_packets', '1',
      '-f', 'flv', '-flvflags', 'no_duration_filesize', 'rtmp://h/live/c?key=k',
    ]);
  });

  it('pulls an RTMP source as FLV on stdout, copying one video and one audio stream', () => {
    expect(buildSourcePullArgs('rtmp://h/live/c__host')).toEqual([
      '-hide_banner', '-nostdin', '-loglevel', 'info', '-nostats',
      '-rw_timeout', '5000000', '-probesize', '65536', '-analyzeduration', '500000',
      '-i', 'rtmp://h/live/c__host',
      '-c', 'copy', '-map', '0:v:0?', '-map', '0:a:0?',
      '-max_interleave_delta', '1', '-flush_packets', '1',
      '-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1',
    ]);
  });
});
