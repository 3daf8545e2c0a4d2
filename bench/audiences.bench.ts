/// <reference lib="dom" />
/**
 * `npm run bench -- audiences`: how late each kind of viewer sees the
 * channel, side by side in one run, glass to glass; and how many HTTP-FLV
 * viewers the embedded origin holds in real time with one origin process
 * and with several.
 *
 * Latency: the built gateway as a process (embedded origin); a host pushes
 * bench/support/timed-source.ts (Node draws every frame with its counter and
 * notes when it let go of it; ffmpeg encodes x264 zerolatency, 1 s GOP, and
 * pushes RTMP). One Chromium page plays the channel three ways at once:
 * HTTP-FLV with mpegts.js, LL-HLS with hls.js (lowLatencyMode) and WHEP
 * (RTCPeerConnection); each <video>'s presented frames are read there
 * (bench/support/page-counter.ts: requestVideoFrameCallback, counter read
 * off a canvas). Plain HLS is read by ffmpeg (PictureProbe.direct on the
 * plain playlist: a picture is stamped when decoded). Latency of a frame =
 * presented (or decoded) − sent; per player the median and the 95th
 * percentile over BENCH_AUDIENCE_SECONDS (default 20) after a warm-up.
 *
 * Capacity: for EMBEDDED_ORIGIN_PROCESSES=1 and =N (N = cores), one host
 * push (640x360@25, ~1 Mbps) and growing numbers of HTTP-FLV readers in
 * this process (byte counters, no decoding); a level is held when every
 * reader received at least 90 % of the bytes the push sent in the last 5 s.
 */
import { createServer, IncomingMessage, request, Server } from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Benchmark } from './support/benchmark';
import { RunningGateway, startGateway } from './support/gateway';
import { countersSeen, readCountersIn, SeenFrame } from './support/page-counter';
import { PictureProbe } from './support/picture-probe';
import { listeningPorts, waitFor } from './support/processes';
import { pushCounted, stopChild } from './support/sources';
import { TimedSource } from './support/timed-source';
import { launchChromium } from './support/chromium';

const SECONDS = Number(process.env.BENCH_AUDIENCE_SECONDS ?? 20);
const WARMUP_MS = 6000;
const LEVELS = (process.env.BENCH_AUDIENCE_VIEWERS ?? '50,100,200,400').split(',').map(Number);
const root = join(__dirname, '..', '..');
const quantile = (xs: number[], q: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] : NaN);

/** The page: three players of one channel. mpegts.js and hls.js are the project's own dependencies. */
function pageHtml(): string {
  return `<!doctype html><html><body>
<video id="flv" muted autoplay playsinline></video>
<video id="llhls" muted autoplay playsinline></video>
<video id="whep" muted autoplay playsinline></video>
<script src="/mpegts.js"></script><script src="/hls.js"></script>
<script>
window.startPlayers = async ({ flv, hls, whep, token }) => {
  const f = mpegts.createPlayer({ type: 'flv', isLive: true, url: flv }, { enableStashBuffer: false, liveBufferLatencyChasing: true });
  f.attachMediaElement(document.getElementById('flv')); f.load(); f.play();
  const h = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 });
  h.loadSource(hls); h.attachMedia(document.getElementById('llhls'));
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' }); pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); document.getElementById('whep').srcObject = stream; };
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(whep, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer ' + token }, body: pc.localDescription.sdp });
  if (res.status !== 201) throw new Error('WHEP ' + res.status + ' ' + await res.text());
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  window.whepPc = pc;
};
</script></body></html>`;
}

function servePage(): Promise<Server> {
  const files: Record<string, [string, string]> = {
    '/': [pageHtml(), 'text/html'],
    '/mpegts.js': [readFileSync(join(root, 'node_modules/mpegts.js/dist/mpegts.js'), 'utf8'), 'text/javascript'],
    '/hls.js': [readFileSync(join(root, 'node_modules/hls.js/dist/hls.min.js'), 'utf8'), 'text/javascript'],
  };
  const server = createServer((req, res) => {
    const file = files[req.url ?? '/'];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[1] }).end(file[0]);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

interface Latency {
  medianMs: number;
  p95Ms: number;
  frames: number;
}

function latencies(seen: SeenFrame[], source: TimedSource, from: number, to: number): Latency {
  const ms: number[] = [];
  for (const f of seen) {
    if (f.at < from || f.at > to) continue;
    const sent = source.sentAt(f.counter, f.at);
    if (sent !== undefined) ms.push(Math.round(f.at - sent));
  }
  return { medianMs: quantile(ms, 0.5), p95Ms: quantile(ms, 0.95), frames: ms.length };
}

async function latencyPart(): Promise<Record<string, Latency>> {
  const gw = await startGateway({});
  const page = await servePage();
  const browser = await launchChromium();
  let source: TimedSource | undefined;
  let plain: PictureProbe | undefined;
  let throughFront: PictureProbe | undefined;
  let direct: PictureProbe | undefined;
  try {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'aud' })).body;
    source = new TimedSource(channel.publishUrl, { rgb: [255, 0, 0] });
    await waitFor('host on air', async () => ((await gw.admin('GET', '/api/v1/channels/aud')).body.source === 'host' ? true : undefined), 30000);
    const token = (await gw.admin('POST', '/api/v1/tokens', { userId: 'bench-viewer', role: 'viewer', channelId: 'aud' })).body.token as string;
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`);
    const hls = channel.playUrls.hls as string;
    await tab.evaluate((o) => (window as unknown as { startPlayers: (o: object) => Promise<void> }).startPlayers(o), {
      flv: channel.playUrls.flv,
      hls,
      whep: `${gw.baseUrl}/api/v1/whep/aud`,
      token,
    });
    for (const id of ['flv', 'llhls', 'whep']) await readCountersIn(tab, `#${id}`, id);
    const tiles = [{ id: 'host', cell: { x: 0, y: 0, width: 640, height: 360 }, color: [255, 0, 0] as [number, number, number] }];
    plain = PictureProbe.direct(hls.replace(/index\.m3u8$/, 'plain.m3u8'), { width: 640, height: 360, tiles });
    // The front's own latency: the same HTTP-FLV read by ffmpeg through the origin's public port (the
    // gateway's front) and straight from the origin process that holds the stream, side by side.
    const inner = await innerFlvUrl(gw, new URL(channel.playUrls.flv).pathname);
    if (inner) {
      throughFront = PictureProbe.direct(channel.playUrls.flv, { width: 640, height: 360, tiles });
      direct = PictureProbe.direct(inner, { width: 640, height: 360, tiles });
    }
    const from = Date.now() + WARMUP_MS;
    const to = from + SECONDS * 1000;
    await new Promise((r) => setTimeout(r, to - Date.now() + 500));
    const out: Record<string, Latency> = {};
    for (const id of ['flv', 'llhls', 'whep']) out[id] = latencies(await countersSeen(tab, id), source, from, to);
    const probed = (p: PictureProbe) => latencies(p.frames.filter((f) => f.counters.host !== undefined).map((f) => ({ at: f.decodedAt, counter: f.counters.host! })), source!, from, to);
    out.hls = probed(plain);
    if (throughFront && direct) {
      out.flvThroughFront = probed(throughFront);
      out.flvDirect = probed(direct);
    }
    return out;
  } finally {
    plain?.close();
    throughFront?.close();
    direct?.close();
    await browser.close().catch(() => undefined);
    page.close();
    await source?.stop();
    await gw.stop().catch((error: Error) => process.stderr.write(`${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

/** The HTTP-FLV URL of `path` on the origin process that serves it, bypassing the front (undefined with one process: no front). */
async function innerFlvUrl(gw: RunningGateway, path: string): Promise<string | undefined> {
  const { processes } = (await gw.admin('GET', '/api/v1/admin/origin')).body as { processes: { pid: number | null }[] };
  if (processes.length < 2) return undefined;
  for (const { pid } of processes) {
    if (!pid) continue;
    for (const { address, port } of listeningPorts(pid)) {
      const url = `http://${address === '0.0.0.0' ? '127.0.0.1' : address}:${port}${path}`;
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 3000);
      try {
        const res = await fetch(url, { signal: abort.signal });
        const first = res.ok ? await res.body?.getReader().read() : undefined;
        if (first?.value && Buffer.from(first.value).subarray(0, 3).toString('latin1') === 'FLV') return url;
      } catch {
        // Not an HTTP port, or not this stream's process.
      } finally {
        clearTimeout(timer);
        abort.abort();
      }
    }
  }
  return undefined;
}

/** A reader of an HTTP-FLV URL that only counts bytes (a viewer's load on the origin, none on this process). */
function byteReader(url: string): { bytes: () => number; close: () => void } {
  let total = 0;
  let response: IncomingMessage | undefined;
  const req = request(url, (res) => {
    response = res;
    res.on('data', (d: Buffer) => (total += d.length));
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end();
  return { bytes: () => total, close: () => (response?.destroy(), req.destroy()) };
}

async function capacity(processes: number): Promise<{ processes: number; levels: { viewers: number; held: boolean; worstShare: number }[]; heldMax: number }> {
  const gw: RunningGateway = await startGateway({ env: { EMBEDDED_ORIGIN_PROCESSES: String(processes) } });
  let host: ReturnType<typeof pushCounted> | undefined;
  const readers: ReturnType<typeof byteReader>[] = [];
  const levels: { viewers: number; held: boolean; worstShare: number }[] = [];
  try {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'cap' })).body;
    host = pushCounted(channel.publishUrl, { color: '0x0000ff', toneHz: 440 });
    await waitFor('host on air', async () => ((await gw.admin('GET', '/api/v1/channels/cap')).body.source === 'host' ? true : undefined), 30000);
    // The push's own rate, from one reference reader over 5 s.
    const reference = byteReader(channel.playUrls.flv);
    readers.push(reference);
    for (const viewers of LEVELS) {
      while (readers.length < viewers + 1) readers.push(byteReader(channel.playUrls.flv));
      await new Promise((r) => setTimeout(r, 3000));
      const before = readers.map((r) => r.bytes());
      await new Promise((r) => setTimeout(r, 5000));
      const got = readers.map((r, i) => r.bytes() - before[i]);
      const expected = got[0];
      const worstShare = Math.min(...got.slice(1)) / Math.max(1, expected);
      levels.push({ viewers, held: worstShare >= 0.9, worstShare: Math.round(worstShare * 100) / 100 });
      if (worstShare < 0.9) break;
    }
    return { processes, levels, heldMax: Math.max(0, ...levels.filter((l) => l.held).map((l) => l.viewers)) };
  } finally {
    for (const r of readers) r.close();
    if (host) await stopChild(host);
    await gw.stop().catch((error: Error) => process.stderr.write(`${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

async function audiencesBench(): Promise<Record<string, unknown>> {
  const latency = await latencyPart();
  const n = Math.max(2, cpus().length);
  const one = await capacity(1);
  const many = await capacity(n);
  return { latency, capacity: [one, many], seconds: SECONDS };
}

const row = (name: string, l: Latency | undefined, goal: string) =>
  `| ${name}: glass-to-glass (sent → presented) | ${l && Number.isFinite(l.medianMs) ? `median ${l.medianMs} ms, p95 ${l.p95Ms} ms (${l.frames} frames)` : 'not measured'} | ${goal} |`;

export const benchmark: Benchmark = {
  run: audiencesBench,
  method:
    'The built gateway as a process (embedded origin). Latency: a host pushes bench/support/timed-source.ts (Node draws each 640x360@25 frame with its counter and notes when it let go of it, and writes the tone\'s PCM on the same clock; ffmpeg x264 zerolatency, 1 s GOP, RTMP). One Chromium page plays the channel three ways at once: HTTP-FLV (mpegts.js, stash buffer off, latency chasing), LL-HLS (hls.js lowLatencyMode) and WHEP (RTCPeerConnection, a viewer token); each <video>\'s presented frames are read in the page (requestVideoFrameCallback, counter read off a canvas). Plain HLS is read by ffmpeg (a picture stamped when decoded). The front\'s cost: the same HTTP-FLV read by two ffmpeg probes at once, one through the origin\'s public port (the gateway\'s HTTP front, with EMBEDDED_ORIGIN_PROCESSES at its default of one per core) and one straight from the origin process holding the stream (its port found in /proc). Latency of a frame = presented (decoded) − sent, over BENCH_AUDIENCE_SECONDS (default 20) after a 6 s warm-up. ' +
    'Capacity: EMBEDDED_ORIGIN_PROCESSES=1 and =N (N = cores); one host push (640x360@25); HTTP-FLV readers in the bench process that only count bytes, added in steps (BENCH_AUDIENCE_VIEWERS, default 50,100,200,400); a step is held when, over 5 s after 3 s of settling, every reader got at least 90 % of the bytes a reference reader got.',
  summary: (r) => [
    row('HTTP-FLV (mpegts.js in Chromium)', r.latency.flv, 'reference'),
    row('LL-HLS (hls.js in Chromium)', r.latency.llhls, 'target <= 2000 ms'),
    row('HLS (ffmpeg, plain playlist)', r.latency.hls, 'target <= 3 target durations (3000 ms)'),
    row('WHEP (Chromium)', r.latency.whep, 'target <= 400 ms'),
    row('HTTP-FLV (ffmpeg) through the origin\'s front', r.latency.flvThroughFront, 'side by side with the next row'),
    row('HTTP-FLV (ffmpeg) straight from the origin process', r.latency.flvDirect, `the front adds ${r.latency.flvThroughFront && r.latency.flvDirect ? `${r.latency.flvThroughFront.medianMs - r.latency.flvDirect.medianMs} ms (medians)` : 'not measured'}`),
    ...(r.capacity as { processes: number; levels: { viewers: number; held: boolean; worstShare: number }[]; heldMax: number }[]).map(
      (c) => `| HTTP-FLV viewers held in real time, ${c.processes} origin process${c.processes > 1 ? 'es' : ''} | ${c.heldMax} (steps: ${c.levels.map((l) => `${l.viewers}: ${l.held ? 'held' : 'not held'}, worst ${l.worstShare}`).join('; ')}) | more with more processes |`,
    ),
  ],
  targets: (r) => [
    { figure: 'LL-HLS glass-to-glass in Chromium (median)', value: r.latency.llhls?.medianMs, unit: 'ms', kind: 'max', limit: 2000 },
    { figure: 'plain HLS glass-to-glass with ffmpeg (median)', value: r.latency.hls?.medianMs, unit: 'ms', kind: 'max', limit: 3000 },
    { figure: 'WHEP glass-to-glass in Chromium (median)', value: r.latency.whep?.medianMs, unit: 'ms', kind: 'max', limit: 400 },
  ],
};
