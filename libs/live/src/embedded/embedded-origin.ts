import { join } from 'node:path';
import { LineLogger, SupervisedProcess, TypedEmitter } from '@gw/common';
import { LiveOrigin, LiveOriginEvents } from '../live-origin';
import { GatewayToOrigin, OriginToGateway, PublishKeyTable, StreamApp } from '../origin-protocol';
import { PublishKeys } from '../publish-keys';

export interface EmbeddedOriginOptions {
  /** Interface to bind. */
  bind: string;
  /** Host name written into URLs handed out. */
  publicHost: string;
  rtmpPort: number;
  httpPort: number;
  /** Base of viewers' HTTP-FLV URLs. */
  playUrlBase: string;
  publishGraceMs: number;
  /** Where node-media-server keeps its small JSON store. */
  storeDir: string;
  /** Compiled origin-process.js. Default: the sibling of this file. */
  entryScript?: string;
  /** Delay before restarting a crashed origin; doubles per failure up to 10 s. Default 500 ms. */
  restartDelayMs?: number;
  logger: LineLogger;
}

/**
 * The bundled RTMP/HTTP-FLV origin, run as a supervised child process
 * (see origin-process.ts for why). Restarts it when it dies and reports
 * `down`/`up` so channel state can be corrected.
 */
export class EmbeddedOrigin extends TypedEmitter<LiveOriginEvents> implements LiveOrigin {
  readonly kind = 'embedded' as const;
  readonly sendsCachedGop = true;
  readonly #options: EmbeddedOriginOptions;
  #process: SupervisedProcess | undefined;
  readonly #keys = new PublishKeys();
  #stopped = false;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(options: EmbeddedOriginOptions) {
    super();
    this.#options = options;
  }

  get up(): boolean {
    return this.#process?.running ?? false;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  publishUrl(app: StreamApp, stream: string, key: string): string {
    const { publicHost, rtmpPort } = this.#options;
    return `rtmp://${publicHost}:${rtmpPort}/${app}/${stream}?key=${encodeURIComponent(key)}`;
  }

  pullUrl(app: StreamApp, stream: string): string {
    const { bind, rtmpPort } = this.#options;
    const host = bind === '0.0.0.0' ? '127.0.0.1' : bind;
    return `rtmp://${host}:${rtmpPort}/${app}/${stream}`;
  }

  /** Unchanged: the embedded origin accepts only keys from its table, so outputs to it carry theirs. */
  ownPublishUrl(url: string): string {
    return url;
  }

  playUrls(channelId: string): { rtmp: string; flv: string } {
    const { publicHost, rtmpPort, playUrlBase } = this.#options;
    return { rtmp: `rtmp://${publicHost}:${rtmpPort}/live/${channelId}`, flv: `${playUrlBase}/${channelId}.flv` };
  }

  kickPublisher(app: StreamApp, stream: string): void {
    this.#process?.send({ type: 'kickPublisher', app, stream } satisfies GatewayToOrigin);
  }

  setPublishKeys(owner: string, table: PublishKeyTable): void {
    const keys = this.#keys.set(owner, table);
    this.#process?.send({ type: 'keys', keys } satisfies GatewayToOrigin);
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
    const proc = await SupervisedProcess.start({
      name: 'origin',
      command: o.entryScript ?? join(__dirname, 'origin-process.js'),
      args: [],
      fork: true,
      env: {
        ...process.env,
        ORIGIN_RTMP_PORT: String(o.rtmpPort),
        ORIGIN_HTTP_PORT: String(o.httpPort),
        ORIGIN_BIND: o.bind,
        ORIGIN_PUBLISH_GRACE_MS: String(o.publishGraceMs),
        ORIGIN_STORE_DIR: o.storeDir,
      },
      readiness: { kind: 'message', match: (m) => (m as OriginToGateway)?.type === 'ready' },
      stderrWarnPattern: /\[(WARN|ERROR)\]/,
      logger: o.logger,
      // Hooked up before readiness so the first key table is delivered at once.
      onSpawn: (p) => {
        p.on('message', (m) => this.#onMessage(m as OriginToGateway));
        p.send({ type: 'keys', keys: this.#keys.merged() } satisfies GatewayToOrigin);
      },
    });
    this.#process = proc;
    o.logger.log(`embedded origin running (pid ${proc.pid}): rtmp ${o.bind}:${o.rtmpPort}, http-flv ${o.bind}:${o.httpPort}`);
    this.emit('up');
    proc.once('died', (error) => {
      this.emit('down', { reason: error.message });
      this.#scheduleRestart(o.restartDelayMs ?? 500);
    });
  }

  #scheduleRestart(delayMs: number): void {
    if (this.#stopped) return;
    this.#restartTimer = setTimeout(() => {
      if (this.#stopped) return;
      this.#spawn().catch((error: Error) => {
        this.#options.logger.error(`embedded origin restart failed: ${error.message}`);
        this.#scheduleRestart(Math.min(delayMs * 2, 10000));
      });
    }, delayMs);
  }

  #onMessage(message: OriginToGateway): void {
    switch (message?.type) {
      case 'publish':
        this.emit('publish', { app: message.app, stream: message.stream, sessionId: message.sessionId, role: message.role });
        break;
      case 'unpublish':
        this.emit('unpublish', { app: message.app, stream: message.stream, sessionId: message.sessionId });
        break;
      case 'publishRejected':
        this.emit('publishRejected', { path: message.path, reason: message.reason });
        break;
      case 'play':
        this.emit('play', { app: message.app, stream: message.stream, sessionId: message.sessionId, protocol: message.protocol });
        break;
      case 'playDone':
        this.emit('playDone', { app: message.app, stream: message.stream, sessionId: message.sessionId });
        break;
    }
  }
}
