import { RemoteInfo, Socket } from 'node:dgram';
import { bindUdpSocket, freeLoopbackUdpPort, LineLogger, SupervisedProcess } from '@gw/common';
import { buildRejection, HANDSHAKE_CONCLUSION, HANDSHAKE_INDUCTION, parseHandshake, parseStreamId, REJECT, StreamRequest } from './srt-packet';

/** Where a caller's stream goes, or why it may not. */
export type SrtRoute = { rtmpUrl: string; label: string } | { reject: number; reason: string };

export interface SrtIngestOptions {
  /** UDP port callers reach (SRT_PORT) and the interface it listens on. */
  port: number;
  bind: string;
  srtLiveTransmitPath: string;
  ffmpegPath: string;
  /** SRT receive latency (ms) the gateway's side asks for; SRT uses the larger of both sides'. */
  latencyMs: number;
  /** Decides a caller's stream id (parsed) into the RTMP URL its stream is pushed to. */
  route: (request: StreamRequest) => SrtRoute;
  /**
   * The listener's reorder tolerance for a caller (address:port), in packets
   * (SRT's lossmaxttl): REORDER_TOLERANCE_PACKETS for a bonded caller (the
   * SRTLA receiver's), whose packets overtake one another; default 0 (a gap
   * is NAKed at once, as SRT does over one path).
   */
  reorderTolerance?: (caller: string) => number;
  /** Callers connecting or connected at once; more get OVERLOAD. Default 64. */
  maxSessions?: number;
  logger: LineLogger;
}

/** What the stream may send before its remuxer runs (a few seconds of a high-rate push). */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** How long a remuxer may take to write out what it holds once its caller is gone. */
const REMUX_DRAIN_MS = 3000;
/** A caller that went quiet this long is gone (SRT keepalives come every second). */
const IDLE_MS = 5000;
/** A caller that has not concluded its handshake this long after its induction is dropped. */
const HANDSHAKE_MS = 5000;
/**
 * A bonded caller's reorder tolerance (SRT's lossmaxttl), in packets: a gap in
 * the sequence is reported lost only once this many later packets came (libsrt
 * starts at it and lowers it while packets keep coming in order). A bonded
 * caller's packets come over several paths and overtake one another; without
 * it every overtaken packet is NAKed and sent again for nothing. A caller over
 * one path gets none: its gaps are losses, best NAKed at once.
 */
export const REORDER_TOLERANCE_PACKETS = 4;
/** A remuxer that dies while its caller still pushes is started again, at most this many times a minute. */
const REMUX_RESTARTS_PER_MINUTE = 5;

/**
 * SRT ingest on one UDP port, routed by stream id: hosts' encoders, phones
 * and bonding receivers push MPEG-TS over SRT and it goes on air exactly as an
 * RTMP push does (it is remuxed, not re-encoded, into the RTMP URL its stream
 * id names, with the same key check).
 *
 * SRT itself is Debian's libsrt, in srt-live-transmit: one listener process per
 * caller on a loopback port, behind this relay. SRT's handshake carries the
 * stream id only in its second step (the conclusion), and one libsrt listener
 * cannot hand callers to different outputs, so the relay forwards each
 * caller's datagrams to a listener of its own, reads the conclusion on its way
 * and either lets it through (then starts the remuxing ffmpeg on the
 * listener's output) or answers it with an SRT rejection. Nothing of a refused
 * caller reaches a listener beyond its first, anonymous step.
 * (Writing SRT's ARQ, pacing and TSBPD in TypeScript is what libsrt is for.)
 */
export class SrtIngest {
  readonly #sessions = new Map<string, SrtSession>();
  #socket: Socket | undefined;
  #closed = false;

  constructor(private readonly o: SrtIngestOptions) {}

  /** Callers now (connecting or pushing), for stats and tests. */
  get sessions(): { caller: string; state: SrtSession['state']; label?: string; pids: number[] }[] {
    return [...this.#sessions.values()].map((s) => ({ caller: s.caller, state: s.state, label: s.label, pids: s.pids() }));
  }

  async start(): Promise<void> {
    const socket = await bindUdpSocket(this.o.bind, this.o.port);
    socket.on('error', (error) => this.o.logger.warn(`srt: ${error.message}`));
    socket.on('message', (packet, from) => this.#fromCaller(packet, from));
    this.#socket = socket;
    this.o.logger.log(`SRT ingest on udp ${this.o.bind}:${this.o.port}`);
  }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#sessions.values()].map((s) => s.close('shutdown')));
    this.#socket?.close();
    this.#socket = undefined;
  }

  #fromCaller(packet: Buffer, from: RemoteInfo): void {
    if (this.#closed) return;
    const caller = `${from.address}:${from.port}`;
    let session = this.#sessions.get(caller);
    if (!session) {
      // Only an induction opens a session; stray datagrams (a caller we dropped) are ignored.
      const handshake = parseHandshake(packet);
      if (!handshake || handshake.handshakeType !== HANDSHAKE_INDUCTION) return;
      if (this.#sessions.size >= (this.o.maxSessions ?? 64)) return;
      session = new SrtSession(caller, from, this.o, (data) => this.#socket?.send(data, from.port, from.address), () => this.#sessions.delete(caller));
      this.#sessions.set(caller, session);
    }
    session.fromCaller(packet);
  }
}

/** One caller: its relay socket, its listener (srt-live-transmit) and, once routed, its remuxer (ffmpeg). */
class SrtSession {
  state: 'handshake' | 'pushing' | 'refused' | 'closed' = 'handshake';
  label: string | undefined;
  #relay: Socket | undefined;
  #listenerPort = 0;
  #listener: SupervisedProcess | undefined;
  #remuxer: SupervisedProcess | undefined;
  /** The stream's first bytes, while the remuxer starts (its first keyframe and tables are in them). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Datagrams from the caller before the listener is up (its induction, retransmitted). */
  #early: Buffer[] = [];
  #idleTimer: NodeJS.Timeout;
  #handshakeTimer: NodeJS.Timeout;
  /** A refused caller is let go once it has had time to read the rejection. */
  #refusedTimer: NodeJS.Timeout | undefined;
  #lastHeard = Date.now();
  #closing: Promise<void> | undefined;
  #rtmpUrl: string | undefined;
  /** When the remuxer was (re)started lately, for the restart limit. */
  #remuxStarts: number[] = [];

  constructor(
    readonly caller: string,
    private readonly from: RemoteInfo,
    private readonly o: SrtIngestOptions,
    private readonly toCaller: (data: Buffer) => void,
    private readonly onClosed: () => void,
  ) {
    this.#idleTimer = setInterval(() => Date.now() - this.#lastHeard > IDLE_MS && void this.close('caller went quiet'), 1000);
    this.#handshakeTimer = setTimeout(() => this.state === 'handshake' && void this.close('no conclusion'), HANDSHAKE_MS);
    void this.#open().catch((error: Error) => {
      this.o.logger.warn(`srt ${caller}: ${error.message}`);
      void this.close('listener failed');
    });
  }

  /** Read through a method: the state changes across awaits, which TypeScript's narrowing does not see. */
  #closed(): boolean {
    return this.state === 'closed';
  }

  pids(): number[] {
    return [this.#listener?.pid, this.#remuxer?.pid].filter((p): p is number => p !== undefined);
  }

  fromCaller(packet: Buffer): void {
    if (this.state === 'closed') return;
    this.#lastHeard = Date.now();
    const handshake = parseHandshake(packet);
    if (handshake?.handshakeType === HANDSHAKE_CONCLUSION && this.state !== 'pushing') {
      if (this.state === 'refused') return;
      const verdict = this.#decide(handshake.streamId);
      if ('reject' in verdict) {
        this.state = 'refused';
        this.o.logger.warn(`srt ${this.caller}: refused (${verdict.reason})`);
        this.toCaller(buildRejection(packet, verdict.reject));
        // A caller may repeat its conclusion before it reads the rejection: answer those too, then go.
        this.#refusedTimer = setTimeout(() => void this.close('refused'), 1500);
        return;
      }
      this.state = 'pushing';
      this.label = verdict.label;
      clearTimeout(this.#handshakeTimer);
      this.#startRemuxer(verdict.rtmpUrl);
      this.o.logger.log(`srt ${this.caller}: pushing ${verdict.label}`);
    } else if (this.state === 'refused') {
      if (handshake?.handshakeType === HANDSHAKE_CONCLUSION) this.toCaller(buildRejection(packet, REJECT.FORBIDDEN));
      return;
    }
    if (!this.#relay || !this.#listenerPort) {
      if (this.#early.length < 16) this.#early.push(packet);
      return;
    }
    this.#relay.send(packet, this.#listenerPort, '127.0.0.1');
  }

  #decide(streamId: string | undefined): SrtRoute {
    if (!streamId) return { reject: REJECT.BAD_REQUEST, reason: 'no stream id' };
    const request = parseStreamId(streamId);
    if (!request) return { reject: REJECT.BAD_REQUEST, reason: `stream id ${JSON.stringify(streamId.slice(0, 80))} is not #!::r=<app>/<stream>,s=<key>` };
    if (request.mode !== 'publish') return { reject: REJECT.BAD_MODE, reason: `mode ${request.mode} (only publish is served)` };
    return this.o.route(request);
  }

  async #open(): Promise<void> {
    const relay = await bindUdpSocket('127.0.0.1', 0);
    relay.on('error', (error) => this.o.logger.warn(`srt ${this.caller}: relay: ${error.message}`));
    relay.on('message', (data) => this.state !== 'closed' && this.toCaller(data));
    this.#relay = relay;
    if (this.#closed()) return void relay.close();
    const port = await freeLoopbackUdpPort();
    // -a:no: the listener exits when its caller disconnects; -t with -tm:1: it gives up if nobody connects.
    this.#listener = await SupervisedProcess.start({
      name: `srt:${this.caller}:listen`,
      command: this.o.srtLiveTransmitPath,
      args: ['-a:no', '-t:10', '-tm:1', '-q', `srt://127.0.0.1:${port}?mode=listener&latency=${this.o.latencyMs}&lossmaxttl=${this.o.reorderTolerance?.(this.caller) ?? 0}`, 'file://con'],
      readiness: { kind: 'spawn' },
      rawStdout: true,
      stopTimeoutMs: 1000,
      logger: this.o.logger,
    });
    this.#listener.once('exit', () => void this.close('listener ended'));
    this.#listener.stdout.on('data', (chunk: Buffer) => this.#toRemuxer(chunk));
    if (this.#closed()) return void this.#listener.stop();
    // The listener binds its port right after it starts: replay what the caller sent meanwhile until it answers.
    this.#listenerPort = port;
    const early = this.#early;
    this.#early = [];
    let answered = false;
    relay.once('message', () => (answered = true));
    for (let attempt = 0; attempt < 40 && !answered && !this.#closed(); attempt += 1) {
      for (const packet of early) relay.send(packet, port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  #toRemuxer(chunk: Buffer): void {
    if (this.#remuxer) return void this.#remuxer.stdin.write(chunk);
    if (this.#pendingBytes + chunk.length > MAX_PENDING_BYTES) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
  }

  #startRemuxer(rtmpUrl: string): void {
    this.#rtmpUrl = rtmpUrl;
    this.#remuxStarts = [...this.#remuxStarts.filter((at) => Date.now() - at < 60_000), Date.now()];
    void SupervisedProcess.start({
      name: `srt:${this.caller}:remux`,
      command: this.o.ffmpegPath,
      args: [
        '-hide_banner', '-nostdin', '-loglevel', 'warning',
        // A packet SRT could not recover (too late) leaves a hole in the MPEG-TS: drop what it damaged rather than stop.
        '-err_detect', 'ignore_err', '-fflags', '+discardcorrupt',
        // MPEG-TS from the listener; start once both streams are described (what the probe read is kept: no nobuffer).
        '-probesize', '500000', '-analyzeduration', '1000000',
        '-f', 'mpegts', '-i', 'pipe:0',
        '-c', 'copy', '-f', 'flv', '-flvflags', 'no_duration_filesize', rtmpUrl,
      ],
      readiness: { kind: 'spawn' },
      stdin: true,
      stopTimeoutMs: 2000,
      stderrWarnPattern: /error|invalid|failed|refused/i,
      logger: this.o.logger,
    })
      .then((remuxer) => {
        if (this.#closed()) return void remuxer.stop();
        this.#remuxer = remuxer;
        remuxer.stdin.on('error', () => undefined);
        for (const chunk of this.#pending) remuxer.stdin.write(chunk);
        this.#pending = [];
        this.#pendingBytes = 0;
        remuxer.once('exit', () => this.#remuxerEnded(remuxer));
      })
      .catch((error: Error) => {
        this.o.logger.warn(`srt ${this.caller}: ${error.message}`);
        void this.close('remuxer failed');
      });
  }

  /** The remuxer died under a caller still pushing (input it could not take): start another on what comes next, within limits. */
  #remuxerEnded(remuxer: SupervisedProcess): void {
    if (this.#remuxer !== remuxer || this.state !== 'pushing' || this.#closing) return;
    this.#remuxer = undefined;
    const recent = this.#remuxStarts.filter((at) => Date.now() - at < 60_000).length;
    if (recent >= REMUX_RESTARTS_PER_MINUTE || !this.#rtmpUrl) return void this.close('remuxer ended');
    this.o.logger.warn(`srt ${this.caller}: the remuxer died; starting it again (the caller still pushes)`);
    this.#startRemuxer(this.#rtmpUrl);
  }

  close(why: string): Promise<void> {
    this.#closing ??= (async () => {
      const wasPushing = this.state === 'pushing';
      this.state = 'closed';
      clearInterval(this.#idleTimer);
      clearTimeout(this.#handshakeTimer);
      clearTimeout(this.#refusedTimer);
      this.onClosed();
      if (wasPushing) this.o.logger.log(`srt ${this.caller}: ended (${why})`);
      this.#relay?.close();
      await this.#listener?.stop();
      // The remuxer still holds the stream's last seconds: let it write them out (end of input), then make sure.
      const remuxer = this.#remuxer;
      if (remuxer) {
        remuxer.stdin.end();
        let drained: NodeJS.Timeout | undefined;
        await Promise.race([remuxer.exited, new Promise((resolve) => (drained = setTimeout(resolve, REMUX_DRAIN_MS)))]);
        // A remuxer that ended sooner leaves no timer behind to hold the process up.
        clearTimeout(drained);
        await remuxer.stop();
      }
    })();
    return this.#closing;
  }
}
