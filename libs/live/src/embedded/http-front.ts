import { createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import { connect, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { LineLogger } from '@gw/common';
import { loopbackAliasOf } from './loopback-alias';
import { FrontRoute } from './rtmp-front';

/**
 * A handler that serves some paths on the origin's HTTP port in the gateway
 * itself (e.g. HLS playlists and segments, which every process could serve
 * alike). Returns true when it took the request.
 */
export type OriginHttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface HttpFrontOptions {
  bind: string;
  port: number;
  /** The process for an HTTP-FLV play (GET) or publish (POST) of `app/stream`. */
  route(app: string, stream: string, kind: 'play' | 'publish'): FrontRoute | undefined;
  /** A running process for any other path (node-media-server answers it as it would alone). */
  any(): { port: number } | undefined;
  logger: LineLogger;
}

/** node-media-server's HTTP-FLV (and WebSocket-FLV) path: `/<app>/<stream>.flv`. */
const FLV_PATH = /^\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)\.flv$/;

function flvStreamOf(url: string | undefined): { app: string; stream: string } | undefined {
  const path = (url ?? '/').split('?')[0];
  const match = FLV_PATH.exec(path);
  return match ? { app: match[1], stream: match[2] } : undefined;
}

/**
 * The embedded origin's public HTTP port in front of its processes: an HTTP-FLV
 * play goes to the process that holds (or will hold) its stream, streamed through
 * without buffering and closed upstream when the viewer goes; routes added with
 * `addRoute` are served here; anything else goes to a running process.
 */
export class HttpFront {
  readonly #server: Server;
  readonly #options: HttpFrontOptions;
  readonly #routes: OriginHttpRoute[] = [];
  readonly #sockets = new Set<Duplex>();
  #closed = false;

  static async listen(options: HttpFrontOptions): Promise<HttpFront> {
    const front = new HttpFront(options);
    await new Promise<void>((resolve, reject) => {
      front.#server.once('error', reject);
      front.#server.listen(options.port, options.bind, () => {
        front.#server.off('error', reject);
        resolve();
      });
    });
    front.#server.on('error', (error) => options.logger.error(`origin front (http): ${error.message}`));
    return front;
  }

  private constructor(options: HttpFrontOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => this.#request(req, res));
    // A live stream has no end: never time a response out.
    this.#server.requestTimeout = 0;
    this.#server.on('connection', (socket) => {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
  }

  /** Serves matching requests in the gateway, before the processes see them (the HLS hook). */
  addRoute(route: OriginHttpRoute): void {
    this.#routes.push(route);
  }

  /** Stops listening and ends every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #target(req: IncomingMessage): { port: number; release(): void } | undefined {
    const flv = flvStreamOf(req.url);
    if (flv) return this.#options.route(flv.app, flv.stream, req.method === 'POST' ? 'publish' : 'play');
    const any = this.#options.any();
    return any && { port: any.port, release: () => undefined };
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    for (const route of this.#routes) if (route(req, res)) return;
    const target = this.#target(req);
    if (!target) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('no origin process available\n');
      return;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      target.release();
    };
    const upstream = request({
      host: '127.0.0.1',
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      localAddress: loopbackAliasOf(req.socket.remoteAddress),
      agent: false,
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders();
      answer.pipe(res);
      answer.once('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('origin process unavailable\n');
      else res.destroy();
      release();
    });
    // The viewer went (or the answer ended): the upstream goes too.
    res.once('close', () => {
      upstream.destroy();
      release();
    });
    req.pipe(upstream);
  }

  /** WebSocket-FLV: the upgrade and everything after it go through as bytes. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const flv = flvStreamOf(req.url?.split('.')[0] + '.flv');
    const target = flv ? this.#options.route(flv.app, flv.stream, 'play') : this.#options.any() && { ...this.#options.any()!, release: () => undefined };
    socket.on('error', () => undefined);
    if (!target) return void socket.destroy();
    this.#sockets.add(socket);
    const upstream: Socket = connect({ host: '127.0.0.1', port: target.port, localAddress: loopbackAliasOf(req.socket.remoteAddress), noDelay: true });
    upstream.on('error', () => undefined);
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    socket.pipe(upstream);
    upstream.pipe(socket);
    let released = false;
    const end = () => {
      socket.destroy();
      upstream.destroy();
      this.#sockets.delete(socket);
      if (!released) {
        released = true;
        target.release();
      }
    };
    socket.once('close', end);
    upstream.once('close', end);
  }
}
