import { join } from 'node:path';
import { freeLoopbackPort, LineLogger, SupervisedProcess, TypedEmitter } from '@gw/common';
import { GatewayToOrigin, OriginToGateway, PublishKeyTable, StreamRef } from '../origin-protocol';

/** A publish or play the process reported and has not reported the end of. */
export interface OriginSession extends StreamRef {
  kind: 'publish' | 'play';
}

export interface OriginSlotOptions {
  index: number;
  /** Allowed load (EMBEDDED_ORIGIN_WEIGHTS). */
  weight: number;
  /** Process name in the supervisor's logs and errors. */
  name: string;
  /** How the gateway's own log lines call it. */
  label: string;
  /** Interface the process binds. */
  bind: string;
  /** Fixed ports (the single process on the public ports); unset: free loopback ports picked at each start. */
  rtmpPort?: number;
  httpPort?: number;
  publishGraceMs: number;
  storeDir: string;
  entryScript?: string;
  /** Nice value of the origin processes (on every channel's on-air path; see ON_AIR_PRIORITY). */
  priority?: number;
  /** Delay before restarting a crashed process; doubles per failure up to 10 s. Default 500 ms. */
  restartDelayMs?: number;
  /** The publish-key table to hand a (re)started process. */
  keys: () => PublishKeyTable;
  logger: LineLogger;
}

interface OriginSlotEvents extends Record<string, unknown[]> {
  /** A message from the running process (never from one that already died). */
  message: [OriginToGateway];
  /** The process is ready (again). */
  up: [{ pid: number }];
  /** The process died; `sessions` are what it held, all ended with it. It is restarted. */
  down: [{ reason: string; sessions: Map<string, OriginSession> }];
}


/**
 * One node-media-server process of the embedded origin (origin-process.ts),
 * supervised: restarted when it dies, with the key table delivered before it
 * takes a connection. Keeps the publishes and plays it reported, so their ends
 * can be reported when it dies without saying so.
 */
export class OriginSlot extends TypedEmitter<OriginSlotEvents> {
  readonly #options: OriginSlotOptions;
  #process: SupervisedProcess | undefined;
  #ports: { rtmp: number; http: number } | undefined;
  readonly #sessions = new Map<string, OriginSession>();
  #stopped = true;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(options: OriginSlotOptions) {
    super();
    this.#options = options;
  }

  get index(): number {
    return this.#options.index;
  }

  get weight(): number {
    return this.#options.weight;
  }

  get running(): boolean {
    return this.#process?.running ?? false;
  }

  get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined;
  }

  /** The ports of the running process. */
  get ports(): { rtmp: number; http: number } | undefined {
    return this.running ? this.#ports : undefined;
  }

  get sessions(): ReadonlyMap<string, OriginSession> {
    return this.#sessions;
  }

  count(kind: OriginSession['kind']): number {
    let n = 0;
    for (const session of this.#sessions.values()) if (session.kind === kind) n += 1;
    return n;
  }

  send(message: GatewayToOrigin): void {
    this.#process?.send(message);
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#spawn();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    await this.#process?.stop();
  }

  async #spawn(): Promise<void> {
    const o = this.#options;
    const ports = { rtmp: o.rtmpPort ?? (await freeLoopbackPort()), http: o.httpPort ?? (await freeLoopbackPort()) };
    const proc = await SupervisedProcess.start({
      name: o.name,
      command: o.entryScript ?? join(__dirname, 'origin-process.js'),
      args: [],
      fork: true,
      priority: o.priority,
      env: {
        ...process.env,
        ORIGIN_RTMP_PORT: String(ports.rtmp),
        ORIGIN_HTTP_PORT: String(ports.http),
        ORIGIN_BIND: o.bind,
        ORIGIN_PUBLISH_GRACE_MS: String(o.publishGraceMs),
        ORIGIN_STORE_DIR: o.storeDir,
      },
      readiness: { kind: 'message', match: (m) => (m as OriginToGateway)?.type === 'ready' },
      stderrWarnPattern: /\[(WARN|ERROR)\]/,
      logger: o.logger,
      // Hooked up before readiness so the first key table is delivered at once.
      onSpawn: (p) => {
        p.on('message', (m) => {
          if (p.running) this.#onMessage(m as OriginToGateway);
        });
        p.send({ type: 'keys', keys: o.keys() } satisfies GatewayToOrigin);
      },
    });
    this.#process = proc;
    this.#ports = ports;
    o.logger.log(`${o.label} running (pid ${proc.pid}): rtmp ${o.bind}:${ports.rtmp}, http-flv ${o.bind}:${ports.http}`);
    this.emit('up', { pid: proc.pid! });
    proc.once('died', (error) => {
      const sessions = new Map(this.#sessions);
      this.#sessions.clear();
      this.emit('down', { reason: error.message, sessions });
      this.#scheduleRestart(o.restartDelayMs ?? 500);
    });
  }

  #scheduleRestart(delayMs: number): void {
    if (this.#stopped) return;
    this.#restartTimer = setTimeout(() => {
      if (this.#stopped) return;
      this.#spawn().catch((error: Error) => {
        this.#options.logger.error(`${this.#options.label} restart failed: ${error.message}`);
        this.#scheduleRestart(Math.min(delayMs * 2, 10000));
      });
    }, delayMs);
  }

  #onMessage(message: OriginToGateway): void {
    switch (message?.type) {
      case 'publish':
        this.#sessions.set(message.sessionId, { kind: 'publish', app: message.app, stream: message.stream });
        break;
      case 'play':
        this.#sessions.set(message.sessionId, { kind: 'play', app: message.app, stream: message.stream });
        break;
      case 'unpublish':
      case 'playDone':
        this.#sessions.delete(message.sessionId);
        break;
    }
    this.emit('message', message);
  }
}

/** Where process `index` of `count` keeps node-media-server's store: today's folder for a single process. */
export function slotStoreDir(storeDir: string, index: number, count: number): string {
  return count === 1 ? storeDir : join(storeDir, `p${index}`);
}
