/**
 * The viewer-side probe itself, against real ffmpeg: the burned-in counter
 * reads back frame by frame through an H.264 encode and a cover-fit scale,
 * and a live HTTP-FLV stream whose encoder is frozen (SIGSTOP) for 1.5 s
 * shows the freeze in the probe's rates, although the stream's timestamps
 * step evenly throughout.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer, Server } from 'node:http';
import { promisify } from 'node:util';
import { counterFilters, coverPoint, readCounter } from '../bench/support/frame-counter';
import { PictureProbe } from '../bench/support/picture-probe';

const run = promisify(execFile);

describe('frame counter', () => {
  it('maps source points into a cover-fit cell', () => {
    // 16:9 into a 320x360 cell: scaled to 640x360, 160 px cropped on each side.
    expect(coverPoint({ x: 0, y: 0, width: 320, height: 360 }, 16 / 9, 0.5, 0.5)).toEqual({ x: 160, y: 180 });
    expect(coverPoint({ x: 320, y: 0, width: 320, height: 360 }, 16 / 9, 0.25, 0)).toEqual({ x: 320, y: 0 });
    expect(coverPoint({ x: 10, y: 20, width: 160, height: 90 }, 16 / 9, 1, 1)).toEqual({ x: 170, y: 110 });
  });

  it('reads every frame number back after an H.264 encode, in full and in a cropped cell', async () => {
    const { stdout } = await run(
      'ffmpeg',
      ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=0xff0000:size=640x360:rate=25', '-frames:v', '40', '-vf', counterFilters(640, 360),
        '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'h264', '-'],
      { encoding: 'buffer', maxBuffer: 16 << 20 },
    );
    const decode = async (vf: string, w: number, h: number) => {
      const child = spawn('ffmpeg', ['-v', 'error', '-f', 'h264', '-i', '-', '-vf', vf, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { stdio: ['pipe', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (d) => chunks.push(d));
      child.stdin.end(stdout);
      await new Promise((r) => child.once('exit', r));
      const all = Buffer.concat(chunks);
      const frames: Buffer[] = [];
      for (let i = 0; i + w * h * 3 <= all.length; i += w * h * 3) frames.push(all.subarray(i, i + w * h * 3));
      return frames;
    };
    const full = await decode('null', 640, 360);
    expect(full.map((f) => readCounter(f, 640, 360, { x: 0, y: 0, width: 640, height: 360 }))).toEqual([...Array(40).keys()]);
    // The mixer's cover fit into a 160x180 cell, placed at (320, 90) of a 640x360 canvas.
    const cell = await decode('scale=160:180:force_original_aspect_ratio=increase,crop=160:180,pad=640:360:320:90', 640, 360);
    expect(cell.map((f) => readCounter(f, 640, 360, { x: 320, y: 90, width: 160, height: 180 }))).toEqual([...Array(40).keys()]);
    // A plain picture has no counter.
    expect(readCounter(full[0], 640, 360, { x: 0, y: 0, width: 320, height: 180 })).toBeUndefined();
  });
});

describe('picture probe', () => {
  let server: Server;
  let encoder: ChildProcess | undefined;
  let probe: PictureProbe | undefined;

  afterEach(async () => {
    probe?.close();
    if (encoder && encoder.exitCode === null) {
      encoder.kill('SIGCONT');
      encoder.kill('SIGKILL');
    }
    await new Promise((r) => server?.close(r));
  });

  it('counts distinct pictures by wall-clock arrival and sees an encoder freeze', async () => {
    // A live HTTP-FLV stream: ffmpeg encodes in real time and every byte goes straight to the player.
    encoder = spawn(
      'ffmpeg',
      ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'color=c=0x0000ff:size=640x360:rate=15', '-t', '12', '-vf', counterFilters(640, 360),
        '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-f', 'flv', '-'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'video/x-flv' });
      encoder!.stdout!.pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    probe = PictureProbe.flv(`http://127.0.0.1:${port}/live.flv`, {
      width: 640,
      height: 360,
      tiles: [{ id: 'blue', cell: { x: 0, y: 0, width: 640, height: 360 }, color: [0, 0, 255] }],
    });
    const first = await probe.waitForShowing(['blue'], { timeoutMs: 10000 });
    const t0 = first.at + 500;
    await probe.waitUntilArrived(t0 + 3000);
    const steady = probe.rate(t0, t0 + 3000);
    expect(steady.distinctPerSecond).toBeGreaterThan(13.5);
    expect(steady.distinctPerSecond).toBeLessThan(16.5);
    expect(steady.maxDistinctGapMs).toBeLessThan(300);

    // Freeze the encoder for 1.5 s: the stream's timestamps will still step by 1/15 s.
    const frozenAt = Date.now();
    encoder.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 1500));
    encoder.kill('SIGCONT');
    await probe.waitUntilArrived(frozenAt + 3000);
    const frozen = probe.rate(frozenAt - 500, frozenAt + 2500);
    expect(frozen.maxDistinctGapMs).toBeGreaterThan(1300);
    expect(frozen.minDistinctInASecond).toBeLessThan(5);
    // Every picture carries the next counter value: nothing was decoded twice or skipped by the probe.
    const counters = probe.frames.map((f) => f.counters.blue!);
    expect(counters.every((c, i) => i === 0 || c === (counters[i - 1] + 1) % 256)).toBe(true);
  }, 30000);
});
