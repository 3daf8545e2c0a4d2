import { LineLogger, TypedEmitter } from '@gw/common';
import { LiveOrigin, LiveOriginEvents } from '../live-origin';
import { GatewayToOrigin, OriginToGateway, PublisherRole, PublishKeyTable, StreamApp, streamKey } from '../origin-protocol';
import { PublishKeys } from '../publish-keys';
import { HttpFront, OriginHttpRoute } from './http-front';
import { OriginPlacement, streamGroup } from './origin-placement';
import { OriginSlot, slotStoreDir } from './origin-slot';
import { FrontRoute, RtmpFront } from './rtmp-front';

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
  /** Where node-media-server keeps its small JSON store (one folder per process when there are several). */
  storeDir: string;
  /**
   * node-media-server processes behind the one RTMP and one HTTP port. Default 1:
   * the process itself listens on the public ports, with no front.
   */
  processes?: number;
  /** Allowed load of each process. Default 1 each. */
  weights?: number[];
  /** Compiled origin-process.js. Default: the sibling of this file. */
  entryScript?: string;
  /** Nice value of the origin processes (on every channel's on-air path; see ON_AIR_PRIORITY). */
  priority?: number;
  /** Delay before restarting a crashed origin process; doubles per failure up to 10 s. Default 500 ms. */
  restartDelayMs?: number;
  logger: LineLogger;
}

/** One origin process as GET /admin/origin shows it. */
export interface OriginProcessView {
  index: number;
  pid: number | null;
  weight: number;
  /** Streams published on it now (a channel's host source and its program are two). */
  publishers: number;
  /** Plays of its streams now, the gateway's own pulls included. */
  players: number;
  /** Stream groups placed on it (a channel counts once; what the weights divide). */
  groups: number;
}

/**
 * The bundled RTMP/HTTP-FLV origin: node-media-server run as supervised child
 * processes (see origin-process.ts for why), restarted when they die.
 *
 * With one process (EMBEDDED_ORIGIN_PROCESSES=1) it listens on the public ports
 * itself, and its death is the origin's `down`. With several (seed 001), each
 * listens on loopback ports of its own and the gateway's fronts take the public
 * ones: rtmp-front.ts reads each RTMP connection until it names its stream,
 * http-front.ts reads the HTTP-FLV path, and origin-placement.ts picks the
 * process: pushes spread by weight, plays to where their stream is. One process
 * dying then ends only what it held: its publishes and plays are reported ended
 * one by one (`unpublish`, `playDone`), the others keep serving, and it is
 * replaced; its hosts come back on air when they reconnect.
 */
export class EmbeddedOrigin extends TypedEmitter<LiveOriginEvents> implements LiveOrigin {
  readonly kind = 'embedded' as const;
  readonly sendsCachedGop = true;
  readonly #options: EmbeddedOriginOptions;
  readonly #slots: OriginSlot[];
  readonly #placement: OriginPlacement;
  readonly #keys = new PublishKeys();
  #rtmpFront: RtmpFront | undefined;
  #httpFront: HttpFront | undefined;
  readonly #httpRoutes: OriginHttpRoute[] = [];

  constructor(options: EmbeddedOriginOptions) {
    super();
    this.#options = options;
    const count = options.processes ?? 1;
    const weights = options.weights ?? Array.from({ length: count }, () => 1);
    if (weights.length !== count) throw new Error(`${count} origin processes need ${count} weights`);
    // A group outlives its connections by node-media-server's publish grace (and a
    // little), so a publisher resuming within it reaches the timeline it left.
    this.#placement = new OriginPlacement(weights, options.publishGraceMs + 2000);
    const single = count === 1;
    this.#slots = weights.map(
      (weight, index) =>
        new OriginSlot({
          index,
          weight,
          name: single ? 'origin' : `origin-${index}`,
          label: single ? 'embedded origin' : `embedded origin process ${index}`,
          bind: single ? options.bind : '127.0.0.1',
          rtmpPort: single ? options.rtmpPort : undefined,
          httpPort: single ? options.httpPort : undefined,
          publishGraceMs: options.publishGraceMs,
          storeDir: slotStoreDir(options.storeDir, index, count),
          entryScript: options.entryScript,
          priority: options.priority,
          restartDelayMs: options.restartDelayMs,
          keys: () => this.#keys.merged(),
          logger: options.logger,
        }),
    );
    for (const slot of this.#slots) {
      slot.on('message', (m) => this.#onMessage(m));
      slot.on('up', () => this.emit('up'));
      slot.on('down', ({ reason, sessions }) => {
        if (single) {
          this.emit('down', { reason });
          return;
        }
        this.#placement.forgetProcess(slot.index);
        this.#options.logger.warn(`origin process ${slot.index} died; the others keep serving: ${reason}`);
        for (const [sessionId, s] of sessions) {
          if (s.kind === 'publish') this.emit('unpublish', { app: s.app as StreamApp, stream: s.stream, sessionId });
          else this.emit('playDone', { app: s.app as StreamApp, stream: s.stream, sessionId });
        }
      });
    }
  }

  /** True while every origin process runs (one being replaced makes the origin degraded). */
  get up(): boolean {
    return this.#slots.every((slot) => slot.running);
  }

  /** The first origin process's pid. */
  get pid(): number | undefined {
    return this.#slots[0].pid;
  }

  /** Each origin process, for GET /admin/origin. */
  processes(): OriginProcessView[] {
    const groups = this.#placement.loads(Date.now());
    return this.#slots.map((slot) => ({
      index: slot.index,
      pid: slot.pid ?? null,
      weight: slot.weight,
      publishers: slot.count('publish'),
      players: slot.count('play'),
      groups: this.#slots.length === 1 ? new Set([...slot.sessions.values()].map((s) => streamGroup(s.app, s.stream))).size : groups[slot.index],
    }));
  }

  /**
   * Serves matching requests on the origin's HTTP port in the gateway (the hook
   * for HLS). Only with several processes, where the gateway owns that port; a
   * single process serves it alone, as before.
   */
  addHttpRoute(route: OriginHttpRoute): void {
    this.#httpRoutes.push(route);
    this.#httpFront?.addRoute(route);
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
    for (const slot of this.#slots) slot.send({ type: 'kickPublisher', app, stream } satisfies GatewayToOrigin);
  }

  publishRole(app: StreamApp, stream: string, key: string): PublisherRole | undefined {
    return this.#keys.roleOf(streamKey(app, stream), key);
  }

  setPublishKeys(owner: string, table: PublishKeyTable): void {
    const keys = this.#keys.set(owner, table);
    for (const slot of this.#slots) slot.send({ type: 'keys', keys } satisfies GatewayToOrigin);
  }

  async start(): Promise<void> {
    // One after another: process 0 gets the lowest pid, as a single origin's tools expect.
    for (const slot of this.#slots) await slot.start();
    if (this.#slots.length === 1) return;
    const o = this.#options;
    this.#rtmpFront = await RtmpFront.listen({
      bind: o.bind,
      port: o.rtmpPort,
      route: (intent) => this.#route(intent.app, intent.stream, 'rtmp'),
      logger: o.logger,
    });
    this.#httpFront = await HttpFront.listen({
      bind: o.bind,
      port: o.httpPort,
      route: (app, stream) => this.#route(app, stream, 'http'),
      any: () => {
        const ports = this.#slots.find((slot) => slot.ports)?.ports;
        return ports && { port: ports.http };
      },
      logger: o.logger,
    });
    for (const route of this.#httpRoutes) this.#httpFront.addRoute(route);
    o.logger.log(
      `embedded origin front: rtmp ${o.bind}:${o.rtmpPort}, http-flv ${o.bind}:${o.httpPort} → ${this.#slots.length} processes (weights ${this.#slots.map((s) => s.weight).join(':')})`,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([this.#rtmpFront?.close(), this.#httpFront?.close()]);
    await Promise.all(this.#slots.map((slot) => slot.stop()));
  }

  /** The process a new connection of `app/stream` goes to (RTMP or HTTP-FLV, publish or play). */
  #route(app: string, stream: string, protocol: 'rtmp' | 'http'): FrontRoute | undefined {
    const group = streamGroup(app, stream);
    const index = this.#placement.attach(group, (i) => this.#slots[i].ports !== undefined, Date.now());
    const ports = index === undefined ? undefined : this.#slots[index].ports;
    if (index === undefined || !ports) return undefined;
    return { index, port: ports[protocol], release: () => this.#placement.release(group, index, Date.now()) };
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
