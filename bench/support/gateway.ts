import { ChildProcess, spawn } from 'node:child_process';
import { io, Socket } from 'socket.io-client';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descendantPids, freePort, isRunning, waitFor } from './processes';

/** The repository root: the nearest folder up with a package.json (this file runs from source in tests and from dist/ in benchmarks). */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = join(dir, '..');
  return dir;
}
const MAIN = join(repoRoot(), 'dist', 'apps', 'gateway', 'src', 'main.js');

export interface RunningGateway {
  baseUrl: string;
  adminKey: string;
  dataDir: string;
  env: Record<string, string>;
  rtmpPort: number;
  httpPort: number;
  pid: number;
  child: ChildProcess;
  /** Everything the gateway printed so far. */
  output: () => string;
  /** Admin-authenticated JSON request. */
  admin: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;
  /** Request with an arbitrary set of headers. */
  request: (method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; raw?: string }) => Promise<{ status: number; body: any }>;
  stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let portBase = 42000 + Math.floor(Math.random() * 40) * 100;

export interface StartGatewayOptions {
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  /** Data dir; default a fresh temporary one. */
  dataDir?: string;
  /** HTTP port; default a free one. */
  port?: number;
  /**
   * Address the gateway binds (HOST), announces and listens for RTC on
   * (PUBLIC_HOST, RTC_LISTEN_IP unless `env` sets them), and where baseUrl
   * points. Default 127.0.0.1.
   */
  host?: string;
  /**
   * A command the gateway is started through, which must exec its arguments
   * (so the pid stays the gateway's), e.g. `['ip', 'netns', 'exec', ns]` to run it
   * in a network namespace (test/support/netns.ts). Default none.
   */
  wrapper?: string[];
}

/**
 * Starts the built gateway (dist/) as a real process on loopback (or on
 * `host`, through `wrapper`), with its own data dir, free ports and a private
 * RTC port range. Resolves once it printed "gateway ready".
 */
export async function startGateway(options: StartGatewayOptions = {}): Promise<RunningGateway> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gw-e2e-'));
  const [port, rtmpPort, httpPort] = [options.port ?? (await freePort()), await freePort(), await freePort()];
  const rtcMin = portBase;
  portBase = portBase >= 47800 ? 42000 : portBase + 100;
  const adminKey = 'e2e-admin-key-0123456789';
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: host,
    ...(options.host ? { PUBLIC_HOST: host, RTC_LISTEN_IP: host } : {}),
    EMBEDDED_RTMP_PORT: String(rtmpPort),
    EMBEDDED_HTTP_PORT: String(httpPort),
    RTC_MIN_PORT: String(rtcMin),
    RTC_MAX_PORT: String(rtcMin + 99),
    SFU_WORKERS: '2',
    ADMIN_API_KEY: adminKey,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'log',
    // The embedded TURN server would take the fixed TURN_PORT (3478) in every gateway a run starts;
    // specs that need it (turn.e2e-spec.ts) turn it on with a free port of their own.
    TURN: 'off',
    // Likewise the SRT ingest's fixed SRT_PORT (10080): srt.e2e-spec.ts gives it a free one.
    SRT_PORT: '0',
    SRTLA_PORT: '0',
    // Mix admission (NODE_CPU_BUDGET, default cores × 0.8) would refuse the many mixes some specs and
    // benches run on purpose, past what one machine sustains; the admission tests set a real budget.
    NODE_CPU_BUDGET: '64',
    ...options.env,
  };
  const [command, ...args] = [...(options.wrapper ?? []), process.execPath, MAIN];
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const baseUrl = `http://${host}:${env.PORT}`;
  // Ready, or exited (polling stops then too, so a failed start leaves no timer behind).
  let gone: { code: number | null } | undefined;
  void exited.then((result) => (gone = result));
  await waitFor('gateway ready', () => (output.includes('gateway ready') || gone ? true : undefined), 30000);
  if (gone) throw new Error(`gateway exited (${gone.code}) before ready:\n${output}`);

  const request: RunningGateway['request'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    let payload: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(opts.body);
    } else if (opts.raw !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body: payload });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body };
  };

  return {
    baseUrl,
    adminKey,
    dataDir,
    env,
    rtmpPort: Number(env.EMBEDDED_RTMP_PORT),
    httpPort: Number(env.EMBEDDED_HTTP_PORT),
    pid: child.pid!,
    child,
    output: () => output,
    request,
    admin: (method, path, body) => request(method, path, { body, headers: { 'x-api-key': adminKey } }),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      const descendants = descendantPids(child.pid!);
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      const result = await exited;
      clearTimeout(timer);
      // Anything the gateway failed to end is a leak: kill it so tests stay clean, and report it.
      const leaked = descendants.filter(isRunning);
      const described = leaked.map((pid) => `${pid} (${commandLine(pid)})`);
      for (const pid of leaked) process.kill(pid, 'SIGKILL');
      if (leaked.length) throw new Error(`gateway left processes behind: ${described.join(', ')}`);
      return result;
    },
  };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 300);
  } catch {
    return '?';
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A socket.io client of the gateway authenticated with `token`; rejects on a refused handshake. */
export function connectWithToken(gw: RunningGateway, token: string): Promise<Socket> {
  const socket = io(gw.baseUrl, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** A socket for a fresh token of `userId` in `role` (scoped to `channelId` if given). */
export async function connectAs(gw: RunningGateway, userId: string, role: string, channelId?: string): Promise<Socket> {
  const token = (await gw.admin('POST', '/api/v1/tokens', { userId, role, ...(channelId ? { channelId } : {}) })).body.token;
  return connectWithToken(gw, token);
}

/** Each running mediasoup worker's pid by slot, from the gateway's /metrics. */
export async function workerPids(gw: RunningGateway): Promise<Map<number, number>> {
  const metrics = (await gw.request('GET', '/metrics')).body as string;
  return new Map([...metrics.matchAll(/gateway_sfu_worker_cpu_seconds\{slot="(\d+)",pid="(\d+)"\}/g)].map((m) => [Number(m[1]), Number(m[2])]));
}

/** Emits a request and resolves with its ack (`{ok, …}`); rejects if no ack comes within 20 s. */
export function ask(socket: Socket, event: string, payload: object): Promise<any> {
  return socket.timeout(20000).emitWithAck(event, payload) as Promise<any>;
}

/** The next `event` the socket receives; rejects if none comes within `timeoutMs`. */
export function nextEvent<T = any>(socket: Socket, event: string, timeoutMs = 20000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    socket.once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}
