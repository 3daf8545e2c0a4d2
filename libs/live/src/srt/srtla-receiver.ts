import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createSocket, RemoteInfo, Socket } from 'node:dgram';
import { bindUdpSocket, LineLogger } from '@gw/common';
import { ack, ACK_EVERY, bare, LinkReport, parseKeepalive, reg, regId, SRT_ACK, srtControlType, srtDataSequence, SRTLA, SRTLA_ID_BYTES, srtlaType } from '@gw/uplink';

export interface SrtlaReceiverOptions {
  /** SRTLA_PORT, UDP, on `bind`. */
  port: number;
  bind: string;
  /** The SRT listener the gathered connection goes to (the gateway's SRT ingest). */
  srt: { host: string; port: number };
  logger: LineLogger;
  /** Bonding senders at once; default 200 (as BELABOX's receiver). */
  maxGroups?: number;
  /** Links per sender; default 16. */
  maxLinks?: number;
}

/** A link unheard of this long is dropped; a group left without links, too. */
const LINK_TIMEOUT_MS = 10_000;
/** Per-link figures are taken over this window. */
const STATS_WINDOW_MS = 2000;

/** One link of a bonding sender, as the receiver sees it. */
export interface SrtlaLinkView {
  address: string;
  /** Share of the group's data packets this link carried over the last window, %. */
  sharePct: number;
  kbps: number;
  /** Data packets another link brought too (copies, before or after the packet they repeat: redundancy), %. */
  duplicatePct: number;
  /** Packets of this link the SRT listener reported lost between the sender's last two keepalives, % (extended keepalives only). */
  lossPct?: number;
  /** What the sender reported of the link (extended keepalives): RTT, NAKs, window. */
  reported: LinkReport;
}

export interface SrtlaGroupView {
  /** Where the group's SRT connection comes from, as the SRT listener sees it (127.0.0.1:port). */
  srtSource: string | undefined;
  links: SrtlaLinkView[];
}

interface Link {
  address: string;
  port: number;
  lastHeard: number;
  /** Data sequence numbers since the last SRTLA ACK. */
  pending: number[];
  window: { start: number; packets: number; bytes: number; duplicates: number };
  last: { packets: number; bytes: number; duplicates: number; ms: number };
  reported: LinkReport;
  totalPackets: number;
  lossPct?: number;
  /** The NAK count and packet count at the last extended keepalive. */
  lossBase?: { naks: number; packets: number };
}

interface Group {
  id: Buffer;
  createdAt: number;
  links: Map<string, Link>;
  /** The link that last carried SRT traffic. */
  lastLink: string | undefined;
  /**
   * Where the SRT listener's replies other than ACKs go (NAKs, handshakes,
   * keepalives): the link that last brought a data packet first (not a copy
   * another link had brought), else the one heard last. One link only: a
   * sender hands every NAK it gets to its encoder, which resends once per copy.
   */
  replyLink: string | undefined;
  upstream: Socket | undefined;
  upstreamReady: Promise<void> | undefined;
  /** Recently seen data sequence numbers: the link that brought each first, and whether another brought it too (to tell a link that only brings copies). */
  seen: Map<number, { link: Link; shared: boolean }>;
  seenOrder: number[];
}

const key = (address: string, port: number) => `${address}:${port}`;

/**
 * The SRTLA receiver on SRTLA_PORT: registers bonding senders' groups and
 * links, echoes keepalives, acknowledges data per link, and forwards every SRT
 * packet of a group, unchanged, over one UDP socket to the SRT ingest, so the
 * SRT listener sees one ordinary caller per sender (routed by its stream id
 * like any other). Replies come back the way srtla2 receivers send them: SRT
 * ACKs to every link (timely, whichever link is slow), everything else (NAKs
 * included) to one link, the one that last brought new data: NAKs sent to
 * every link reached the encoder once per link, and it resent each lost
 * packet that many times.
 */
export class SrtlaReceiver {
  readonly #groups: Group[] = [];
  readonly #byLink = new Map<string, Group>();
  #socket: Socket | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly o: SrtlaReceiverOptions) {}

  async start(): Promise<void> {
    const socket = await bindUdpSocket(this.o.bind, this.o.port);
    socket.on('error', (error) => this.o.logger.warn(`srtla: ${error.message}`));
    socket.on('message', (packet, from) => this.#onPacket(packet, from));
    this.#socket = socket;
    this.#sweeper = setInterval(() => this.#sweep(), 1000);
    this.#sweeper.unref();
    this.o.logger.log(`SRTLA receiver on udp ${this.o.bind}:${this.o.port} → SRT ${this.o.srt.host}:${this.o.srt.port}`);
  }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const group of [...this.#groups]) this.#drop(group);
    this.#socket?.close();
  }

  /** Whether `caller` (address:port, as the SRT listener sees it) is one of this receiver's groups. */
  isGroup(caller: string): boolean {
    return this.#groups.some((g) => {
      const source = g.upstream?.address();
      return !!source && typeof source === 'object' && `${source.address}:${source.port}` === caller;
    });
  }

  /** Every group now, with its links' figures. */
  groups(): SrtlaGroupView[] {
    const now = Date.now();
    return this.#groups.map((group) => {
      const figures = [...group.links.values()].map((link) => ({ link, ...this.#figures(link, now) }));
      const total = figures.reduce((sum, f) => sum + f.packets, 0);
      const source = group.upstream?.address();
      return {
        srtSource: source && typeof source === 'object' ? `${source.address}:${source.port}` : undefined,
        links: figures.map(({ link, packets, bytes, duplicates, ms }) => ({
          address: link.address,
          sharePct: total ? Math.round((packets / total) * 1000) / 10 : 0,
          kbps: ms ? Math.round((bytes * 8) / ms) : 0,
          duplicatePct: packets ? Math.round((duplicates / packets) * 1000) / 10 : 0,
          ...(link.lossPct !== undefined ? { lossPct: link.lossPct } : {}),
          reported: link.reported,
        })),
      };
    });
  }

  #figures(link: Link, now: number): { packets: number; bytes: number; duplicates: number; ms: number } {
    // The last whole window, or the current one when it is the only one there is.
    if (link.last.ms > 0 && now - link.window.start < STATS_WINDOW_MS * 2) return link.last;
    return { packets: link.window.packets, bytes: link.window.bytes, duplicates: link.window.duplicates, ms: Math.max(1, now - link.window.start) };
  }

  #send(packet: Buffer, address: string, port: number): void {
    this.#socket?.send(packet, port, address);
  }

  #onPacket(packet: Buffer, from: RemoteInfo): void {
    if (this.#closed) return;
    const linkKey = key(from.address, from.port);
    const type = srtlaType(packet);
    if (type === SRTLA.REG1) return this.#reg1(packet, from, linkKey);
    if (type === SRTLA.REG2) return this.#reg2(packet, from, linkKey);
    const group = this.#byLink.get(linkKey);
    const link = group?.links.get(linkKey);
    // Nothing from an address that has not registered (BELABOX's receiver does the same).
    if (!group || !link) return;
    const now = Date.now();
    link.lastHeard = now;
    if (type === SRTLA.KEEPALIVE) {
      const report = parseKeepalive(packet);
      link.reported = { ...link.reported, ...report };
      if (report.nakCount !== undefined) {
        const base = link.lossBase;
        if (base) {
          const [naks, packets] = [report.nakCount - base.naks, link.totalPackets - base.packets];
          if (naks >= 0 && naks + packets > 0) link.lossPct = Math.round((naks / (naks + packets)) * 1000) / 10;
        }
        link.lossBase = { naks: report.nakCount, packets: link.totalPackets };
      }
      return this.#send(packet, from.address, from.port);
    }
    // Any other SRTLA type (newer forks' extensions) is not for the SRT listener.
    if (type !== undefined || packet.length < 16) return;
    group.lastLink = linkKey;
    const sequence = srtDataSequence(packet);
    if (sequence === undefined || this.#countData(group, link, sequence, packet.length, now)) group.replyLink = linkKey;
    void this.#upstream(group).then(() => group.upstream?.send(packet));
  }

  /** Counts a data packet on its link; true when it is new (not a copy another link brought). */
  #countData(group: Group, link: Link, sequence: number, bytes: number, now: number): boolean {
    if (now - link.window.start >= STATS_WINDOW_MS) {
      link.last = { packets: link.window.packets, bytes: link.window.bytes, duplicates: link.window.duplicates, ms: now - link.window.start };
      link.window = { start: now, packets: 0, bytes: 0, duplicates: 0 };
    }
    link.window.packets += 1;
    link.totalPackets += 1;
    link.window.bytes += bytes;
    const first = group.seen.get(sequence);
    const duplicate = first !== undefined;
    // A packet two links brought is redundancy on both (a copy may come before the packet it repeats).
    if (first && first.link !== link) {
      link.window.duplicates += 1;
      if (!first.shared) first.link.window.duplicates += 1;
      first.shared = true;
    }
    if (!first) {
      group.seen.set(sequence, { link, shared: false });
      group.seenOrder.push(sequence);
      if (group.seenOrder.length > 8192) group.seen.delete(group.seenOrder.shift()!);
    }
    link.pending.push(sequence);
    if (link.pending.length >= ACK_EVERY) {
      this.#send(ack(link.pending), link.address, link.port);
      link.pending = [];
    }
    return !duplicate;
  }

  #reg1(packet: Buffer, from: RemoteInfo, linkKey: string): void {
    const id = regId(packet);
    if (!id) return;
    if (this.#byLink.has(linkKey) || this.#groups.some((g) => g.lastLink === linkKey) || this.#groups.length >= (this.o.maxGroups ?? 200)) {
      return this.#send(bare(SRTLA.REG_ERR), from.address, from.port);
    }
    // The sender's half, then ours.
    const groupId = Buffer.concat([id.subarray(0, SRTLA_ID_BYTES / 2), randomBytes(SRTLA_ID_BYTES / 2)]);
    const group: Group = { id: groupId, createdAt: Date.now(), links: new Map(), lastLink: linkKey, replyLink: linkKey, upstream: undefined, upstreamReady: undefined, seen: new Map(), seenOrder: [] };
    this.#groups.push(group);
    this.#send(reg(SRTLA.REG2, groupId), from.address, from.port);
  }

  #reg2(packet: Buffer, from: RemoteInfo, linkKey: string): void {
    const id = regId(packet);
    if (!id) return;
    const group = this.#groups.find((g) => timingSafeEqual(g.id, id));
    if (!group) return this.#send(bare(SRTLA.REG_NGP), from.address, from.port);
    const other = this.#byLink.get(linkKey);
    if (other && other !== group) return this.#send(bare(SRTLA.REG_ERR), from.address, from.port);
    if (!group.links.has(linkKey)) {
      if (group.links.size >= (this.o.maxLinks ?? 16)) return this.#send(bare(SRTLA.REG_ERR), from.address, from.port);
      const now = Date.now();
      group.links.set(linkKey, {
        address: from.address,
        port: from.port,
        lastHeard: now,
        pending: [],
        window: { start: now, packets: 0, bytes: 0, duplicates: 0 },
        last: { packets: 0, bytes: 0, duplicates: 0, ms: 0 },
        reported: {},
        totalPackets: 0,
      });
      this.#byLink.set(linkKey, group);
      this.o.logger.log(`srtla: link ${linkKey} joined a group (${group.links.size} links)`);
    }
    group.lastLink = linkKey;
    group.replyLink ??= linkKey;
    this.#send(bare(SRTLA.REG3), from.address, from.port);
  }

  /** The group's one socket towards the SRT listener, opened with its first SRT packet. */
  #upstream(group: Group): Promise<void> {
    group.upstreamReady ??= new Promise<void>((resolve) => {
      const socket = createSocket('udp4');
      socket.on('error', (error) => this.o.logger.warn(`srtla: upstream: ${error.message}`));
      socket.on('message', (reply) => this.#fromSrt(group, reply));
      socket.connect(this.o.srt.port, this.o.srt.host, () => {
        group.upstream = socket;
        resolve();
      });
    });
    return group.upstreamReady;
  }

  #fromSrt(group: Group, reply: Buffer): void {
    if (srtControlType(reply) === SRT_ACK) {
      for (const link of group.links.values()) this.#send(reply, link.address, link.port);
      return;
    }
    const link = group.links.get(group.replyLink ?? '') ?? group.links.get(group.lastLink ?? '');
    if (link) this.#send(reply, link.address, link.port);
  }

  #sweep(): void {
    const now = Date.now();
    for (const group of [...this.#groups]) {
      for (const [linkKey, link] of group.links) {
        if (now - link.lastHeard > LINK_TIMEOUT_MS) {
          group.links.delete(linkKey);
          this.#byLink.delete(linkKey);
          this.o.logger.log(`srtla: link ${linkKey} timed out`);
        }
      }
      if (group.links.size === 0 && now - group.createdAt > LINK_TIMEOUT_MS) this.#drop(group);
    }
  }

  #drop(group: Group): void {
    const at = this.#groups.indexOf(group);
    if (at >= 0) this.#groups.splice(at, 1);
    for (const linkKey of group.links.keys()) this.#byLink.delete(linkKey);
    group.links.clear();
    group.upstream?.close();
    group.upstream = undefined;
  }
}
