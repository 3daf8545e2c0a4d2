import { buildIngestArgs } from './ingest-ffmpeg-args';

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
      '-map', '0:a:0', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k', '-application', 'lowdelay',
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
});
