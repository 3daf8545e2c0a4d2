/**
 * An in-process gateway stack for benchmarks: the real worker pool, embedded
 * origin, conference control, RTMP ingest and mixing coordinator, wired
 * without Nest so a benchmark can reach inside (producer traces, task pids).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConferenceService, IngestService } from '@gw/conference';
import { EmbeddedOrigin, FlvTag, FlvTagReader, LIVE_APP, streamKey } from '@gw/live';
import { MixingService } from '@gw/mixing';
import { WorkerPool } from '@gw/sfu';

export const quietLogger = { log: () => undefined, warn: () => undefined, error: (m: string) => process.stderr.write(`[bench] ${m}\n`), debug: () => undefined };

export interface Stack {
  pool: WorkerPool;
  origin: EmbeddedOrigin;
  conferences: ConferenceService;
  ingest: IngestService;
  mixing: MixingService;
  rtmpPort: number;
  httpPort: number;
  /** rtmp URL + key for bench output channel `name`, registered with the origin. */
  outputUrl(name: string): string;
  flvUrl(name: string): string;
  close(): Promise<void>;
}

export async function startStack(options: { rtmpPort?: number; httpPort?: number } = {}): Promise<Stack> {
  const rtmpPort = options.rtmpPort ?? 19350 + Math.floor(Math.random() * 500);
  const httpPort = rtmpPort + 1000;
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const pool = await WorkerPool.create({ count: 2, rtcMinPort: 47000, rtcMaxPort: 47999, logger: quietLogger });
  const origin = new EmbeddedOrigin({
    bind: '127.0.0.1',
    publicHost: '127.0.0.1',
    rtmpPort,
    httpPort,
    playUrlBase: `http://127.0.0.1:${httpPort}/live`,
    publishGraceMs: 1000,
    storeDir: dir,
    entryScript: join(__dirname, '..', 'libs', 'live', 'src', 'embedded', 'origin-process.js'),
    logger: quietLogger,
  });
  const outputs: Record<string, Record<string, 'host'>> = {};
  origin.setPublishKeys('bench', outputs);
  await origin.start();
  const ffmpegPath = 'ffmpeg';
  const conferences = new ConferenceService(pool, { rtc: { listenIp: '127.0.0.1' }, idleSeconds: 3600, logger: quietLogger });
  const ingest = new IngestService(conferences, origin, ffmpegPath, quietLogger);
  const mixing = new MixingService(conferences, {
    ffmpegPath,
    outputAllow: [`rtmp://127.0.0.1:${rtmpPort}/live`],
    rtpPorts: { min: 52000, max: 58999 },
    audioDelayMs: process.env.MIX_AUDIO_DELAY_MS ? Number(process.env.MIX_AUDIO_DELAY_MS) : undefined,
    logger: quietLogger,
  });
  return {
    pool,
    origin,
    conferences,
    ingest,
    mixing,
    rtmpPort,
    httpPort,
    outputUrl(name) {
      outputs[streamKey(LIVE_APP, name)] = { benchkey: 'host' };
      origin.setPublishKeys('bench', { ...outputs });
      return `rtmp://127.0.0.1:${rtmpPort}/live/${name}?key=benchkey`;
    },
    flvUrl: (name) => `http://127.0.0.1:${httpPort}/live/${name}.flv`,
    async close() {
      await mixing.stopAll();
      await ingest.closeAll();
      conferences.closeAll('bench done');
      await origin.stop();
      await pool.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A synthetic participant pushing RTMP into the conference's ingest URL. */
export function pushParticipant(url: string, o: { size: string; fps: number; color?: string; beep?: boolean; silent?: boolean; toneHz?: number }): ChildProcess {
  const video = o.color
    ? `color=c=${o.color}:size=${o.size}:rate=${o.fps}`
    : `testsrc2=size=${o.size}:rate=${o.fps}`;
  // A 200 ms beep (and a white flash) every 5 s, at 2.5 s into each period: onsets for latency and sync.
  const audio = o.beep
    ? `aevalsrc='if(between(mod(t\\,5)\\,2.5\\,2.7)\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000`
    : o.silent
      ? 'anullsrc=r=48000:cl=stereo'
      : `sine=frequency=${o.toneHz ?? 440}:sample_rate=48000`;
  const vf = o.beep ? ['-vf', "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(mod(t,5),2.5,2.7)'"] : [];
  return spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', video, '-f', 'lavfi', '-i', audio, ...vf,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(o.fps), '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', url],
    { stdio: 'ignore' },
  );
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** CPU seconds (user + system) a process has used, from /proc. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Reads an HTTP-FLV stream like a player and reports each tag with its arrival time. */
export function readFlv(url: string, onTag: (tag: FlvTag, arrivedAt: number) => void): { close: () => void } {
  const reader = new FlvTagReader();
  const req = request(url, (res) => {
    res.on('data', (chunk: Buffer) => {
      const now = performance.now();
      for (const tag of reader.push(chunk)) onTag(tag, now);
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { close: () => req.destroy() };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
