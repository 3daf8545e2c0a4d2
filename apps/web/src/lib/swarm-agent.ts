import { substreamOf } from '../../../../libs/swarm/src/substreams';
import type { JoinAck, PeerReport, PlanMessage } from '../../../../libs/swarm/src/swarm-messages';
import { BlockAssembler, decodeMessage, encodeBlock, encodeNone, encodeWant } from '../../../../libs/swarm/src/swarm-wire';
import { Signalling } from './signalling';

/** The tracker's answer to `p2p:join`, and its later `p2p:plan`s (docs/signalling.md). */
type Plan = PlanMessage;
type Joined = JoinAck;
interface BlockInfo {
  n: number;
  msn: number;
  part: number;
  durationMs: number;
  bytes: number;
  sha256: string;
}
interface BlockIndex {
  s: number;
  a: number;
  newest: number;
  blocks: BlockInfo[];
  segments: { msn: number; firstBlock: number; blocks: number }[];
}
interface Signal {
  channelId: string;
  fromPeerId: string;
  description?: RTCSessionDescriptionInit;
  candidate?: RTCIceCandidateInit | null;
}

export interface SwarmStats extends PeerReport {
  /** Data channels open now. */
  peers: number;
  s: number;
  substream: number;
}

/** Blocks kept for the player and for peers asking (a few segments' worth beyond the player's buffer). */
const KEEP_BLOCKS = 120;
/** Blocks back from the newest that a viewer just joining still takes and passes on (about the player's start offset). */
const RECENT_BLOCKS = 16;
/** A data channel with more than this queued gets nothing more until it drains. */
const MAX_BUFFERED = 1024 * 1024;
const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

/** One data channel to one peer of the swarm (the smaller peer id offers). */
class PeerLink {
  readonly pc: RTCPeerConnection;
  dc: RTCDataChannel | undefined;
  readonly assembler = new BlockAssembler();
  readonly #pending: RTCIceCandidateInit[] = [];
  closed = false;

  constructor(
    readonly peerId: string,
    readonly selfId: string,
    iceServers: RTCIceServer[],
    private readonly send: (signal: { description?: RTCSessionDescriptionInit; candidate?: RTCIceCandidateInit | null }) => Promise<void>,
    private readonly onMessage: (link: PeerLink, data: unknown) => void,
    private readonly onGone: (link: PeerLink) => void,
  ) {
    this.pc = new RTCPeerConnection({ iceServers });
    this.pc.onicecandidate = (e) => void this.send({ candidate: e.candidate ? e.candidate.toJSON() : null }).catch(() => undefined);
    this.pc.onconnectionstatechange = () => {
      if (this.pc.connectionState === 'failed' || this.pc.connectionState === 'closed') this.close();
    };
    this.pc.ondatachannel = (e) => this.#adopt(e.channel);
  }

  get offerer(): boolean {
    return this.selfId < this.peerId;
  }

  get open(): boolean {
    return this.dc?.readyState === 'open';
  }

  async start(): Promise<void> {
    if (!this.offerer) return;
    this.#adopt(this.pc.createDataChannel('blocks', { ordered: true }));
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.send({ description: { type: 'offer', sdp: this.pc.localDescription!.sdp } });
  }

  async onSignal(signal: Signal): Promise<void> {
    if (this.closed) return;
    if (signal.description) {
      await this.pc.setRemoteDescription(signal.description);
      if (signal.description.type === 'offer') {
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        await this.send({ description: { type: 'answer', sdp: this.pc.localDescription!.sdp } });
      }
      for (const c of this.#pending.splice(0)) await this.pc.addIceCandidate(c).catch(() => undefined);
    }
    if (signal.candidate) {
      if (this.pc.remoteDescription) await this.pc.addIceCandidate(signal.candidate).catch(() => undefined);
      else this.#pending.push(signal.candidate);
    }
  }

  /** Sends the messages unless the channel is not open or too far behind; true if sent. */
  sendAll(messages: Uint8Array[]): boolean {
    const dc = this.dc;
    if (!dc || dc.readyState !== 'open' || dc.bufferedAmount > MAX_BUFFERED) return false;
    try {
      for (const m of messages) dc.send(m as Uint8Array<ArrayBuffer>);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dc?.close();
    this.pc.close();
    this.onGone(this);
  }

  #adopt(dc: RTCDataChannel): void {
    this.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.onmessage = (e) => this.onMessage(this, e.data);
    dc.onclose = () => this.close();
  }
}

/**
 * A viewer's part in its channel's swarm (seed 002). It takes its own
 * sub-stream's blocks from the origin as soon as the block index lists them
 * and sends each to the viewers the tracker named its consumers; every other
 * block it expects from the peer holding that sub-stream (asking for it if it
 * has not come), checks it against the hash the origin published, and takes
 * it from the origin instead when it does not match, has not come in time, or
 * the player is about to run dry. The player asks for whole segments
 * (`segment(msn)`): a segment is its blocks back to back.
 */
export class SwarmAgent {
  readonly stats: SwarmStats = { bytesFromPeers: 0, bytesFromOrigin: 0, blocksFromPeers: 0, blocksFromOrigin: 0, rejectedBlocks: 0, bytesToPeers: 0, peers: 0, s: 1, substream: 1 };
  #joined: Joined | undefined;
  #plan: Plan | undefined;
  readonly #links = new Map<string, PeerLink>();
  readonly #index = new Map<number, BlockInfo & { seenAt: number }>();
  readonly #segments = new Map<number, { firstBlock: number; blocks: number }>();
  readonly #store = new Map<number, Uint8Array>();
  /** Blocks a peer gave before the index listed them: checked once it does. */
  readonly #unchecked = new Map<number, { data: Uint8Array; from: string }>();
  readonly #waiters = new Map<number, Set<() => void>>();
  readonly #originFetches = new Map<number, Promise<Uint8Array>>();
  #newest = -1;
  #stopped = false;
  #uploadTokens = 0;
  #uploadAt = 0;
  #reportTimer: ReturnType<typeof setInterval> | undefined;
  #reconnectTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly signalling: Signalling,
    readonly channelId: string,
    private readonly o: { baseUrl?: string; bufferAheadMs?: () => number; onInfo?: (text: string) => void } = {},
  ) {}

  /** True where this browser can take part (WebRTC data channels and SHA-256 in a secure context). */
  static supported(): boolean {
    return typeof RTCPeerConnection !== 'undefined' && typeof crypto !== 'undefined' && crypto.subtle !== undefined;
  }

  async start(): Promise<void> {
    await this.signalling.connected();
    this.signalling.on<Plan>('p2p:plan', (plan) => {
      if (plan.channelId === this.channelId && plan.peerId === this.#joined?.peerId) this.#applyPlan(plan);
    });
    this.signalling.on<Signal>('p2p:swarm-signal', (signal) => void this.#onSignal(signal));
    // After a reconnect the socket is a new one: join again (a new peer id, a new plan).
    this.signalling.socket.io.on('reconnect', () => void this.#join().catch(() => undefined));
    await this.#join();
    void this.#indexLoop();
    this.#reportTimer = setInterval(() => this.#report(), 1000);
    this.#reconnectTimer = setInterval(() => this.#connectLinks(), 3000);
  }

  /** The bytes of segment `msn`, from its blocks. */
  async segment(msn: number): Promise<Uint8Array> {
    let seg = this.#segments.get(msn);
    if (!seg) {
      await this.#fetchIndex(undefined);
      seg = this.#segments.get(msn);
      if (!seg) throw new Error(`segment ${msn} is not in the block index`);
    }
    const parts = await Promise.all(Array.from({ length: seg.blocks }, (_, i) => this.block(seg.firstBlock + i)));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  /** Block `n`: held, from its peer, or from the origin. */
  async block(n: number): Promise<Uint8Array> {
    const held = this.#store.get(n);
    if (held) return held;
    const joined = this.#joined;
    const plan = this.#plan;
    if (!joined || !plan || this.#stopped) return this.#fromOrigin(n);
    const b = substreamOf(n, plan);
    const provider = plan.providers.find((p) => p.substream === b);
    const link = provider && this.#links.get(provider.peerId);
    const urgent = (this.o.bufferAheadMs?.() ?? Infinity) < joined.urgentMs;
    if (b === plan.substream || !link?.open || urgent) return this.#fromOrigin(n);
    // Pushed blocks come within a moment of the index listing them; past that, ask, then give up on the peer.
    const seenAt = this.#index.get(n)?.seenAt ?? Date.now();
    const pushWait = Math.max(0, seenAt + joined.peerWaitMs / 2 - Date.now());
    if (await this.#waitFor(n, pushWait)) return this.#store.get(n)!;
    link.sendAll([encodeWant(n)]);
    if (await this.#waitFor(n, Math.max(200, seenAt + joined.peerWaitMs - Date.now()))) return this.#store.get(n)!;
    return this.#fromOrigin(n);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#reportTimer);
    clearInterval(this.#reconnectTimer);
    this.#report();
    for (const link of [...this.#links.values()]) link.close();
    void this.signalling.request('p2p:leave', { channelId: this.channelId }).catch(() => undefined);
  }

  async #join(): Promise<void> {
    const joined = await this.signalling.request<Joined>('p2p:join', { channelId: this.channelId });
    this.#joined = joined;
    for (const link of [...this.#links.values()]) link.close();
    this.#applyPlan(joined);
    this.o.onInfo?.(`joined the swarm as ${joined.peerId}: sub-stream ${joined.substream} of ${joined.s}, ${joined.providers.length} peer(s) to take from`);
  }

  #url(path: string): string {
    return `${this.o.baseUrl ?? ''}${path}`;
  }

  #applyPlan(plan: Plan): void {
    const changed = this.#plan && (this.#plan.s !== plan.s || this.#plan.substream !== plan.substream);
    this.#plan = plan;
    this.stats.s = plan.s;
    this.stats.substream = plan.substream;
    const wanted = this.#neighbours();
    for (const [peerId, link] of this.#links) if (!wanted.has(peerId)) link.close();
    this.#connectLinks();
    if (changed) this.o.onInfo?.(`now sub-stream ${plan.substream} of ${plan.s}`);
  }

  #neighbours(): Set<string> {
    const plan = this.#plan;
    return new Set([...(plan?.providers.map((p) => p.peerId) ?? []), ...(plan?.consumers ?? [])]);
  }

  /** Opens the links this viewer offers (to peers with a larger id) that are missing or failed. */
  #connectLinks(): void {
    const joined = this.#joined;
    if (!joined || this.#stopped) return;
    for (const peerId of this.#neighbours()) {
      if (this.#links.has(peerId) || !(joined.peerId < peerId)) continue;
      void this.#link(peerId).start().catch(() => this.#links.get(peerId)?.close());
    }
    this.stats.peers = [...this.#links.values()].filter((l) => l.open).length;
  }

  #link(peerId: string): PeerLink {
    const joined = this.#joined!;
    const link = new PeerLink(
      peerId,
      joined.peerId,
      joined.iceServers,
      (signal) => this.signalling.request('p2p:swarm-signal', { channelId: this.channelId, toPeerId: peerId, ...signal }).then(() => undefined),
      (l, data) => void this.#onMessage(l, data),
      (l) => {
        if (this.#links.get(l.peerId) === l) this.#links.delete(l.peerId);
      },
    );
    this.#links.set(peerId, link);
    return link;
  }

  async #onSignal(signal: Signal): Promise<void> {
    if (signal.channelId !== this.channelId || this.#stopped || !this.#joined) return;
    let link = this.#links.get(signal.fromPeerId);
    if (signal.description?.type === 'offer') {
      link?.close();
      link = this.#link(signal.fromPeerId);
    }
    await link?.onSignal(signal).catch(() => link?.close());
  }

  async #onMessage(link: PeerLink, data: unknown): Promise<void> {
    const message = decodeMessage(data);
    if (!message) return; // Not ours, or malformed: ignored.
    if (message.type === 'want') {
      const held = this.#store.get(message.n);
      if (!held || !this.#sendBlock(link, message.n, held)) link.sendAll([encodeNone(message.n)]);
      return;
    }
    if (message.type === 'none') return;
    const complete = link.assembler.add(message);
    if (!complete || this.#store.has(complete.n)) return;
    const info = this.#index.get(complete.n);
    if (!info) {
      if (complete.n > this.#newest - KEEP_BLOCKS && complete.n <= this.#newest + 16) this.#unchecked.set(complete.n, { data: complete.data, from: link.peerId });
      while (this.#unchecked.size > 32) this.#unchecked.delete(this.#unchecked.keys().next().value as number);
      return;
    }
    await this.#check(complete.n, complete.data, info);
  }

  /** Keeps a peer's block if it hashes to what the origin published; counts it as rejected otherwise. */
  async #check(n: number, data: Uint8Array, info: BlockInfo): Promise<void> {
    const digest = data.length === info.bytes ? hex(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>)) : '';
    if (digest !== info.sha256) {
      this.stats.rejectedBlocks += 1;
      return;
    }
    if (this.#store.has(n)) return;
    this.stats.bytesFromPeers += data.length;
    this.stats.blocksFromPeers += 1;
    this.#keep(n, data);
  }

  #keep(n: number, data: Uint8Array): void {
    this.#store.set(n, data);
    for (const k of this.#store.keys()) {
      if (k > this.#newest - KEEP_BLOCKS) break;
      this.#store.delete(k);
    }
    const waiters = this.#waiters.get(n);
    this.#waiters.delete(n);
    for (const w of waiters ?? []) w();
  }

  #waitFor(n: number, ms: number): Promise<boolean> {
    if (this.#store.has(n)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.get(n)?.delete(done);
        resolve(this.#store.has(n));
      };
      const timer = setTimeout(done, ms);
      let set = this.#waiters.get(n);
      if (!set) this.#waiters.set(n, (set = new Set()));
      set.add(done);
    });
  }

  #fromOrigin(n: number): Promise<Uint8Array> {
    const held = this.#store.get(n);
    if (held) return Promise.resolve(held);
    let pending = this.#originFetches.get(n);
    if (!pending) {
      const url = this.#url((this.#joined?.blockUrl ?? `/hls/${encodeURIComponent(this.channelId)}/p2p/blocks/{n}`).replace('{n}', String(n)));
      pending = (async () => {
        const res = await fetch(url);
        if (!res.ok) throw new Error(`block ${n}: HTTP ${res.status}`);
        const data = new Uint8Array(await res.arrayBuffer());
        if (!this.#store.has(n)) {
          this.stats.bytesFromOrigin += data.length;
          this.stats.blocksFromOrigin += 1;
          this.#keep(n, data);
        }
        return this.#store.get(n) ?? data;
      })().finally(() => this.#originFetches.delete(n));
      this.#originFetches.set(n, pending);
    }
    return pending;
  }

  /** Sends a block if the upload cap allows it (a token bucket of uploadKbps, one second deep). */
  #sendBlock(link: PeerLink, n: number, data: Uint8Array): boolean {
    const rate = (this.#joined?.uploadKbps ?? 0) * 125;
    const now = Date.now();
    this.#uploadTokens = Math.min(rate, this.#uploadTokens + ((now - this.#uploadAt) * rate) / 1000);
    this.#uploadAt = now;
    if (this.#uploadTokens < data.length) return false;
    if (!link.sendAll(encodeBlock(n, data))) return false;
    this.#uploadTokens -= data.length;
    this.stats.bytesToPeers += data.length;
    return true;
  }

  async #indexLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        await this.#fetchIndex(this.#newest >= 0 ? this.#newest : undefined);
        failures = 0;
      } catch {
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** failures)));
      }
    }
  }

  async #fetchIndex(after: number | undefined): Promise<void> {
    const blocksUrl = this.#joined?.blocksUrl ?? `/hls/${encodeURIComponent(this.channelId)}/p2p/blocks.json`;
    const res = await fetch(this.#url(`${blocksUrl}${after === undefined ? '' : `?after=${after}`}`), { cache: 'no-store' });
    if (!res.ok) throw new Error(`block index: HTTP ${res.status}`);
    const index = (await res.json()) as BlockIndex;
    for (const seg of index.segments) this.#segments.set(seg.msn, { firstBlock: seg.firstBlock, blocks: seg.blocks });
    while (this.#segments.size > 32) this.#segments.delete(this.#segments.keys().next().value as number);
    const fresh: BlockInfo[] = [];
    for (const info of index.blocks) {
      if (this.#index.has(info.n)) continue;
      this.#index.set(info.n, { ...info, seenAt: Date.now() });
      fresh.push(info);
    }
    for (const k of this.#index.keys()) {
      if (k > index.newest - KEEP_BLOCKS) break;
      this.#index.delete(k);
    }
    const first = this.#newest < 0;
    this.#newest = Math.max(this.#newest, index.newest);
    for (const info of fresh) {
      const early = this.#unchecked.get(info.n);
      if (early) {
        this.#unchecked.delete(info.n);
        void this.#check(info.n, early.data, info);
      }
      // On joining, only the blocks the player will start from (a few seconds back) are worth taking.
      if (!first || info.n > index.newest - RECENT_BLOCKS) void this.#own(info.n);
    }
  }

  /** A block of this viewer's own sub-stream: from the origin at once, then to its consumers. */
  async #own(n: number): Promise<void> {
    const plan = this.#plan;
    if (!plan || plan.s < 2 || substreamOf(n, plan) !== plan.substream) return;
    const data = await this.#fromOrigin(n).catch(() => undefined);
    if (!data) return;
    for (const consumer of plan.consumers) {
      const link = this.#links.get(consumer);
      if (link) this.#sendBlock(link, n, data);
    }
  }

  #report(): void {
    if (!this.#joined) return;
    const { peers: _peers, s: _s, substream: _b, ...totals } = this.stats;
    void this.signalling.request('p2p:stats', { channelId: this.channelId, ...totals }).catch(() => undefined);
  }
}
