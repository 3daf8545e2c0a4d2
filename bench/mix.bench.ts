/**
 * `npm run bench -- mix`: the mixing pipeline on the shipped path. The built
 * gateway runs as a process (embedded origin, two mediasoup workers); RTMP
 * participants push into a conference through its ingest URLs; each mix
 * task publishes to a channel's publish URL, so its pictures go through the
 * channel program to the origin, where viewers play `playUrls.flv`. Every
 * time and rate is taken at a viewer-side probe (support/picture-probe.ts)
 * from decoded pictures and their wall-clock arrival; sources burn in a
 * frame counter (support/frame-counter.ts).
 *
 * 1. Mix start: create call → first picture at the channel's viewer that
 *    shows every participant.
 * 2. CPU per output second, against two references run right after in the
 *    same run: the honest floor (one ffmpeg that decodes the same
 *    participant streams, composes them into the same layout and encodes with
 *    the same settings) and a bare encode of a synthetic picture.
 * 3. The most 2-party 640x360@15 mixes that run at once, each at ≥ 0.98×
 *    its frame rate in distinct pictures per second at a reader.
 * 4. Latency through the whole path: an audio onset (and its white flash)
 *    leaving the participant's encoder → arriving at the channel's viewer;
 *    and the A/V offset of that flash and beep as a player presents them.
 */
import type { Benchmark, Target } from './support/benchmark';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FLV_AUDIO, FLV_VIDEO, FlvTagReader } from '@gw/live';
import { aacEncodeArgs, computeLayout, fitFilter, h264EncodeArgs, OutputSettings } from '@gw/mixing';
import { counterFilters } from './support/frame-counter';
import { RunningGateway, startGateway } from './support/gateway';
import { Rgb } from './support/media-analysis';
import { PictureProbe, ProbeTile } from './support/picture-probe';
import { cpuSecondsOf, descendantPids, waitFor } from './support/processes';
import { stopChild } from './support/sources';
import { readFlv } from './support/viewer';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const run = promisify(execFile);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

const PALETTE: { hex: string; rgb: Rgb }[] = [
  { hex: '0xff0000', rgb: [255, 0, 0] },
  { hex: '0x0000ff', rgb: [0, 0, 255] },
  { hex: '0x00ff00', rgb: [0, 255, 0] },
  { hex: '0xffff00', rgb: [255, 255, 0] },
];

interface Participant {
  userId: string;
  color: Rgb;
  push: ChildProcess;
}

/** ffmpeg arguments of a synthetic participant: a colour with the frame counter, a tone (or a beep with a white flash). */
function sourceArgs(o: { size: string; fps: number; color: string; toneHz?: number; beep?: boolean; silent?: boolean }): string[] {
  const [w, h] = o.size.split('x').map(Number);
  // A 200 ms beep (and a white flash) every 5 s, at 2.5 s into each period: onsets for latency and sync.
  const audio = o.beep
    ? `aevalsrc='if(between(mod(t\\,5)\\,2.5\\,2.7)\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000`
    : o.silent
      ? 'anullsrc=r=48000:cl=stereo'
      : `sine=frequency=${o.toneHz ?? 440}:sample_rate=48000`;
  const flash = o.beep ? ",drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(mod(t,5),2.5,2.7)'" : '';
  return ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=${o.color}:size=${o.size}:rate=${o.fps}`, '-f', 'lavfi', '-i', audio,
    '-vf', `${counterFilters(w, h)}${flash}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(o.fps), '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k'];
}

export class Bench {
  #channels = 0;
  readonly children = new Set<ChildProcess>();

  constructor(readonly gw: RunningGateway) {}

  async channel(prefix: string): Promise<{ id: string; publishUrl: string; playUrls: { flv: string } }> {
    const res = await this.gw.admin('POST', '/api/v1/channels', { id: `${prefix}${this.#channels++}` });
    if (res.status !== 201) throw new Error(`channel: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  spawn(args: string[]): ChildProcess {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'ignore'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** A conference of `count` RTMP participants, all producing audio and video. */
  async conference(count: number, push: { size: string; fps: number; beep?: boolean }): Promise<{ id: string; participants: Participant[] }> {
    const id = (await this.gw.admin('POST', '/api/v1/conferences', { title: 'bench' })).body.id as string;
    const participants: Participant[] = [];
    for (let i = 0; i < count; i++) {
      const userId = `p${i}`;
      await this.gw.admin('POST', `/api/v1/conferences/${id}/members`, { userId });
      const url = (await this.gw.admin('POST', `/api/v1/conferences/${id}/ingest`, { userId })).body.url as string;
      const { hex, rgb } = push.beep ? { hex: i === 0 ? '0x000000' : '0x204060', rgb: (i === 0 ? [0, 0, 0] : [32, 64, 96]) as Rgb } : PALETTE[i % PALETTE.length];
      const child = this.spawn([...sourceArgs({ ...push, color: hex, toneHz: 440 + 220 * i, beep: push.beep && i === 0, silent: push.beep && i > 0 }), '-f', 'flv', url]);
      participants.push({ userId, color: rgb, push: child });
    }
    await waitFor('participants producing', async () => {
      const { body } = await this.gw.admin('GET', `/api/v1/conferences/${id}`);
      return body.participants.filter((p: { audio: boolean; video: boolean }) => p.audio && p.video).length === count ? true : undefined;
    }, 30000);
    return { id, participants };
  }

  /** A presentation PC: `userId` pushes a screen (green, a frame counter, a tone) on its ingest URL of kind screen. */
  async shareScreen(conferenceId: string, userId: string, push: { size: string; fps: number }): Promise<Participant> {
    await this.gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
    const url = (await this.gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId, kind: 'screen' })).body.url as string;
    const child = this.spawn([...sourceArgs({ ...push, color: '0x00ff00', toneHz: 2000 }), '-f', 'flv', url]);
    await waitFor('screen producing', async () => {
      const { body } = await this.gw.admin('GET', `/api/v1/conferences/${conferenceId}`);
      return body.participants.some((p: { userId: string; screen: boolean }) => p.userId === userId && p.screen) ? true : undefined;
    }, 30000);
    return { userId, color: [0, 255, 0], push: child };
  }

  async endConference(c: { id: string; participants: Participant[] }): Promise<void> {
    await this.gw.admin('DELETE', `/api/v1/conferences/${c.id}`);
    await Promise.all(c.participants.map((p) => stopChild(p.push)));
  }

  async mix(conferenceId: string, publishUrl: string, s: OutputSettings, mode: 'grid' | 'presentation' = 'grid'): Promise<string> {
    const res = await this.gw.admin('POST', '/api/v1/mix-tasks', { conferenceId, outputs: [{ url: publishUrl }], layout: { mode }, video: s.video, audio: s.audio });
    if (res.status !== 201) throw new Error(`mix task: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id;
  }

  task = async (id: string) => (await this.gw.admin('GET', `/api/v1/mix-tasks/${id}`)).body;

  async tiles(taskId: string, participants: Participant[]): Promise<ProbeTile[]> {
    const cells = (await this.task(taskId)).layout.cells as { userId: string; x: number; y: number; width: number; height: number }[];
    return cells.map((c) => ({ id: c.userId, cell: c, color: participants.find((p) => p.userId === c.userId)!.color }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.children].map(stopChild));
  }
}

export function settings(width: number, height: number, fps: number, kbps: number): OutputSettings {
  return { video: { width, height, fps, bitrateKbps: kbps, gopSeconds: 1 }, audio: { sampleRate: 48000, channels: 2, bitrateKbps: 96 } };
}

/** Create → first picture at the channel's viewer showing every participant (the viewer waits on the channel before). */
async function mixStart(b: Bench, runs: number) {
  const conf = await b.conference(2, { size: '640x360', fps: 25 });
  const out: number[] = [];
  const firstAnyPicture: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const channel = await b.channel('start');
      const probe = PictureProbe.flv(channel.playUrls.flv, { width: 640, height: 360, keepPictures: 200, retryForMs: 20000 });
      try {
        await sleep(300);
        const t0 = Date.now();
        const taskId = await b.mix(conf.id, channel.publishUrl, settings(640, 360, 15, 800));
        const ids = conf.participants.map((p) => p.userId);
        const frame = await waitFor('every participant at the viewer', async () => {
          probe.retile(await b.tiles(taskId, conf.participants));
          return probe.firstShowing(ids, t0);
        }, 20000).catch((error: Error) => {
          throw new Error(`${error.message}: ${probe.describe()}`);
        });
        out.push(frame.at - t0);
        firstAnyPicture.push((probe.frames.find((f) => f.at >= t0)?.at ?? NaN) - t0);
        await b.gw.admin('DELETE', `/api/v1/mix-tasks/${taskId}`);
      } finally {
        probe.close();
      }
      await sleep(500);
    }
  } finally {
    await b.endConference(conf);
  }
  return { medianMs: median(out), runsMs: out, firstPictureOfAnyKindMs: firstAnyPicture };
}

/** CPU seconds of a set of processes, by pid. */
const cpuOf = (pids: number[]) => new Map(pids.map((p) => [p, cpuSecondsOf(p)]));

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** What a process of the gateway's tree is, for the CPU breakdown. */
function role(pid: number, gatewayPid: number, mix: { encoder: number; decoders: number[]; outputs: number[] }): string {
  if (pid === gatewayPid) return 'gateway (Node: compositor, audio mix, signalling)';
  if (pid === mix.encoder) return 'encoder';
  if (mix.decoders.includes(pid)) return 'decoders';
  if (mix.outputs.includes(pid)) return 'output relays';
  const cmd = cmdline(pid);
  if (cmd.includes('mediasoup-worker')) return 'mediasoup workers';
  if (cmd.includes('origin-process')) return 'origin';
  if (cmd.includes('/ingest/')) return 'RTMP ingest';
  if (cmd.includes('ffmpeg')) return 'channel program';
  return 'other';
}

/** CPU seconds per wall second of every process in the gateway's tree over `seconds`, by role. */
async function treeCpu(gw: RunningGateway, seconds: number, mix = { encoder: 0, decoders: [] as number[], outputs: [] as number[] }) {
  const pids = () => [gw.pid, ...descendantPids(gw.pid)];
  const before = cpuOf(pids());
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  const byRole: Record<string, number> = {};
  for (const pid of pids()) {
    const r = role(pid, gw.pid, mix);
    byRole[r] = (byRole[r] ?? 0) + (cpuSecondsOf(pid) - (before.get(pid) ?? 0)) / wall;
  }
  return byRole;
}

/** Pre-encoded participant streams for the floor: the codecs, sizes and rates the mixer receives from the SFU. */
async function encodeParticipantFiles(dir: string, parties: number, size: string, fps: number, screen?: { size: string; fps: number }): Promise<string[]> {
  const files: string[] = [];
  const encode = async (file: string, color: string, toneHz: number, size: string, fps: number, kbps: number) => {
    const [w, h] = size.split('x').map(Number);
    // The ingest sends H.264 (ultrafast, zerolatency, baseline) and Opus into mediasoup; the mixer decodes those.
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${color}:size=${size}:rate=${fps}`, '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`,
      '-t', '20', '-vf', counterFilters(w, h), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0',
      '-force_key_frames', 'expr:gte(t,n_forced*1)', '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`, '-c:a', 'libopus', '-b:a', '64k', '-ar', '48000', '-ac', '2', file]);
    files.push(file);
  };
  for (let i = 0; i < parties; i++) await encode(join(dir, `p${i}.mkv`), PALETTE[i].hex, 440 + 220 * i, size, fps, 1500);
  // A screen share: its own file, after the cameras (the layout's tile `slides:screen`).
  if (screen) await encode(join(dir, 'screen.mkv'), '0x00ff00', 2000, screen.size, screen.fps, 2500);
  return files;
}

/**
 * The honest floor: one ffmpeg that reads the same participant streams in
 * real time, decodes them, composes them into the same grid with the same fit
 * and encodes with the same x264/AAC settings. It freezes when an input
 * stalls, which is why it is not what we ship; it is the least work that
 * gives the same picture.
 */
async function floorRate(files: string[], s: OutputSettings, seconds: number, presentation = false): Promise<number> {
  const { width, height, fps } = s.video;
  // With a screen (the last file): the presentation layout, the screen large, as the mix lays it out.
  const ids = files.map((_, i) => (presentation && i === files.length - 1 ? 'slides:screen' : `p${i}`));
  const laid = computeLayout({ spec: { mode: presentation ? 'presentation' : 'grid' }, canvas: { width, height }, userIds: ids, screens: presentation ? ['slides:screen'] : [] });
  const cells = ids.map((id) => laid.find((c) => c.userId === id)!);
  const inputs = files.flatMap((f) => ['-re', '-stream_loop', '-1', '-i', f]);
  const graph = [
    `color=c=0x202020:size=${width}x${height}:rate=${fps}[bg0]`,
    ...cells.map((c, i) => `[${i}:v]${fitFilter(c.width, c.height, c.fit)}[v${i}]`),
    ...cells.map((c, i) => `[bg${i}][v${i}]overlay=x=${c.x}:y=${c.y}:eof_action=repeat:shortest=0[bg${i + 1}]`),
    `[bg${cells.length}]format=yuv420p[vout]`,
    `${files.map((_, i) => `[${i}:a]`).join('')}amix=inputs=${files.length}:normalize=0[aout]`,
  ].join(';');
  const child = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', ...inputs, '-filter_complex', graph, '-map', '[vout]', '-map', '[aout]', '-r', String(fps),
      ...h264EncodeArgs(s.video), ...aacEncodeArgs(s.audio), '-f', 'flv', '-y', '/dev/null'],
    { stdio: 'ignore' },
  );
  await sleep(3000);
  const c0 = cpuSecondsOf(child.pid!);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const rate = (cpuSecondsOf(child.pid!) - c0) / ((performance.now() - t0) / 1000);
  await stopChild(child);
  return rate;
}

/** The same encoder settings on a synthetic picture of the output size (generation counted: the old reference). */
async function bareEncodeRate(s: OutputSettings, seconds: number): Promise<number> {
  const { width, height, fps } = s.video;
  const child = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      ...h264EncodeArgs(s.video), ...aacEncodeArgs(s.audio), '-f', 'flv', '-y', '/dev/null'],
    { stdio: 'ignore' },
  );
  await sleep(2000);
  const c0 = cpuSecondsOf(child.pid!);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const rate = (cpuSecondsOf(child.pid!) - c0) / ((performance.now() - t0) / 1000);
  await stopChild(child);
  return rate;
}

/**
 * Our cost of one mix: every process of the gateway's tree measured with the
 * conference running and no mix, then with the mix; the difference is what
 * the mix costs (its decoders, encoder and relays, the Node process's
 * compositing, the mediasoup workers' consumers, the channel program, the
 * origin taking the stream).
 */
export async function cpuScenario(b: Bench, parties: number, width: number, height: number, fps: number, kbps: number, seconds: number, screen?: { size: string; fps: number }) {
  const size = parties > 2 ? '640x360' : `${width}x${height}`;
  const conf = await b.conference(parties, { size, fps });
  // A presentation: a screen shared by a presentation PC, measured in the presentation layout.
  if (screen) conf.participants.push(await b.shareScreen(conf.id, 'slides', screen));
  const s = settings(width, height, fps, kbps);
  const channel = await b.channel('cpu');
  let mixRoles: Record<string, number>;
  let idleRoles: Record<string, number>;
  let speed: number;
  try {
    await sleep(3000);
    idleRoles = await treeCpu(b.gw, seconds);
    const taskId = await b.mix(conf.id, channel.publishUrl, s, screen ? 'presentation' : 'grid');
    await waitFor('mix active', async () => ((await b.task(taskId)).state === 'active' ? true : undefined), 20000);
    await sleep(4000);
    const p = (await b.task(taskId)).processes;
    mixRoles = await treeCpu(b.gw, seconds, { encoder: p.encoder, decoders: [...Object.values(p.decoders), ...Object.values(p.audioDecoders ?? {})] as number[], outputs: p.outputs });
    speed = (await b.task(taskId)).stats.speed;
    await b.gw.admin('DELETE', `/api/v1/mix-tasks/${taskId}`);
  } finally {
    await b.endConference(conf);
  }
  const roles = new Set([...Object.keys(idleRoles), ...Object.keys(mixRoles)]);
  const breakdown = Object.fromEntries([...roles].map((r) => [r, round((mixRoles[r] ?? 0) - (idleRoles[r] ?? 0), 3)]));
  // The ingest serves the conference, mixed or not: it is the participants' cost, not the mix's.
  delete breakdown['RTMP ingest'];
  const mix = Object.values(breakdown).reduce((a, v) => a + v, 0);
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-floor-'));
  try {
    const files = await encodeParticipantFiles(dir, parties, size, fps, screen);
    const floor = await floorRate(files, s, seconds, Boolean(screen));
    const bare = await bareEncodeRate(s, seconds);
    return {
      mixCpuPerSecond: round(mix, 3),
      floorCpuPerSecond: round(floor, 3),
      bareEncodeCpuPerSecond: round(bare, 3),
      ratioToFloor: round(mix / floor),
      ratioToBareEncode: round(mix / bare),
      speed,
      breakdown,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Distinct pictures per second at a reader of each mix's channel, two readers at a time. */
async function readRates(b: Bench, channels: { playUrls: { flv: string } }[], tiles: ProbeTile[][], seconds: number, fps: number) {
  const rates: number[] = new Array(channels.length).fill(0);
  for (let i = 0; i < channels.length; i += 2) {
    await Promise.all(
      [i, i + 1].filter((k) => k < channels.length).map(async (k) => {
        const probe = PictureProbe.flv(channels[k].playUrls.flv, { width: 640, height: 360, tiles: tiles[k] });
        try {
          const first = await probe.waitForShowing(tiles[k].map((t) => t.id), { timeoutMs: 15000 });
          // Start after the origin's cached GOP has been delivered in a burst.
          const from = Math.max(first.at, probe.frames.at(-1)!.at) + 500;
          await probe.waitUntilArrived(from + seconds * 1000, seconds * 1000 + 10000);
          rates[k] = probe.rate(from, from + seconds * 1000).distinctPerSecond / fps;
        } catch (error) {
          // Counted as a miss, and said: a reader that could not read is not a measurement.
          process.stderr.write(`[bench] reader of ${channels[k].playUrls.flv} failed: ${(error as Error).message.slice(0, 400)}\n`);
          rates[k] = 0;
        } finally {
          probe.close();
        }
      }),
    );
  }
  return rates;
}

async function maxConcurrent(b: Bench, limit: number) {
  // Sources at 25 fps: a 15 fps mix that keeps up shows a new picture of each participant in every frame.
  const conf = await b.conference(2, { size: '640x360', fps: 25 });
  const tasks: string[] = [];
  const channels: { publishUrl: string; playUrls: { flv: string } }[] = [];
  const tiles: ProbeTile[][] = [];
  let best = 0;
  const steps: { mixes: number; minRatio: number; ok: boolean }[] = [];
  try {
    for (let k = 2; k <= limit; k += 2) {
      while (tasks.length < k) {
        const channel = await b.channel('many');
        channels.push(channel);
        tasks.push(await b.mix(conf.id, channel.publishUrl, settings(640, 360, 15, 800)));
      }
      await waitFor('all active', async () => ((await Promise.all(tasks.map(b.task))).every((t) => t.state === 'active') ? true : undefined), 30000).catch(() => undefined);
      await sleep(4000);
      for (let i = tiles.length; i < tasks.length; i++) {
        // A participant has a cell once their first picture is in the mix.
        tiles.push(await waitFor('both in the layout', async () => {
          const t = await b.tiles(tasks[i], conf.participants);
          return t.length === 2 ? t : undefined;
        }, 20000));
      }
      // 6 s at 15 fps is 90 pictures: 0.98x allows one repeat; a 3 s window could not tell 0.98 from 0.978.
      const ratios = await readRates(b, channels, tiles, 6, 15);
      const minRatio = round(Math.min(...ratios), 3);
      const ok = minRatio >= 0.98;
      steps.push({ mixes: k, minRatio, ok });
      process.stderr.write(`[bench] ${k} mixes: distinct pictures / 15 fps at the readers: min ${minRatio} (${ratios.map((r) => round(r, 2)).join(', ')})\n`);
      if (!ok) break;
      best = k;
    }
  } finally {
    await Promise.all(tasks.map((id) => b.gw.admin('DELETE', `/api/v1/mix-tasks/${id}`)));
    await b.endConference(conf);
  }
  return { maxRealtimeMixes: best, steps };
}

/** Onsets in a series of packet sizes: the first loud packet after at least `quietMs` of quiet ones. */
function onsets(samples: { at: number; size: number }[], threshold: number, quietMs = 1500): number[] {
  const out: number[] = [];
  let quietSince: number | undefined;
  for (const s of samples) {
    if (s.size <= threshold) {
      quietSince ??= s.at;
    } else {
      if (quietSince !== undefined && s.at - quietSince >= quietMs) out.push(s.at);
      quietSince = undefined;
    }
  }
  return out;
}

/** Halfway between the quiet and the loud packet sizes seen. */
function threshold(xs: { size: number }[]): number {
  const sizes = xs.map((x) => x.size).sort((a, b) => a - b);
  return (sizes[Math.floor(sizes.length * 0.1)] + sizes[Math.floor(sizes.length * 0.99)]) / 2;
}

/**
 * The beeping participant's encoder writes FLV to this process, which notes
 * when each beep and each flash leaves it, and passes the bytes unchanged to
 * a copying ffmpeg that pushes them to the ingest URL.
 */
function tappedSource(b: Bench, url: string, fps: number) {
  const audioOut: { at: number; size: number }[] = [];
  const flashesOut: number[] = [];
  const relay = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-fflags', 'nobuffer', '-probesize', '32', '-analyzeduration', '0', '-f', 'flv', '-i', 'pipe:0', '-c', 'copy', '-f', 'flv', url], { stdio: ['pipe', 'ignore', 'ignore'] });
  const encoder = spawn('ffmpeg', [...sourceArgs({ size: '640x360', fps, color: '0x000000', beep: true }), '-flush_packets', '1', '-f', 'flv', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  for (const c of [relay, encoder]) {
    b.children.add(c);
    c.once('exit', () => b.children.delete(c));
  }
  relay.stdin.on('error', () => undefined);
  const reader = new FlvTagReader();
  encoder.stdout.on('data', (chunk: Buffer) => {
    const at = Date.now();
    for (const tag of reader.push(chunk)) {
      if (tag.type === FLV_AUDIO) audioOut.push({ at, size: tag.raw.length - 15 });
      // The source's own content: frames it drew white are at 2.5–2.7 s of each 5 s.
      else if (tag.type === FLV_VIDEO && tag.raw[12] === 1 && tag.timestamp % 5000 >= 2500 && tag.timestamp % 5000 < 2520 + 1000 / fps) flashesOut.push(at);
    }
    relay.stdin.write(chunk);
  });
  return { audioOut, flashesOut, children: [encoder, relay] };
}

async function latencyAndSync(b: Bench, seconds: number) {
  const fps = 15;
  const id = (await b.gw.admin('POST', '/api/v1/conferences', { title: 'latency' })).body.id as string;
  for (const userId of ['p0', 'p1']) await b.gw.admin('POST', `/api/v1/conferences/${id}/members`, { userId });
  const beeperUrl = (await b.gw.admin('POST', `/api/v1/conferences/${id}/ingest`, { userId: 'p0' })).body.url as string;
  const otherUrl = (await b.gw.admin('POST', `/api/v1/conferences/${id}/ingest`, { userId: 'p1' })).body.url as string;
  const source = tappedSource(b, beeperUrl, fps);
  const other = b.spawn([...sourceArgs({ size: '640x360', fps, color: '0x204060', silent: true }), '-f', 'flv', otherUrl]);
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-sync-'));
  try {
    await waitFor('participants producing', async () => {
      const { body } = await b.gw.admin('GET', `/api/v1/conferences/${id}`);
      return body.participants.filter((p: { audio: boolean; video: boolean }) => p.audio && p.video).length === 2 ? true : undefined;
    }, 30000);
    const channel = await b.channel('latency');
    const taskId = await b.mix(id, channel.publishUrl, settings(640, 360, fps, 800));
    await waitFor('mix active', async () => ((await b.task(taskId)).state === 'active' ? true : undefined), 20000);
    // A participant has a cell once their first picture is in the mix.
    const cell = await waitFor('both in the layout', async () => {
      const cells = (await b.task(taskId)).layout.cells as { userId: string; x: number; y: number; width: number; height: number }[];
      return cells.length === 2 ? cells.find((c) => c.userId === 'p0') : undefined;
    }, 20000);
    // The viewer: audio tags by arrival (Node reading HTTP-FLV), pictures through the probe, and a capture for the A/V offset.
    const audioIn: { at: number; size: number }[] = [];
    const capture = createWriteStream(join(dir, 'out.flv'));
    let header = false;
    const player = readFlv(channel.playUrls.flv, (tag) => {
      if (!header) {
        capture.write(Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]));
        header = true;
      }
      capture.write(tag.raw);
      if (tag.type === FLV_AUDIO) audioIn.push({ at: Date.now(), size: tag.raw.length - 15 });
    });
    const probe = PictureProbe.flv(channel.playUrls.flv, { width: 640, height: 360, tiles: [{ id: 'flash', cell, color: [255, 255, 255] }] });
    const started = Date.now();
    await sleep(seconds * 1000);
    player.close();
    probe.close();
    await new Promise((r) => capture.end(r));
    await b.gw.admin('DELETE', `/api/v1/mix-tasks/${taskId}`);

    // Audio: beep onsets leaving the source → arriving at the viewer.
    const sent = onsets(source.audioOut.filter((s) => s.at >= started), threshold(source.audioOut));
    const got = onsets(audioIn, threshold(audioIn));
    const audioLatency = sent.map((t) => got.find((o) => o > t && o - t < 3000)).map((o, i) => (o === undefined ? NaN : o - sent[i])).filter(Number.isFinite);
    // Video: the first white picture of each flash (the cell's mean colour is white; the counter is drawn over).
    const whiteAt: number[] = [];
    let wasWhite = false;
    for (const f of probe.frames) {
      const [r, g, bl] = f.colors.flash;
      const white = r > 200 && g > 200 && bl > 200;
      if (white && !wasWhite) whiteAt.push(f.at);
      wasWhite = white;
    }
    const flashes = source.flashesOut.filter((t, i, all) => t >= started && (i === 0 || t - all[i - 1] > 1000));
    const videoLatency = flashes.map((t) => whiteAt.find((o) => o > t && o - t < 3000)).map((o, i) => (o === undefined ? NaN : o - flashes[i])).filter(Number.isFinite);

    // A/V offset as a player presents it: beep onset vs white flash in the stream's timeline, from the decoded capture.
    const file = join(dir, 'out.flv');
    const [audioPts, videoPts] = await Promise.all([beepTimes(file), flashTimes(file, cell)]);
    const offsets = audioPts.map((a) => videoPts.find((v) => Math.abs(v - a) < 1)).map((v, i) => (v === undefined ? NaN : (v - audioPts[i]) * 1000)).filter(Number.isFinite);
    process.stderr.write(`[bench] beeps sent ${sent.length}, heard ${got.length}; flashes sent ${flashes.length}, seen ${whiteAt.length}\n`);
    return {
      audioLatencyMs: { median: round(median(audioLatency), 0), max: round(Math.max(...audioLatency), 0), samples: audioLatency.length },
      videoLatencyMs: { median: round(median(videoLatency), 0), max: round(Math.max(...videoLatency), 0), samples: videoLatency.length },
      avOffsetMs: { maxAbs: round(Math.max(...offsets.map(Math.abs)), 0), values: offsets.map((o) => round(o, 0)), seconds },
    };
  } finally {
    await b.gw.admin('DELETE', `/api/v1/conferences/${id}`);
    await Promise.all([...source.children, other].map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Beep onsets (s) in a recording: the ends of silences, by ffmpeg's silencedetect. */
async function beepTimes(file: string): Promise<number[]> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-i', file, '-vn', '-af', 'silencedetect=noise=-30dB:d=1', '-f', 'null', '-'], { maxBuffer: 16 * 1024 * 1024 });
  return [...stderr.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
}

/** Flash onsets (s): frames where the beeper's cell turns white. */
async function flashTimes(file: string, cell: { x: number; y: number; width: number; height: number }): Promise<number[]> {
  const crop = `crop=${cell.width}:${cell.height}:${cell.x}:${cell.y}`;
  const { stdout } = await run(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-i', file, '-an', '-vf', `${crop},signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-`, '-f', 'null', '-'],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const out: number[] = [];
  let pts = 0;
  let bright = false;
  for (const line of stdout.split('\n')) {
    const t = line.match(/pts_time:([\d.]+)/);
    if (t) pts = Number(t[1]);
    const y = line.match(/YAVG=([\d.]+)/);
    if (y) {
      const now = Number(y[1]) > 150;
      if (now && !bright) out.push(pts);
      bright = now;
    }
  }
  return out;
}

/** Runs `fn` against the built gateway as the mix benches start it (2 workers, wide rate limits), and ends it after. */
export async function withMixBench<T>(fn: (b: Bench) => Promise<T>): Promise<T> {
  const gw = await startGateway({
    env: {
      LOG_LEVEL: 'warn',
      SFU_WORKERS: '2',
      MIX_RTP_MIN_PORT: '52000',
      MIX_RTP_MAX_PORT: '58999',
      RATE_LIMIT_REST_PER_SECOND: '100000', RATE_LIMIT_REST_BURST: '100000', RATE_LIMIT_IP_PER_SECOND: '1000000', RATE_LIMIT_IP_BURST: '1000000',
    },
  });
  const b = new Bench(gw);
  try {
    return await fn(b);
  } finally {
    await b.close();
    await gw.stop().catch((error: Error) => process.stderr.write(`${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

/** The CPU rows of BENCHMARKS.md: ours beside the floor, and where our CPU goes. */
export function cpuRows(cpu: Record<string, any> | undefined): string[] {
  const entries = Object.entries(cpu ?? {});
  return [
    ...entries.map(
      ([k, v]) =>
        `| CPU per output second, ${k} | ours ${v.mixCpuPerSecond} s/s vs floor ${v.floorCpuPerSecond} s/s = **${v.ratioToFloor}x** (bare encode ${v.bareEncodeCpuPerSecond} s/s: ${v.ratioToBareEncode}x; speed ${v.speed}) | target <= 1.3x the floor |`,
    ),
    ...entries.map(([k, v]) => `| where our CPU goes, ${k} (s/s) | ${Object.entries(v.breakdown).map(([role, s]) => `${role} ${s}`).join('; ')} | |`),
  ];
}

export async function mixBench(): Promise<Record<string, unknown>> {
  // BENCH_PARTS=start,cpu,latency,concurrency runs a subset (all by default).
  const parts = new Set((process.env.BENCH_PARTS ?? 'start,cpu,latency,concurrency').split(','));
  return withMixBench(async (b) => {
    const result: Record<string, unknown> = {};
    if (parts.has('start')) {
      process.stderr.write('[bench] mix start: create → every participant at the viewer\n');
      result.mixStartMs = await mixStart(b, Number(process.env.BENCH_MIX_START_RUNS ?? 5));
    }
    if (parts.has('cpu')) {
      process.stderr.write('[bench] cpu per output second\n');
      const seconds = Number(process.env.BENCH_CPU_SECONDS ?? 15);
      result.cpu = {
        '2-party 640x360@15': await cpuScenario(b, 2, 640, 360, 15, 800, seconds),
        '4-party 1280x720@30': await cpuScenario(b, 4, 1280, 720, 30, 2500, seconds),
      };
    }
    if (parts.has('latency')) {
      process.stderr.write('[bench] latency and A/V sync\n');
      Object.assign(result, await latencyAndSync(b, Number(process.env.BENCH_SYNC_SECONDS ?? 33)));
    }
    if (parts.has('concurrency')) {
      process.stderr.write('[bench] concurrent mixes\n');
      result.concurrency = await maxConcurrent(b, Number(process.env.BENCH_MAX_MIXES ?? 16));
    }
    return result;
  });
}

export const benchmark: Benchmark = {
  run: mixBench,
  method:
    'The built gateway as a process (embedded origin, 2 mediasoup workers). Participants are ffmpeg RTMP pushes into the conference\'s ingest URLs: a colour, a tone and a frame counter burned into every picture. ' +
    'Each mix task publishes to a channel\'s publish URL, so it reaches viewers through the channel program and the origin; every time and rate is taken at a viewer-side probe that reads the channel over HTTP-FLV, ' +
    'stamps each video frame with its wall-clock arrival and decodes it (ffmpeg) to see which participants it shows (colour of their cell and a readable counter) and whether it differs from the picture before. ' +
    'Mix start: the viewer already waits on the channel; create call → first picture showing every participant (2 participants at 25 fps, BENCH_MIX_START_RUNS runs, default 5). ' +
    'CPU: every process of the gateway\'s tree (Node, mediasoup workers, origin, mixer ffmpegs, channel program) over BENCH_CPU_SECONDS (default 15) with the conference running and no mix, then with the mix; the difference is the mix\'s cost (the RTMP ingest, which the conference needs anyway, is left out). ' +
    'Floor, right after in the same run: one ffmpeg that reads the same participant streams (pre-encoded H.264 baseline + Opus of the same size and rate, as the mixer receives them from the SFU, read in real time), composes them into the same grid with the same fit (overlay) and encodes with the same x264/AAC settings to /dev/null. Bare encode: the same settings on testsrc2 + sine of the output size (generation counted). ' +
    'Concurrency: 2-party 640x360@15 mixes of one conference (sources 25 fps), added two at a time, each into its own channel; after 4 s every channel is read by a probe for 6 s (two at a time); a step passes when every reader gets >= 0.98 x 15 distinct pictures per wall-clock second. ' +
    'Latency: participant 0 beeps 200 ms with a white flash every 5 s; its encoder writes FLV to the bench, which notes when each beep and flash leaves it and passes the bytes to a copying ffmpeg that pushes them to the ingest; ' +
    'exit = the first loud AAC tag arriving at the channel\'s HTTP-FLV viewer, and the first white picture of that cell at the probe. A/V offset: beep vs flash in the stream\'s timeline as a player presents them (decoded capture: silencedetect vs signalstats).',
  summary: (r) => [
    r.mixStartMs && `| mix start: create → first picture at the viewer showing every participant (median of ${r.mixStartMs.runsMs.length}) | ${r.mixStartMs.medianMs} ms (runs ${r.mixStartMs.runsMs.join(', ')}; first picture of any kind ${r.mixStartMs.firstPictureOfAnyKindMs.join(', ')} ms) | target <= 1000 ms |`,
    ...cpuRows(r.cpu),
    r.concurrency && `| 2-party 640x360@15 mixes at once, each >= 0.98x distinct pictures per second at a reader | **${r.concurrency.maxRealtimeMixes}** (steps: ${r.concurrency.steps.map((s: any) => `${s.mixes}: ${s.minRatio}`).join(', ')}) | target >= 12 |`,
    r.audioLatencyMs && `| latency, audio onset leaving the participant's encoder → at the channel's viewer | median ${r.audioLatencyMs.median} ms, max ${r.audioLatencyMs.max} ms (${r.audioLatencyMs.samples} onsets) | |`,
    r.videoLatencyMs && `| latency, flash leaving the participant's encoder → its picture at the channel's viewer | median ${r.videoLatencyMs.median} ms, max ${r.videoLatencyMs.max} ms (${r.videoLatencyMs.samples} flashes) | |`,
    r.avOffsetMs && `| A/V offset as presented (flash vs beep in the stream's timeline) | max ${r.avOffsetMs.maxAbs} ms over ${r.avOffsetMs.seconds} s (${r.avOffsetMs.values.join(', ')} ms) | target <= 80 ms |`,
  ].filter(Boolean),
  targets: (r) =>
    [
      r.mixStartMs && { figure: 'mix start, every participant visible', value: r.mixStartMs.medianMs, unit: 'ms', kind: 'max', limit: 1000 },
      ...Object.entries(r.cpu ?? {}).map(([k, v]: [string, any]) => ({ figure: `CPU vs the honest floor, ${k}`, value: v.ratioToFloor, unit: 'x', kind: 'max', limit: 1.3 })),
      r.concurrency && { figure: '2-party 640x360@15 mixes at >= 0.98x distinct pictures/s', value: r.concurrency.maxRealtimeMixes, unit: '', kind: 'min', limit: 12 },
      r.avOffsetMs && { figure: 'A/V offset as presented', value: r.avOffsetMs.maxAbs, unit: 'ms', kind: 'max', limit: 80 },
    ].filter(Boolean) as Target[],
};
