import { execFileSync } from 'node:child_process';
import { FlvTagReader, isCodecConfig, FLV_VIDEO } from '@gw/live';
import { buildProgramFeedArgs, fitsRouter } from './program-feed-args';

const audio = { port: 40000, rtcpPort: 40001, localPort: 51000, localRtcpPort: 51001, payloadType: 100, ssrc: 11 };
const video = { port: 40002, rtcpPort: 40003, localPort: 51002, localRtcpPort: 51003, payloadType: 101, ssrc: 22 };

/** The AVC sequence header tag of a second of real x264 output with these options. */
function avcConfigOf(x264: string[]): Buffer {
  const flv = execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=red:size=320x240:rate=25', '-t', '1', '-c:v', 'libx264', ...x264, '-pix_fmt', 'yuv420p', '-f', 'flv', '-']);
  const tag = new FlvTagReader().push(flv).find((t) => t.type === FLV_VIDEO && isCodecConfig(t));
  if (!tag) throw new Error('no AVC sequence header');
  return tag.raw;
}

describe('fitsRouter', () => {
  it('passes constrained baseline through (x264 ultrafast, or -profile baseline)', () => {
    expect(fitsRouter(avcConfigOf(['-preset', 'ultrafast', '-tune', 'zerolatency']))).toBe(true);
    expect(fitsRouter(avcConfigOf(['-preset', 'veryfast', '-profile:v', 'baseline']))).toBe(true);
  });

  it('transcodes main and high profile (OBS, the mix encoder)', () => {
    expect(fitsRouter(avcConfigOf(['-preset', 'veryfast', '-tune', 'zerolatency']))).toBe(false);
    expect(fitsRouter(avcConfigOf(['-preset', 'veryfast', '-profile:v', 'main']))).toBe(false);
  });

  it('refuses what is no AVC configuration record', () => {
    expect(fitsRouter(Buffer.alloc(16))).toBe(false);
  });
});

describe('buildProgramFeedArgs', () => {
  it('reads FLV on stdin and passes H.264 through, with fixed local ports', () => {
    expect(buildProgramFeedArgs({ audio, video, copyVideo: true })).toEqual([
      '-hide_banner', '-nostats', '-loglevel', 'info', '-flags', 'low_delay',
      '-probesize', '1000000', '-analyzeduration', '100000',
      '-f', 'flv', '-i', 'pipe:0',
      '-map', '0:a:0', '-af', 'aresample=async=1',
      '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k', '-application', 'lowdelay',
      '-payload_type', '100', '-ssrc', '11',
      '-f', 'rtp', 'rtp://127.0.0.1:40000?rtcpport=40001&localrtpport=51000&localrtcpport=51001&pkt_size=1200',
      '-map', '0:v:0', '-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb',
      '-payload_type', '101', '-ssrc', '22',
      '-f', 'rtp', 'rtp://127.0.0.1:40002?rtcpport=40003&localrtpport=51002&localrtcpport=51003&pkt_size=1200',
    ]);
  });

  it('transcodes to constrained baseline with a keyframe a second otherwise', () => {
    const args = buildProgramFeedArgs({ audio, video, copyVideo: false, videoKbps: 1200 });
    const v = args.slice(args.indexOf('0:v:0') + 1);
    expect(v).toEqual(expect.arrayContaining(['libx264', 'baseline', '-bf', '0', 'expr:gte(t,n_forced*1)', '1200k']));
    expect(v).not.toContain('copy');
  });
});
