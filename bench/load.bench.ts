/**
 * `npm run bench -- load`: bounded load on loopback against the built gateway.
 *
 * sockets: 2,000 connected sockets; 100 hosts (client mixing, so an accepted
 * session starts no server mix: this measures signalling) each run
 * invite → accept → end cycles with their own guest while the other 1,800
 * sockets idle. Reports the invite → `cohost:invited` round trip (p50/p99) and
 * the error rate.
 *
 * soak: BENCH_SOAK_MINUTES (default 10) with 4 concurrent mixes (two RTMP
 * participants each) plus socket churn (connect, apply, cancel, disconnect).
 * /metrics is sampled every 20 s: heap used, RSS, active handles, child
 * processes. Afterwards everything is stopped and the gateway must be back to
 * its baseline of child processes and exit leaving none.
 *
 * BENCH_LOAD_PARTS (default `sockets,soak`) picks the parts. Only the socket
 * scale part, printed and not recorded (no bench/results, no BENCHMARKS.md):
 *   bash scripts/build.sh && node dist/bench/load.bench.js sockets
 */
import type { Benchmark, Target } from './support/benchmark';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'socket.io-client';
import { connectWithToken, RunningGateway, startGateway } from './support/gateway';
import { waitFor } from './support/processes';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const HIGH_LIMITS = {
  RATE_LIMIT_SOCKET_PER_SECOND: '100000', RATE_LIMIT_SOCKET_BURST: '100000', RATE_LIMIT_REST_PER_SECOND: '100000', RATE_LIMIT_REST_BURST: '100000',
  RATE_LIMIT_IP_PER_SECOND: '1000000', RATE_LIMIT_IP_BURST: '1000000',
};
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

async function inBatches<T, R>(items: T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  return out;
}

async function tokenFor(gw: RunningGateway, userId: string, role: string, channelId: string): Promise<string> {
  return (await gw.admin('POST', '/api/v1/tokens', { userId, role, channelId, ttlSeconds: 7200 })).body.token;
}

const connect = connectWithToken;

async function metrics(gw: RunningGateway): Promise<Record<string, number>> {
  const text = (await gw.request('GET', '/metrics')).body as string;
  const pick = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    heapUsedBytes: pick('nodejs_heap_size_used_bytes'),
    rssBytes: pick('process_resident_memory_bytes'),
    activeHandles: pick('nodejs_active_handles_total'),
    childProcesses: pick('gateway_child_processes'),
  };
}

/** Where each socket of the signalling load connects (one gateway, or the nodes of a cluster). */
export interface LoadPlacement {
  /** The node holding host i's channel (its desk lives where its host is connected). */
  host: (i: number) => RunningGateway;
  guest: (i: number) => RunningGateway;
  idle: (i: number) => RunningGateway;
}

/**
 * The signalling load: BENCH_LOAD_SOCKETS (2,000) sockets, 100 hosts (client
 * mixing: no server mix) running BENCH_LOAD_CYCLES invite → accept → end
 * cycles with their own guest at once, the rest idle. Returns the invite →
 * `cohost:invited` round trips and the error rate. Sockets are closed at the
 * end; the gateways are the caller's.
 */
export async function signallingLoad(placement: LoadPlacement): Promise<Record<string, any>> {
  const HOSTS = 100;
  const TOTAL = Number(process.env.BENCH_LOAD_SOCKETS ?? 2000);
  const CYCLES = Number(process.env.BENCH_LOAD_CYCLES ?? 5);
  const sockets: Socket[] = [];
  try {
    await inBatches([...Array(HOSTS).keys()], 20, (i) => placement.host(i).admin('POST', '/api/v1/channels', { id: `load${i}` }));
    const hostTokens = await inBatches([...Array(HOSTS).keys()], 50, (i) => tokenFor(placement.host(i), `host${i}`, 'host', `load${i}`));
    const guestTokens = await inBatches([...Array(HOSTS).keys()], 50, (i) => tokenFor(placement.guest(i), `guest${i}`, 'viewer', `load${i}`));
    const idleTokens = await inBatches([...Array(TOTAL - 2 * HOSTS).keys()], 50, (i) => tokenFor(placement.idle(i), `idle${i}`, 'viewer', `load${i % HOSTS}`));
    const connectStarted = Date.now();
    const hosts = await inBatches([...hostTokens.keys()], 50, (i) => connect(placement.host(i), hostTokens[i]));
    const guests = await inBatches([...guestTokens.keys()], 50, (i) => connect(placement.guest(i), guestTokens[i]));
    const idle = await inBatches([...idleTokens.keys()], 100, (i) => connect(placement.idle(i), idleTokens[i]));
    sockets.push(...hosts, ...guests, ...idle);
    const connectMs = Date.now() - connectStarted;
    for (let i = 0; i < HOSTS; i += 1) await hosts[i].emitWithAck('cohost:mode', { channelId: `load${i}`, mixMode: 'client' });

    const rtts: number[] = [];
    let errors = 0;
    let calls = 0;
    const cycle = async (i: number) => {
      const host = hosts[i];
      const guest = guests[i];
      for (let c = 0; c < CYCLES; c += 1) {
        const invited = new Promise<number>((resolve) => guest.once('cohost:invited', () => resolve(Date.now())));
        const sentAt = Date.now();
        const ack = await host.timeout(10000).emitWithAck('cohost:invite', { channelId: `load${i}`, userId: `guest${i}` });
        calls += 1;
        if (!ack.ok) {
          errors += 1;
          continue;
        }
        rtts.push((await invited) - sentAt);
        const ended = new Promise<void>((resolve) => host.once('cohost:ended', () => resolve()));
        const accepted = await guest.timeout(10000).emitWithAck('cohost:accept', { invitationId: ack.invitationId });
        calls += 1;
        if (!accepted.ok) errors += 1;
        const end = await host.timeout(10000).emitWithAck('cohost:end', { channelId: `load${i}` });
        calls += 1;
        if (!end.ok) errors += 1;
        await Promise.race([ended, sleep(5000)]);
      }
    };
    const started = Date.now();
    await Promise.all([...Array(HOSTS).keys()].map(cycle));
    return {
      sockets: sockets.filter((s) => s.connected).length,
      connectMs,
      hosts: HOSTS,
      cycles: HOSTS * CYCLES,
      calls,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      inviteToInvitedMs: { p50: percentile(rtts, 50), p99: percentile(rtts, 99), max: Math.max(...rtts), samples: rtts.length },
      errorRate: calls ? errors / calls : 0,
      errors,
    };
  } finally {
    for (const s of sockets) s.close();
  }
}

async function socketScale(): Promise<Record<string, unknown>> {
  const gw = await startGateway({ env: { LOG_LEVEL: 'warn', ...HIGH_LIMITS } });
  try {
    const before = await metrics(gw);
    const result = await signallingLoad({ host: () => gw, guest: () => gw, idle: () => gw });
    return { ...result, gateway: { before, after: await metrics(gw) } };
  } finally {
    await gw.stop().catch((error: Error) => process.stderr.write(`${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

function push(url: string, color: string, toneHz: number, seconds: number): ChildProcess {
  return spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `color=c=${color}:size=320x180:rate=15`, '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`,
      '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', url],
    { stdio: 'ignore' },
  );
}

async function soak(): Promise<Record<string, unknown>> {
  const minutes = Number(process.env.BENCH_SOAK_MINUTES ?? 10);
  const gw = await startGateway({ env: { LOG_LEVEL: 'warn', MIX_RTP_MIN_PORT: '52000', MIX_RTP_MAX_PORT: '58999', ...HIGH_LIMITS } });
  const children: ChildProcess[] = [];
  const samples: ({ atSeconds: number } & Record<string, number>)[] = [];
  let churned = 0;
  let churnErrors = 0;
  try {
    const baseline = await metrics(gw);
    const seconds = minutes * 60 + 120;
    for (let m = 0; m < 4; m += 1) {
      const out = (await gw.admin('POST', '/api/v1/channels', { id: `soak-out${m}` })).body.publishUrl;
      const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: `soak${m}` })).body.id;
      for (const [k, color, tone] of [[0, '0xff0000', 440], [1, '0x0000ff', 1000]] as const) {
        const userId = `p${m}-${k}`;
        await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
        children.push(push((await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId })).body.url, color, tone, seconds));
      }
      await waitFor('participants', async () => ((await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.participants.length === 2 ? true : undefined), 30000);
      const task = await gw.admin('POST', '/api/v1/mix-tasks', {
        conferenceId, outputs: [{ url: out }], layout: { mode: 'grid' },
        video: { width: 640, height: 360, fps: 15, bitrateKbps: 600, gopSeconds: 1 }, audio: { sampleRate: 48000, channels: 2, bitrateKbps: 96 },
      });
      if (task.status !== 201) throw new Error(`mix task: ${JSON.stringify(task.body)}`);
    }
    await gw.admin('POST', '/api/v1/channels', { id: 'soak-churn' });
    const hostSocket = await connect(gw, await tokenFor(gw, 'churn-host', 'host', 'soak-churn'));
    let stopChurn = false;
    const churn = (async () => {
      let n = 0;
      while (!stopChurn) {
        const batch = await Promise.all(
          [...Array(10).keys()].map(async () => {
            n += 1;
            try {
              const s = await connect(gw, await tokenFor(gw, `churn${n % 500}`, 'viewer', 'soak-churn'));
              const applied = await s.timeout(5000).emitWithAck('cohost:apply', { channelId: 'soak-churn' });
              if (applied.ok) await s.timeout(5000).emitWithAck('cohost:cancel', { invitationId: applied.invitationId });
              else churnErrors += 1;
              s.close();
              churned += 1;
            } catch {
              churnErrors += 1;
            }
          }),
        );
        void batch;
        await sleep(1000);
      }
    })();
    const started = Date.now();
    while (Date.now() - started < minutes * 60000) {
      samples.push({ atSeconds: Math.round((Date.now() - started) / 1000), ...(await metrics(gw)) });
      await sleep(20000);
    }
    samples.push({ atSeconds: Math.round((Date.now() - started) / 1000), ...(await metrics(gw)) });
    stopChurn = true;
    await churn;
    hostSocket.close();
    const tasks = (await gw.admin('GET', '/api/v1/mix-tasks')).body as { id: string; state: string; stats: { speed: number } }[];
    const speeds = tasks.map((t) => t.stats.speed);
    for (const t of tasks) await gw.admin('DELETE', `/api/v1/mix-tasks/${t.id}`);
    for (const c of children) c.kill('SIGTERM');
    await sleep(8000);
    const end = await metrics(gw);
    // Heap after the first minute (warm) vs the end, each the lowest of three samples (closest to after a GC).
    const warm = samples.filter((s) => s.atSeconds >= 60);
    const low = (xs: typeof samples) => Math.min(...xs.map((s) => s.heapUsedBytes));
    const heapStart = low(warm.slice(0, 3));
    const heapEnd = low(warm.slice(-3));
    return {
      minutes,
      mixes: 4,
      mixSpeedsAtEnd: speeds,
      churnedSockets: churned,
      churnErrors,
      heapGrowthPct: Math.round(((heapEnd - heapStart) / heapStart) * 1000) / 10,
      rssMb: { start: Math.round(warm[0].rssBytes / 1e6), end: Math.round(warm[warm.length - 1].rssBytes / 1e6) },
      activeHandles: { baseline: baseline.activeHandles, duringStart: warm[0].activeHandles, duringEnd: warm[warm.length - 1].activeHandles, afterStop: end.activeHandles },
      childProcesses: { baseline: baseline.childProcesses, during: warm[warm.length - 1].childProcesses, afterStop: end.childProcesses },
      samples,
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await gw.stop().catch((error: Error) => {
      process.stderr.write(`${error.message}\n`);
      samples.push({ atSeconds: -1, leakedOnStop: 1 } as never);
    });
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

export async function loadBench(only?: string[]): Promise<Record<string, unknown>> {
  const parts = only?.length ? only : (process.env.BENCH_LOAD_PARTS ?? 'sockets,soak').split(',');
  return {
    ...(parts.includes('sockets') ? { sockets: await socketScale() } : {}),
    ...(parts.includes('soak') ? { soak: await soak() } : {}),
  };
}

/** `node dist/bench/load.bench.js [sockets] [soak]`: runs the parts and prints the result as JSON; records nothing. */
if (require.main === module) {
  // As jest.config.js does: the worker that scripts/setup.sh built and cached, when not exported.
  if (!process.env.MEDIASOUP_WORKER_BIN) {
    const version = (require('mediasoup/package.json') as { version: string }).version;
    const cached = join(process.env.MEDIASOUP_WORKER_CACHE ?? join(homedir(), '.cache', 'cohost-gateway'), `mediasoup-worker-${version}`, 'mediasoup-worker');
    if (existsSync(cached)) process.env.MEDIASOUP_WORKER_BIN = cached;
  }
  loadBench(process.argv.slice(2)).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      process.exit(0);
    },
    (error: Error) => {
      process.stderr.write(`${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}

export const benchmark: Benchmark = {
  run: loadBench,
  method:
    'The built gateway as a process on loopback. sockets: 2,000 socket.io clients from the bench process (100 hosts, their 100 guests, 1,800 idle viewers); every host sets client mixing (so sessions start no server mix: signalling only) and runs BENCH_LOAD_CYCLES (default 5) ' +
    'invite → accept → end cycles, all hosts at once; round trip = invite emitted → cohost:invited received by the guest. soak: BENCH_SOAK_MINUTES (default 10) of 4 grid mixes (640x360@15) of two RTMP participants each (320x180@15 pushes) ' +
    'plus socket churn (10 connect/apply/cancel/disconnect per second); /metrics sampled every 20 s; heap growth = lowest of the last three samples vs lowest of the first three after the first minute. Rate limits raised for the run.',
  summary: (r) => [
    r.sockets && `| connected sockets | ${r.sockets.sockets} (connected in ${r.sockets.connectMs} ms) | 2000 |`,
    r.sockets && `| invite → invited round trip, ${r.sockets.hosts} hosts × cycles (${r.sockets.inviteToInvitedMs.samples} samples) | p50 ${r.sockets.inviteToInvitedMs.p50} ms, p99 ${r.sockets.inviteToInvitedMs.p99} ms, max ${r.sockets.inviteToInvitedMs.max} ms | p99 <= 50 ms |`,
    r.sockets && `| error rate | ${r.sockets.errors} of ${r.sockets.calls} calls (${(r.sockets.errorRate * 100).toFixed(2)} %) | 0 |`,
    r.soak && `| soak ${r.soak.minutes} min, 4 mixes + churn (${r.soak.churnedSockets} sockets churned, ${r.soak.churnErrors} errors) | heap growth ${r.soak.heapGrowthPct} %, RSS ${r.soak.rssMb.start} → ${r.soak.rssMb.end} MB, mix speeds ${r.soak.mixSpeedsAtEnd.join(', ')} | heap growth < 10 % |`,
    r.soak && `| soak leaks | child processes ${r.soak.childProcesses.baseline} → ${r.soak.childProcesses.during} → ${r.soak.childProcesses.afterStop} after stopping; active handles ${r.soak.activeHandles.baseline} → ${r.soak.activeHandles.afterStop} | back to baseline |`,
  ].filter(Boolean),
  targets: (r) =>
    [
      r.sockets && { figure: 'connected sockets', value: r.sockets.sockets, unit: '', kind: 'min', limit: 2000 },
      r.sockets && { figure: 'invite → invited round trip, p99', value: r.sockets.inviteToInvitedMs.p99, unit: 'ms', kind: 'max', limit: 50 },
      r.sockets && { figure: 'error rate', value: r.sockets.errorRate * 100, unit: '%', kind: 'max', limit: 0 },
      r.soak && { figure: 'soak heap growth', value: r.soak.heapGrowthPct, unit: '%', kind: 'max', limit: 10 },
      r.soak && { figure: 'child processes left after the soak, above baseline', value: r.soak.childProcesses.afterStop - r.soak.childProcesses.baseline, unit: '', kind: 'max', limit: 0 },
    ].filter(Boolean) as Target[],
};
