import { buildDecoderArgs, buildEncoderArgs, parsePictureTimestamp, PICTURE_TIMESTAMPS_FILTER, buildPackagerArgs, buildSdp, buildStillArgs, fastStartKeyframes, fitFilter } from './ffmpeg-args';

describe('mixer ffmpeg arguments', () => {
  const sdp = buildSdp([
    { kind: 'audio', port: 50000, payloadType: 100, codecName: 'opus', clockRate: 48000, channels: 2 },
    { kind: 'video', port: 50002, payloadType: 101, codecName: 'H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
  ]);

  it('describes the RTP streams in SDP', () => {
    expect(sdp.split('\r\n')).toEqual([
      'v=0',
      'o=- 0 0 IN IP4 127.0.0.1',
      's=mix-input',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'm=audio 50000 RTP/AVP 100',
      'a=rtpmap:100 opus/48000/2',
      'a=recvonly',
      'm=video 50002 RTP/AVP 101',
      'a=rtpmap:101 H264/90000',
      'a=fmtp:101 packetization-mode=1;profile-level-id=42e01f',
      'a=recvonly',
      '',
    ]);
  });

  it('builds the decoder command: one input per kind, video first, each with its own reorder wait', () => {
    const videoSdp = buildSdp([{ kind: 'video', port: 40002, payloadType: 101, codecName: 'H264', clockRate: 90000 }]);
    const audioSdp = buildSdp([{ kind: 'audio', port: 40000, payloadType: 100, codecName: 'opus', clockRate: 48000, channels: 2 }]);
    const input = (s: string, waitUs: string, probeUs = '2000000') => [
      '-fflags', 'discardcorrupt', '-flags', 'low_delay', '-threads', '1', '-max_delay', waitUs,
      '-analyzeduration', probeUs, '-probesize', '2000000',
      '-f', 'sdp', '-i', `data:application/sdp;base64,${Buffer.from(s).toString('base64')}`,
    ];
    expect(buildDecoderArgs({ videoSdp, audioSdp, video: { width: 320, height: 180, fps: 15, fit: 'cover' }, audio: { sampleRate: 48000, channels: 2 } })).toEqual([
      '-hide_banner', '-nostdin', '-loglevel', 'warning',
      '-protocol_whitelist', 'data,udp,rtp',
      ...input(videoSdp, '150000'),
      ...input(audioSdp, '20000', '200000'),
      '-filter_threads', '1',
      '-map', '0:v:0',
      '-vf', `scale=320:180:force_original_aspect_ratio=increase:flags=bilinear,crop=320:180,setsar=1,format=yuv420p,${PICTURE_TIMESTAMPS_FILTER}`,
      '-fps_mode', 'passthrough',
      '-f', 'rawvideo', '-flush_packets', '1', 'pipe:1',
      '-map', '1:a:0', '-af', 'aresample=48000:async=1:min_hard_comp=0.01', '-ac', '2', '-f', 's16le', '-flush_packets', '1', 'pipe:4',
    ]);
    const audioOnly = buildDecoderArgs({ audioSdp, audio: { sampleRate: 48000, channels: 1 }, probeMs: 500 });
    expect(audioOnly).not.toContain('0:v:0');
    expect(audioOnly).toContain('0:a:0');
    expect(audioOnly.filter((a) => a === '-i')).toHaveLength(1);
    expect(audioOnly).toContain('pipe:3');
    expect(audioOnly[audioOnly.indexOf('-analyzeduration') + 1]).toBe('200000');
    const videoOnly = buildDecoderArgs({ videoSdp, video: { width: 320, height: 180, fps: 15, fit: 'cover' }, probeMs: 500 });
    expect(videoOnly).toContain('0:v:0');
    expect(videoOnly[videoOnly.indexOf('-analyzeduration') + 1]).toBe('500000');
    // A kind without its SDP is not decoded.
    expect(buildDecoderArgs({ audioSdp, video: { width: 320, height: 180, fps: 15, fit: 'cover' }, audio: { sampleRate: 48000, channels: 2 } })).not.toContain('0:v:0');
  });

  it("reports every picture's timestamp on fd 3, one line per picture written (real ffmpeg)", async () => {
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    // A source whose timestamps jump forward once (a sender that paused), as an RTP input's would.
    const child = spawn('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x36:rate=10:duration=2',
      '-vf', `setpts='PTS+gt(N,9)*5/TB',format=yuv420p,${PICTURE_TIMESTAMPS_FILTER}`, '-fps_mode', 'passthrough', '-f', 'rawvideo', 'pipe:1',
    ], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
    let bytes = 0;
    let text = '';
    child.stdout!.on('data', (c: Buffer) => (bytes += c.length));
    child.stdio[3]!.on('data', (c: Buffer) => (text += c.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    const stamps = text.split('\n').map(parsePictureTimestamp).filter((s) => s !== undefined);
    expect(bytes).toBe(20 * 64 * 36 * 1.5);
    expect(stamps.map((s) => s!.n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    stamps.forEach((s, i) => expect(s!.seconds).toBeCloseTo(i / 10 + (i > 9 ? 5 : 0), 5));
    expect(parsePictureTimestamp('mix_pts=1')).toBeUndefined();
  });

  it('builds the encoder command', () => {
    expect(
      buildEncoderArgs({
        video: { width: 640, height: 360, fps: 15, bitrateKbps: 800, gopSeconds: 2 },
        audio: { sampleRate: 48000, channels: 2, bitrateKbps: 96 },
      }),
    ).toEqual([
      '-hide_banner', '-nostdin', '-loglevel', 'warning',
      '-probesize', '32', '-analyzeduration', '0',
      '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', '640x360', '-framerate', '15', '-i', 'pipe:0',
      '-probesize', '32', '-analyzeduration', '0',
      '-f', 's16le', '-ar', '48000', '-ac', '2', '-i', 'pipe:3',
      '-map', '0:v', '-map', '1:a',
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
      '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0',
      '-b:v', '800k', '-maxrate', '800k', '-bufsize', '1600k',
      '-force_key_frames', 'expr:if(lt(t,4),gte(t,n_forced*0.25),gte(t,4+(n_forced-16)*2))',
      '-c:a', 'aac', '-b:a', '96k', '-ar', '48000', '-ac', '2',
      '-max_interleave_delta', '1',
      '-flush_packets', '1', '-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1',
    ]);
  });

  it('starts with keyframes every quarter second, then follows the GOP (real x264)', () => {
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    const encoded = execFileSync('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=15', '-t', '9',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0',
      ...fastStartKeyframes(2), '-f', 'flv', '-',
    ], { maxBuffer: 32 << 20 });
    const keyTimes = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', '-'], { input: encoded })
      .toString()
      .split('\n')
      .filter((l) => l.includes('K'))
      .map((l) => Number(l.split(',')[0]));
    // At 15 fps a keyframe lands on the first frame at or after each instant (within 1/15 s).
    const expected = [...Array.from({ length: 16 }, (_, i) => i * 0.25), 4, 6, 8];
    expect(keyTimes).toHaveLength(expected.length);
    keyTimes.forEach((t, i) => expect(t - expected[i]).toBeGreaterThanOrEqual(-0.001));
    keyTimes.forEach((t, i) => expect(t - expected[i]).toBeLessThan(1 / 15 + 0.001));
  });

  it('builds stills', () => {
    expect(fitFilter(100, 50, 'contain')).toBe('scale=100:50:force_original_aspect_ratio=decrease:flags=bilinear,pad=100:50:(ow-iw)/2:(oh-ih)/2:color=black');
    expect(buildStillArgs({ width: 64, height: 36, color: '0x112233', textFile: '/tmp/t.txt', fontFile: '/f.ttf' })).toEqual([
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      '-f', 'lavfi', '-i', 'color=c=0x112233:s=64x36',
      '-vf', 'drawtext=fontfile=/f.ttf:textfile=/tmp/t.txt:expansion=none:fontcolor=white:fontsize=12:x=(w-text_w)/2:y=(h-text_h)/2,format=yuv420p',
      '-frames:v', '1', '-f', 'rawvideo', 'pipe:1',
    ]);
    expect(buildStillArgs({ width: 64, height: 36, imageUrl: 'https://x/y.png', fontFile: '/f.ttf' })).toContain('http,https,tcp,tls');
  });
});

describe('client-mix packager arguments', () => {
  const settings = { video: { width: 640, height: 360, fps: 25, bitrateKbps: 600, gopSeconds: 1 }, audio: { sampleRate: 48000, channels: 2, bitrateKbps: 128 } };
  const input = ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-protocol_whitelist', 'data,udp,rtp', '-fflags', 'discardcorrupt', '-flags', 'low_delay',
    '-analyzeduration', '1000000', '-probesize', '1000000', '-f', 'sdp', '-i', `data:application/sdp;base64,${Buffer.from('v=0').toString('base64')}`, '-map', '0:v:0', '-map', '0:a:0'];
  const output = ['-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2', '-flush_packets', '1', '-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1'];

  it('encodes VP8 once, scaled to the channel size', () => {
    expect(buildPackagerArgs({ sdp: 'v=0', videoCopy: false, settings })).toEqual([
      ...input,
      '-vf', 'scale=640:360:force_original_aspect_ratio=decrease:flags=bilinear,pad=640:360:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p',
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-bf', '0',
      '-b:v', '600k', '-maxrate', '600k', '-bufsize', '1200k', '-r', '25',
      ...output,
    ]);
  });

  it('copies H.264', () => {
    expect(buildPackagerArgs({ sdp: 'v=0', videoCopy: true, settings })).toEqual([...input, '-c:v', 'copy', ...output]);
  });
});
