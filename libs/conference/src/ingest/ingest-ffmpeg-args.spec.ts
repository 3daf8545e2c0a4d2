import { buildIngestArgs, buildProbeArgs, canPassThrough, parseProbedVideo } from './ingest-ffmpeg-args';

describe('buildIngestArgs', () => {
  it('builds the exact RTP ingest command', () => {
    expect(
      buildIngestArgs({
        source: 'rtmp://127.0.0.1:1935/ingest/in-1',
        audio: { port: 40001, rtcpPort: 40002, payloadType: 100, ssrc: 1111 },
        video: { port: 40003, rtcpPort: 40004, payloadType: 101, ssrc: 2222 },
      }),
    ).toEqual([
      '-hide_banner', '-nostats', '-loglevel', 'info',
      '-flags', 'low_delay', '-rw_timeout', '5000000',
      '-i', 'rtmp://127.0.0.1:1935/ingest/in-1',
      '-map', '0:a:0', '-af', 'aresample=async=1', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k', '-application', 'lowdelay',
      '-payload_type', '100', '-ssrc', '1111', '-f', 'rtp', 'rtp://127.0.0.1:40001?rtcpport=40002&pkt_size=1200',
      '-map', '0:v:0',
      '-vf', 'scale=w=min(1280\\,iw):h=min(720\\,ih):force_original_aspect_ratio=decrease:force_divisible_by=2',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency',
      '-profile:v', 'baseline', '-level:v', '3.1', '-pix_fmt', 'yuv420p', '-bf', '0',
      '-force_key_frames', 'expr:gte(t,n_forced*1)',
      '-b:v', '1500k', '-maxrate', '1500k', '-bufsize', '1500k',
      '-payload_type', '101', '-ssrc', '2222', '-f', 'rtp', 'rtp://127.0.0.1:40003?rtcpport=40004&pkt_size=1200',
    ]);
  });

  it('probes the pull for as long as it is told (only where the origin sends its cached GOP)', () => {
    const base = { source: 'rtmp://127.0.0.1:1935/ingest/in-1', audio: { port: 1, rtcpPort: 2, payloadType: 100, ssrc: 1 }, video: { port: 3, rtcpPort: 4, payloadType: 101, ssrc: 2 } };
    const short = buildIngestArgs({ ...base, probeMs: 500 });
    expect(short.slice(short.indexOf('-analyzeduration'), short.indexOf('-i') + 1)).toEqual(['-analyzeduration', '500000', '-i']);
    expect(buildIngestArgs(base)).not.toContain('-analyzeduration');
  });

  it('passes H.264 through unchanged when told to, with SPS/PPS in-band', () => {
    const base = { source: 'rtmp://127.0.0.1:1935/ingest/in-1', audio: { port: 1, rtcpPort: 2, payloadType: 100, ssrc: 1 }, video: { port: 3, rtcpPort: 4, payloadType: 101, ssrc: 2 } };
    const args = buildIngestArgs({ ...base, copyVideo: true });
    expect(args.slice(args.indexOf('0:v:0') - 1)).toEqual([
      '-map', '0:v:0', '-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb',
      '-payload_type', '101', '-ssrc', '2', '-f', 'rtp', 'rtp://127.0.0.1:3?rtcpport=4&pkt_size=1200',
    ]);
  });
});

describe('passthrough decision', () => {
  // ffmpeg 5.1's own words about real pushes (x264 ultrafast, x264 veryfast as OBS sends it).
  const baseline = `Input #0, flv, from 'rtmp://127.0.0.1:1935/live/a':
  Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(progressive), 640x360 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr, 1k tbn
  Stream #0:1: Audio: aac (LC), 48000 Hz, stereo, fltp, 96 kb/s
Stream mapping:
  Stream #0:0 -> #0:0 (h264 (native) -> wrapped_avframe (native))
  Stream #0:0: Video: wrapped_avframe, yuv420p(progressive), 640x360 [SAR 1:1 DAR 16:9], q=2-31, 200 kb/s, 25 fps, 25 tbn`;
  const high = baseline.replace('Constrained Baseline', 'High').replace('640x360', '1280x720');

  it('reads the input video stream, not the output', () => {
    expect(parseProbedVideo(baseline)).toEqual({ codec: 'h264', profile: 'Constrained Baseline', pixFmt: 'yuv420p', width: 640, height: 360 });
    expect(parseProbedVideo(high)).toMatchObject({ profile: 'High', width: 1280, height: 720 });
    expect(parseProbedVideo('rtmp://x: Input/output error')).toBeUndefined();
  });

  it('passes through only what the router offers', () => {
    expect(canPassThrough(parseProbedVideo(baseline))).toBe(true);
    expect(canPassThrough(parseProbedVideo(high))).toBe(false);
    expect(canPassThrough({ codec: 'h264', profile: 'Baseline', pixFmt: 'yuv420p', width: 1920, height: 1080 })).toBe(false);
    expect(canPassThrough({ codec: 'h264', profile: 'Constrained Baseline', pixFmt: 'yuv422p', width: 640, height: 360 })).toBe(false);
    expect(canPassThrough({ codec: 'flv1', pixFmt: 'yuv420p', width: 640, height: 360 })).toBe(false);
    expect(canPassThrough(undefined)).toBe(false);
  });

  it('probes with at most one decoded picture', () => {
    expect(buildProbeArgs('rtmp://h/ingest/x', 500)).toEqual([
      '-hide_banner', '-nostdin', '-rw_timeout', '5000000', '-analyzeduration', '500000', '-i', 'rtmp://h/ingest/x', '-map', '0:v:0?', '-frames:v', '1', '-f', 'null', '-',
    ]);
  });
});
