import { createSocket } from 'node:dgram';
import { freeLoopbackUdpPort } from '@gw/common';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SrtIngest } from './srt-ingest';
import { formatStreamId } from './srt-packet';

const run = promisify(execFile);
const quiet = { log: () => undefined, warn: (m: string) => process.env.SRT_DEBUG && process.stderr.write(m + '\n'), error: () => undefined, debug: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** An ffmpeg SRT caller pushing `seconds` of a test picture and tone as MPEG-TS; resolves with its exit code and stderr. */
function push(port: number, streamId: string, seconds: number, encode = false): Promise<{ code: number | null; stderr: string }> {
  // ffmpeg hands the URL's streamid to libsrt as written: as the gateway's ingest.srt URL writes it, or URL-encoded.
  const url = `srt://127.0.0.1:${port}?streamid=${encode ? encodeURIComponent(streamId) : streamId}&latency=120000`;
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=25,drawbox=c=red:t=fill`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac', '-f', 'mpegts', url,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

/**
 * The SRT ingest with the real parts: Debian's srt-live-transmit behind the
 * relay, ffmpeg as the SRT caller and as the remuxer. The route sends a
 * known stream to an FLV file (the gateway sends it to an RTMP URL the same way).
 */
describe('SrtIngest', () => {
  let dir: string;
  let ingest: SrtIngest;
  let port: number;
  const routed: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'srt-ingest-'));
    port = await freeLoopbackUdpPort();
    ingest = new SrtIngest({
      port,
      bind: '127.0.0.1',
      srtLiveTransmitPath: 'srt-live-transmit',
      ffmpegPath: 'ffmpeg',
      latencyMs: 120,
      logger: quiet,
      route: (request) => {
        routed.push(request.resource);
        if (request.resource !== 'live/show__host') return { reject: 1404, reason: 'no such stream' };
        if (request.key !== 'right-key') return { reject: 1403, reason: 'bad key' };
        return { rtmpUrl: join(dir, 'show.flv'), label: 'show' };
      },
    });
    await ingest.start();
  });

  afterAll(async () => {
    await ingest.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('remuxes a publisher with the right key into its route, without re-encoding', async () => {
    const result = await push(port, formatStreamId('live', 'show__host', 'right-key'), 4);
    expect(result).toEqual({ code: 0, stderr: '' });
    // The listener exits when the caller goes; the remuxer then flushes and ends.
    for (let i = 0; i < 60 && ingest.sessions.length; i++) await sleep(100);
    expect(ingest.sessions).toEqual([]);
    const file = join(dir, 'show.flv');
    expect(statSync(file).size).toBeGreaterThan(10000);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', file]);
    const probe = JSON.parse(stdout);
    expect(probe.streams.map((s: { codec_name: string }) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(probe.streams.find((s: { codec_name: string }) => s.codec_name === 'h264')).toMatchObject({ width: 320, height: 180 });
    expect(Number(probe.format.duration)).toBeGreaterThan(2.5);
    // The picture is the caller's: red where the box was drawn.
    const { stdout: pixel } = await run('ffmpeg', ['-v', 'error', '-ss', '1', '-i', file, '-frames:v', '1', '-vf', 'crop=2:2:100:100,scale=1:1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer' });
    expect(pixel[0]).toBeGreaterThan(200);
    expect(pixel[1]).toBeLessThan(60);
    expect(pixel[2]).toBeLessThan(60);
  }, 30000);

  it('refuses a wrong key and an unknown stream with an SRT rejection, and keeps nothing running', async () => {
    for (const [streamId, reason] of [
      [formatStreamId('live', 'show__host', 'wrong-key'), /reject|refused|403|connection/i],
      [formatStreamId('live', 'nope__host', 'right-key'), /reject|refused|404|connection/i],
      ['plain-text-id', /reject|refused|400|connection/i],
    ] as const) {
      const started = Date.now();
      const result = await push(port, streamId, 3);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(reason);
      // Refused at the handshake, not after a timeout.
      expect(Date.now() - started).toBeLessThan(5000);
    }
    for (let i = 0; i < 40 && ingest.sessions.length; i++) await sleep(100);
    expect(ingest.sessions).toEqual([]);
  }, 40000);

  it('ignores datagrams that do not open a session', async () => {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.send(Buffer.from('hello, not srt at all'), port, '127.0.0.1', () => resolve()));
    s.close();
    await sleep(100);
    expect(ingest.sessions).toEqual([]);
  });
});

/**
 * A remuxer that dies while its caller still pushes (input it cannot take) is
 * started again on what comes next; the session and the caller's push go on.
 * The first remuxer here is a wrapper that reads a little and fails; the next
 * ones are ffmpeg.
 */
describe('SrtIngest: a remuxer that dies mid-push', () => {
  it('starts the remuxer again while the caller pushes, and the push goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srt-restart-'));
    const wrapper = join(dir, 'ffmpeg-once-broken');
    writeFileSync(wrapper, `#!/bin/sh\nif [ ! -e "${dir}/died" ]; then touch "${dir}/died"; head -c 20000 >/dev/null; echo "Invalid data found when processing input" >&2; exit 1; fi\nexec ffmpeg "$@"\n`);
    chmodSync(wrapper, 0o755);
    const warnings: string[] = [];
    const port = await freeLoopbackUdpPort();
    const ingest = new SrtIngest({
      port,
      bind: '127.0.0.1',
      srtLiveTransmitPath: 'srt-live-transmit',
      ffmpegPath: wrapper,
      latencyMs: 120,
      logger: { ...quiet, warn: (m: string) => warnings.push(m) },
      route: () => ({ rtmpUrl: join(dir, 'out.flv'), label: 'restart' }),
    });
    await ingest.start();
    try {
      let done = false;
      const pushing = push(port, formatStreamId('live', 'r__host', 'k'), 6).finally(() => (done = true));
      const pids: number[][] = [];
      while (!done) {
        await sleep(100);
        const s = ingest.sessions[0];
        if (s?.pids.length === 2 && !pids.some((p) => p[1] === s.pids[1])) pids.push(s.pids);
      }
      const result = await pushing;
      expect(result).toEqual({ code: 0, stderr: '' });
      expect(warnings.some((w) => /remuxer died; starting it again/.test(w))).toBe(true);
      // The same session (its listener) throughout, with a second remuxer.
      expect(new Set(pids.map((p) => p[0])).size).toBe(1);
      expect(pids.length).toBeGreaterThanOrEqual(2);
      for (let i = 0; i < 60 && ingest.sessions.length; i++) await sleep(100);
      expect(statSync(join(dir, 'out.flv')).size).toBeGreaterThan(10000);
    } finally {
      await ingest.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);
});
