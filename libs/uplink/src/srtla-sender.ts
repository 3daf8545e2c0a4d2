import { randomBytes } from 'node:crypto';
import { RemoteInfo, Socket } from 'node:dgram';
import { bindUdpSocket, LineLogger } from '@gw/common';
import {
  ackedUpTo,
  ackSequences,
  capacityProbe,
  keepalive,
  nakLosses,
  parseCapacityProbe,
  parseKeepalive,
  PROBE_BYTES,
  reg,
  regId,
  SRT_ACK,
  SRT_NAK,
  srtControlType,
  srtDataSequence,
  SRTLA,
  SRTLA_ID_BYTES,
  srtlaType,
} from './srtla-packet';
import { allowanceFactor, answerTimeoutMs, decodeHelperMessage, encodeHelperMessage, HelperMessage } from './helper-protocol';
import { PathFigures, PathScheduler, SchedulerOptions, trainCapacityKbps } from './path-scheduler';

export interface SrtlaSenderOptions {
  /** Where the local SRT caller (the encoder: ffmpeg, OBS) sends: this sender's SRT-facing UDP port. */
  listen: { host: string; port: number };
  /** The SRTLA receiver (the gateway's SRTLA_PORT). */
  receiver: { host: string; port: number };
  /**
   * The paths: local addresses to send from (each of the host's networks), or
   * helper devices on the host's network (`helper`: where their
   * `npm run uplink -- helper` listens), asked first and used once they accept.
   */
  paths: { name: string; bind: string; helper?: { host: string; port: number } }[];
  /** How long a helper's answer is expected to take (ms); the request times out at twice that. Default 250. */
  helperAnswerMs?: number;
  /** How long a helper's allowance should last at its share for a full share (s); one that runs dry sooner gets less. Default 600. */
  helperHorizonSeconds?: number;
  scheduler?: SchedulerOptions;
  logger: LineLogger;
}

interface Path {
  name: string;
  socket: Socket;
  /** Where this path's datagrams go: the receiver, or a helper relaying to it. */
  to: { host: string; port: number };
  registered: boolean;
  lastHeard: number;
  naks: number;
  /** Capacity probes: when the next train goes, and the echoes of the last one (performance.now()). */
  nextProbeAt: number;
  train?: { id: number; echoes: { index: number; atMs: number }[]; counted: boolean };
  /** A helper path: where its answer stands, and when to ask again. */
  helper?: {
    state: 'asking' | 'accepted' | 'refused' | 'exhausted' | 'unanswered';
    requestId: string;
    allowanceBytes?: number;
    reason?: string;
    askAgainAt: number;
    /** The rate the last request said to expect through it. */
    expectedKbps?: number;
    timer?: NodeJS.Timeout;
  };
}

/** What the sender knows of a helper path, for its report. */
export interface HelperView {
  name: string;
  state: 'asking' | 'accepted' | 'refused' | 'exhausted' | 'unanswered';
  allowanceBytes?: number;
  reason?: string;
}

/** A helper that refused or did not answer is asked again after this long; one whose allowance ran out, after this. */
const ASK_AGAIN_MS = 10_000;
const EXHAUSTED_AGAIN_MS = 60_000;

/** A path unheard of this long is down (keepalives are echoed every second). */
const PATH_TIMEOUT_MS = 3000;

/**
 * Capacity probes: a train of PROBE_TRAIN data-sized keepalives on each path
 * every PROBE_EVERY_MS (about 30 kbit/s a path), the first PROBE_SKIP left out
 * of the figure (a token bucket of ~20 ms passes a few at line rate; at
 * 2.4 Mbit/s that is 4-5 packets).
 */
const PROBE_TRAIN = 12;
const PROBE_SKIP = 5;
const PROBE_EVERY_MS = 4000;

/**
 * Our bonding sender (seed 000) speaking SRTLA: the encoder sends SRT to it
 * as to any SRT listener; it registers each path with the receiver, deals
 * the packets over the paths by their quality (path-scheduler.ts), keeps
 * every path alive and timed with keepalives, and hands the receiver's SRT
 * replies back to the encoder.
 */
export class SrtlaSender {
  readonly scheduler: PathScheduler;
  readonly #paths: Path[] = [];
  #local: Socket | undefined;
  #caller: RemoteInfo | undefined;
  #id = randomBytes(SRTLA_ID_BYTES);
  #groupId: Buffer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #figures: PathFigures[] = [];

  constructor(private readonly o: SrtlaSenderOptions) {
    this.scheduler = new PathScheduler(o.paths.map((p) => p.name), Date.now(), o.scheduler);
  }

  /** Each path's figures as of the last tick (about a second). */
  get figures(): PathFigures[] {
    return this.#figures;
  }

  get registered(): string[] {
    return this.#paths.filter((p) => p.registered).map((p) => p.name);
  }

  get helpers(): HelperView[] {
    return this.#paths.flatMap((p) => (p.helper ? [{ name: p.name, state: p.helper.state, allowanceBytes: p.helper.allowanceBytes, reason: p.helper.reason }] : []));
  }

  async start(): Promise<void> {
    this.#local = await bindUdpSocket(this.o.listen.host, this.o.listen.port);
    this.#local.on('message', (packet, from) => this.#fromCaller(packet, from));
    for (const spec of this.o.paths) {
      const socket = await bindUdpSocket(spec.bind, 0);
      const path: Path = {
        name: spec.name,
        socket,
        to: spec.helper ?? this.o.receiver,
        registered: false,
        lastHeard: 0,
        naks: 0,
        // Staggered, so two paths' trains do not share a moment.
        nextProbeAt: performance.now() + 1500 + this.#paths.length * 1300,
        ...(spec.helper ? { helper: { state: 'unanswered' as const, requestId: '', askAgainAt: 0 } } : {}),
      };
      socket.on('message', (packet) => this.#fromReceiver(path, packet));
      socket.on('error', (error) => this.o.logger.warn(`uplink ${spec.name}: ${error.message}`));
      this.#paths.push(path);
    }
    this.#register();
    this.#timer = setInterval(() => this.#housekeeping(), 1000);
  }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const p of this.#paths) {
      clearTimeout(p.helper?.timer);
      if (p.helper?.state === 'accepted') this.#send(p, encodeHelperMessage({ type: 'release', id: p.helper.requestId }));
      p.socket.close();
    }
    this.#local?.close();
  }

  #send(path: Path, packet: Buffer): void {
    path.socket.send(packet, path.to.port, path.to.host);
  }

  /** A path that may carry SRTLA now: one of our own networks, or a helper that accepted. */
  #usable(p: Path): boolean {
    return !p.helper || p.helper.state === 'accepted';
  }

  /** REG1 on the first usable path (a new group), or REG2 on every usable path not yet registered; helpers are asked first. */
  #register(): void {
    for (const p of this.#paths) if (p.helper) this.#ask(p);
    if (!this.#groupId) {
      const first = this.#paths.find((p) => this.#usable(p));
      if (first) this.#send(first, reg(SRTLA.REG1, this.#id));
      return;
    }
    for (const p of this.#paths) if (!p.registered && this.#usable(p)) this.#send(p, reg(SRTLA.REG2, this.#groupId));
  }

  /** Asks a helper to carry a share (seed 000): it may refuse; no answer within twice the expected time counts as a refusal. */
  #ask(p: Path): void {
    const helper = p.helper!;
    if (helper.state === 'accepted' || helper.state === 'asking' || Date.now() < helper.askAgainAt) return;
    helper.state = 'asking';
    helper.requestId = randomBytes(8).toString('hex');
    const total = this.#figures.reduce((sum, f) => sum + f.kbps, 0);
    const expectedKbps = Math.max(500, Math.round(total / Math.max(1, this.#paths.length)));
    this.#send(p, encodeHelperMessage({ type: 'request', id: helper.requestId, receiver: this.o.receiver, expectedKbps }));
    helper.timer = setTimeout(() => {
      if (helper.state !== 'asking') return;
      helper.state = 'unanswered';
      helper.askAgainAt = Date.now() + ASK_AGAIN_MS;
      this.o.logger.warn(`uplink ${p.name}: the helper did not answer`);
    }, answerTimeoutMs(this.o.helperAnswerMs ?? 250));
    helper.timer.unref?.();
    helper.expectedKbps = expectedKbps;
  }

  #fromHelper(p: Path, message: HelperMessage): void {
    const helper = p.helper;
    if (!helper || message.id !== helper.requestId) return;
    clearTimeout(helper.timer);
    if (message.type === 'accept') {
      if (helper.state !== 'accepted') this.o.logger.log(`uplink ${p.name}: the helper accepts (${message.allowanceBytes} bytes of allowance)`);
      helper.state = 'accepted';
      helper.allowanceBytes = message.allowanceBytes;
      // A helper whose allowance will not last at its share gets a smaller one.
      this.scheduler.setFactor(p.name, allowanceFactor(message.allowanceBytes, helper.expectedKbps ?? 1000, this.o.helperHorizonSeconds));
      this.#register();
    } else if (message.type === 'refuse' || message.type === 'exhausted') {
      helper.state = message.type === 'refuse' ? 'refused' : 'exhausted';
      helper.reason = message.type === 'refuse' ? message.reason : 'allowance spent';
      helper.allowanceBytes = message.type === 'refuse' ? message.allowanceBytes : 0;
      helper.askAgainAt = Date.now() + (message.type === 'refuse' ? ASK_AGAIN_MS : EXHAUSTED_AGAIN_MS);
      this.o.logger.warn(`uplink ${p.name}: the helper ${helper.state} (${helper.reason})`);
      if (p.registered) {
        p.registered = false;
        this.scheduler.setUp(p.name, false);
      }
    }
  }

  #housekeeping(): void {
    const now = Date.now();
    for (const p of this.#paths) {
      if (p.registered && now - p.lastHeard > PATH_TIMEOUT_MS) {
        p.registered = false;
        this.scheduler.setUp(p.name, false);
        this.o.logger.warn(`uplink ${p.name}: down (nothing heard for ${PATH_TIMEOUT_MS} ms)`);
        // A helper that went silent is asked again before it carries anything more.
        if (p.helper) p.helper.state = 'unanswered';
      }
    }
    this.#register();
    const figures = this.scheduler.tick(now);
    this.#figures = figures;
    for (const p of this.#paths) {
      if (!this.#usable(p)) continue;
      const f = figures.find((x) => x.name === p.name)!;
      // The extended keepalive: our clock (echoed back: the round trip) and what we know of the path.
      this.#send(p, keepalive({ timestampMs: performance.now(), rttMs: f.rttMs ?? 0, window: f.window, inFlight: f.inFlight, nakCount: p.naks, bitrate: (f.kbps * 1000) / 8 }));
      // After the keepalive, so its round trip is not queued behind the train.
      if (p.registered) this.#probe(p);
    }
  }

  /** The last train's figure, once; then a new train when one is due. */
  #probe(p: Path): void {
    const now = performance.now();
    this.#countTrain(p);
    if (now < p.nextProbeAt) return;
    p.nextProbeAt = now + PROBE_EVERY_MS;
    const id = ((p.train?.id ?? Math.floor(Math.random() * 0xffff)) + 1) & 0xffff;
    p.train = { id, echoes: [], counted: false };
    for (let index = 0; index < PROBE_TRAIN; index += 1) this.#send(p, capacityProbe(id, index, now));
    this.scheduler.probing(p.name, now, PROBE_TRAIN * PROBE_BYTES * 8);
  }

  #countTrain(p: Path): void {
    const train = p.train;
    if (!train || train.counted) return;
    train.counted = true;
    const kbps = trainCapacityKbps(train.echoes, PROBE_BYTES, PROBE_SKIP);
    if (kbps !== undefined) this.scheduler.capacity(p.name, kbps);
  }

  #fromCaller(packet: Buffer, from: RemoteInfo): void {
    if (this.#closed) return;
    this.#caller = from;
    const sequence = srtDataSequence(packet);
    if (sequence === undefined) {
      const best = this.scheduler.best();
      const path = this.#paths.find((p) => p.name === best);
      if (path) this.#send(path, packet);
      return;
    }
    const route = this.scheduler.route(sequence, packet.length, performance.now());
    if (!route) return;
    for (const name of [route.primary, ...route.copies]) {
      const path = this.#paths.find((p) => p.name === name);
      if (path) this.#send(path, packet);
    }
  }

  #fromReceiver(path: Path, packet: Buffer): void {
    if (this.#closed) return;
    if (path.helper) {
      const message = decodeHelperMessage(packet);
      if (message) return this.#fromHelper(path, message);
      if (path.helper.state !== 'accepted') return;
    }
    const type = srtlaType(packet);
    if (type !== undefined) {
      path.lastHeard = Date.now();
      if (type === SRTLA.REG2) {
        const id = regId(packet);
        // Ours when its first half is what we sent.
        if (id && id.subarray(0, SRTLA_ID_BYTES / 2).equals(this.#id.subarray(0, SRTLA_ID_BYTES / 2))) {
          this.#groupId = Buffer.from(id);
          this.#register();
        }
      } else if (type === SRTLA.REG3) {
        if (!path.registered) this.o.logger.log(`uplink ${path.name}: registered`);
        path.registered = true;
        this.scheduler.setUp(path.name, true);
      } else if (type === SRTLA.REG_NGP) {
        // The receiver forgot our group (it restarted): start over.
        this.#groupId = undefined;
        this.#id = randomBytes(SRTLA_ID_BYTES);
        for (const p of this.#paths) p.registered = false;
        this.#register();
      } else if (type === SRTLA.KEEPALIVE) {
        const probe = parseCapacityProbe(packet);
        if (probe) {
          if (path.train && probe.train === path.train.id && !path.train.counted) {
            path.train.echoes.push({ index: probe.index, atMs: performance.now() });
            if (path.train.echoes.length === PROBE_TRAIN) this.#countTrain(path);
          }
          return;
        }
        const sent = parseKeepalive(packet).timestampMs;
        if (sent !== undefined) this.scheduler.roundTrip(path.name, Math.max(0, performance.now() - sent));
      } else if (type === SRTLA.ACK) {
        // The packets this link brought; a NAK charged to it for one of them is taken back (it was overtaken, not lost).
        for (const name of this.scheduler.acked(ackSequences(packet), path.name, performance.now())) {
          const charged = this.#paths.find((p) => p.name === name);
          if (charged && charged.naks > 0) charged.naks -= 1;
        }
      }
      return;
    }
    path.lastHeard = Date.now();
    const control = srtControlType(packet);
    if (control === SRT_NAK) {
      // Counted on the path that carried each lost packet (the receiver sends NAKs over one link, whichever).
      for (const name of this.scheduler.lost(nakLosses(packet))) {
        const carrier = this.#paths.find((p) => p.name === name);
        if (carrier) carrier.naks += 1;
      }
    } else if (control === SRT_ACK) {
      const upTo = ackedUpTo(packet);
      if (upTo !== undefined) this.scheduler.ackedUpTo(upTo);
    }
    if (this.#caller) this.#local?.send(packet, this.#caller.port, this.#caller.address);
  }
}
