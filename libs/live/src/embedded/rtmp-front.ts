import { connect, createServer, Server, Socket } from 'node:net';
import { LineLogger } from '@gw/common';
import { loopbackAliasOf } from './loopback-alias';
import { OriginLink, RtmpIntake, RtmpIntent } from './rtmp/rtmp-intake';

/** Where a connection goes, and how to say it ended. */
export interface FrontRoute {
  index: number;
  port: number;
  /** Called once when the connection closes. */
  release(): void;
}

export interface RtmpFrontOptions {
  bind: string;
  port: number;
  /** The process for a connection with this intent; undefined when none can take it. */
  route(intent: RtmpIntent): FrontRoute | undefined;
  /** A client that has not said publish or play within this is dropped. Default 10000 ms. */
  intakeTimeoutMs?: number;
  logger: LineLogger;
}

/** Client bytes held while the link to the process is made; more drops the client. */
const MAX_HELD_BYTES = 8 * 1024 * 1024;

/**
 * The embedded origin's public RTMP port in front of its processes (seed 001):
 * each connection is read until `publish` or `play` names its stream
 * (rtmp/rtmp-intake.ts), handed to the process `route` picks, then piped both ways
 * untouched.
 */
export class RtmpFront {
  readonly #server: Server;
  readonly #options: RtmpFrontOptions;
  readonly #sockets = new Set<Socket>();
  #closed = false;

  static async listen(options: RtmpFrontOptions): Promise<RtmpFront> {
    const front = new RtmpFront(options);
    await new Promise<void>((resolve, reject) => {
      front.#server.once('error', reject);
      front.#server.listen(options.port, options.bind, () => {
        front.#server.off('error', reject);
        resolve();
      });
    });
    front.#server.on('error', (error) => options.logger.error(`origin front (rtmp): ${error.message}`));
    return front;
  }

  private constructor(options: RtmpFrontOptions) {
    this.#options = options;
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  /** Connections open now (clients, not counting their links to processes). */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Stops listening and ends every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.#sockets.add(client);
    const { logger } = this.#options;
    const intake = new RtmpIntake();
    let upstream: Socket | undefined;
    let route: FrontRoute | undefined;
    let held: Buffer[] = [];
    let heldBytes = 0;
    let ended = false;
    // Either side closing ends the other: gracefully, so what one side said last (a refusal's
    // onStatus, say) still reaches the other, and for good a moment later.
    const end = () => {
      clearTimeout(timer);
      if (!ended) {
        ended = true;
        for (const socket of [client, upstream]) {
          if (!socket || socket.destroyed) continue;
          socket.end();
          setTimeout(() => socket.destroy(), 2000).unref();
        }
      }
      if (route) {
        const r = route;
        route = undefined;
        r.release();
      }
    };
    const timer = setTimeout(() => {
      logger.debug(`origin front: ${client.remoteAddress} named no stream in time`);
      end();
    }, this.#options.intakeTimeoutMs ?? 10000);
    client.on('error', () => undefined);
    client.once('close', () => {
      this.#sockets.delete(client);
      end();
    });

    const onClientData = (bytes: Buffer) => {
      if (ended) return;
      if (upstream) {
        held.push(bytes);
        heldBytes += bytes.length;
        if (heldBytes > MAX_HELD_BYTES) end();
        return;
      }
      let result;
      try {
        result = intake.receive(bytes);
      } catch (error) {
        logger.debug(`origin front: ${client.remoteAddress} refused: ${(error as Error).message}`);
        return end();
      }
      for (const reply of result.replies) client.write(reply);
      if (result.intent) linkTo(result.intent);
    };
    client.on('data', onClientData);

    const linkTo = (intent: RtmpIntent) => {
      clearTimeout(timer);
      route = this.#options.route(intent);
      if (!route) {
        logger.warn(`origin front: no origin process for ${intent.kind} ${intent.app}/${intent.stream}`);
        return end();
      }
      const link = new OriginLink(intake.replay, intake.answered, intake.clientChunkSize);
      const socket = connect({ host: '127.0.0.1', port: route.port, localAddress: loopbackAliasOf(client.remoteAddress), noDelay: true });
      upstream = socket;
      socket.on('error', () => undefined);
      socket.once('close', end);
      socket.write(link.hello());
      const onOriginData = (bytes: Buffer) => {
        let out;
        try {
          out = link.receive(bytes);
        } catch (error) {
          logger.warn(`origin front: process ${route?.index} spoke no RTMP: ${(error as Error).message}`);
          return end();
        }
        for (const b of out.toOrigin) socket.write(b);
        if (out.toOrigin.length) {
          // The replay is out: what the client sent meanwhile follows, then the client is piped.
          for (const b of held) socket.write(b);
          held = [];
          client.off('data', onClientData);
          client.pipe(socket);
        }
        for (const b of out.toClient) client.write(b);
        if (link.piping) {
          socket.off('data', onOriginData);
          socket.pipe(client);
        }
      };
      socket.on('data', onOriginData);
    };
  }
}
