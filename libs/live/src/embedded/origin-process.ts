/**
 * Entry point of the embedded live origin, run as a child process of the gateway
 * (forked with an IPC channel). It wraps node-media-server v4: RTMP ingest and
 * play, HTTP-FLV play, GOP cache. Why a separate process: node-media-server keeps
 * its state in module-level singletons (one server per process) and exits the
 * process when a port is taken; a child lets the gateway supervise, restart and
 * stop it like any other media process.
 *
 * Publish authentication: each channel has secret keys (`?key=` on the publish
 * URL) kept by the gateway, which sends the table here. node-media-server's own
 * check is an MD5-signed `sign` query with one global secret. We enable that
 * check with a random per-process secret and, in the synchronous `prePublish`
 * hook that runs just before it, write a valid `sign` only when the offered key
 * matches. A wrong key thus fails node-media-server's own path, which refuses
 * the session before any state is kept.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { GatewayToOrigin, INGEST_APP, LIVE_APP, OriginToGateway, PublishKeyTable, StreamRef, streamKey } from '../origin-protocol';

// node-media-server ships no types.
/* eslint-disable @typescript-eslint/no-require-imports */
const NodeMediaServer = require('node-media-server');
const nmsLogger = require('node-media-server/src/core/logger.js');

interface NmsSession {
  id: string;
  ip: string;
  protocol?: string;
  streamApp: string;
  streamName: string;
  streamPath: string;
  streamQuery: Record<string, string | undefined>;
  socket?: { once(event: 'close', cb: () => void): void };
  broadcast?: { publishGraceMs: number; publisher?: unknown; _publishGraceTimer?: unknown };
}

/**
 * Detaches a refused publisher from the stream's broadcast. node-media-server
 * ends a refused publisher's socket, but media it already sent in the same
 * reads is still broadcast to the stream's players (a refused intruder's frames
 * corrupted the channel); a detached session's packets go nowhere.
 */
function quarantine(session: NmsSession): void {
  const detached = { broadcastMessage() {}, donePlay() {}, donePublish() {}, postPlay: () => 'refused', postPublish: () => 'refused', publishGraceMs: 0 };
  (session as unknown as { broadcast: unknown }).broadcast = detached;
}

const rtmpPort = Number(process.env.ORIGIN_RTMP_PORT);
const httpPort = Number(process.env.ORIGIN_HTTP_PORT);
const bind = process.env.ORIGIN_BIND ?? '127.0.0.1';
const publishGraceMs = Number(process.env.ORIGIN_PUBLISH_GRACE_MS ?? 3000);
const storeDir = process.env.ORIGIN_STORE_DIR ?? './data/origin';
const signSecret = randomBytes(24).toString('hex');

let keys: PublishKeyTable = {};
const send = (message: OriginToGateway) => process.send?.(message);

// All of node-media-server's console output goes to stderr, where the
// supervisor logs it line by line; stdout stays quiet.
console.log = (...args: unknown[]) => process.stderr.write(`${args.join(' ')}\n`);

function streamOf(session: NmsSession): StreamRef | undefined {
  const app = session.streamApp;
  if ((app !== LIVE_APP && app !== INGEST_APP) || !session.streamName) return undefined;
  return { app, stream: session.streamName };
}

function validSign(streamPath: string): string {
  const exp = Math.floor(Date.now() / 1000) + 60;
  const hash = createHash('md5').update(`${streamPath}-${exp}-${signSecret}`).digest('hex');
  return `${exp}-${hash}`;
}

function start(): void {
  const nms = new NodeMediaServer({
    bind,
    rtmp: { port: rtmpPort },
    http: { port: httpPort },
    auth: { publish: true, play: false, secret: signSecret },
    record: { auto: false },
    store: { path: storeDir },
    webadmin: { enable: false },
  });
  nmsLogger.level = process.env.ORIGIN_LOG_LEVEL ?? 'info';

  nms.on('prePublish', (session: NmsSession) => {
    const ref = streamOf(session);
    const offered = session.streamQuery?.key;
    const role = ref && offered ? keys[streamKey(ref.app, ref.stream)]?.[offered] : undefined;
    if (!role || !ref) {
      delete session.streamQuery.sign;
      send({ type: 'publishRejected', path: session.streamPath, reason: 'bad publish key' });
      quarantine(session);
      return;
    }
    const current = session.broadcast;
    if (current?.publisher && current.publisher !== session && !current._publishGraceTimer) {
      // One publisher per stream; a dropped one resuming within the grace window is not a second.
      delete session.streamQuery.sign;
      send({ type: 'publishRejected', path: session.streamPath, reason: 'stream already has a publisher' });
      quarantine(session);
      return;
    }
    session.streamQuery.sign = validSign(session.streamPath);
    // A dropped publisher may resume within this window and keep the timeline.
    if (session.broadcast) session.broadcast.publishGraceMs = publishGraceMs;
    const sessionId = String(session.id);
    send({ type: 'publish', ...ref, sessionId, role });
    // Report the end when the connection closes, not when the grace ends.
    session.socket?.once('close', () => send({ type: 'unpublish', ...ref, sessionId }));
  });
  nms.on('postPlay', (session: NmsSession) => {
    const ref = streamOf(session);
    if (ref) send({ type: 'play', ...ref, sessionId: String(session.id), protocol: session.protocol ?? 'unknown' });
  });
  nms.on('donePlay', (session: NmsSession) => {
    const ref = streamOf(session);
    if (ref) send({ type: 'playDone', ...ref, sessionId: String(session.id) });
  });

  void nms.run();
  void Promise.all([whenListening(rtmpPort), whenListening(httpPort)]).then(() => send({ type: 'ready' }));

  const shutdown = () => {
    void nms.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/** Readiness is the port accepting connections, not a sleep. */
function whenListening(port: number): Promise<void> {
  return new Promise((resolve) => {
    const attempt = () => {
      const socket = connect({ port, host: bind === '0.0.0.0' ? '127.0.0.1' : bind });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

const Context = require('node-media-server/src/core/context.js');

let started = false;
process.on('message', (message: GatewayToOrigin) => {
  if (message?.type === 'kickPublisher') {
    const publisher = Context.broadcasts.get(`/${message.app}/${message.stream}`)?.publisher as NmsSession & { close?: () => void } | undefined;
    publisher?.close?.();
    return;
  }
  if (message?.type !== 'keys') return;
  keys = message.keys;
  if (!started) {
    started = true;
    start();
  }
});
// The gateway is gone (even if it was SIGKILLed): never outlive it.
process.on('disconnect', () => process.exit(0));
