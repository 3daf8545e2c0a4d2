import type { types } from 'mediasoup';
import type { LineLogger } from '@gw/common';
import { type Ack, forwardedError, type NodeRpc, respondForwarded } from '@gw/im';
import type { Conference } from './conference';
import type { ConferenceService } from './conference.service';
import type { Participant } from './participant';
import { bridgeGives } from './span-rules';
import { ConferenceUnreachableError } from './errors';
import type { MuteKind } from './mutes';

/**
 * A host control (docs/signalling.md: media:mute, media:unmute, media:remove,
 * media:stopShare) as it travels to the node a participant is connected to.
 */
export type HostControl =
  | { op: 'mute' | 'unmute'; actorUserId: string; userId: string; kind: MuteKind; locked?: boolean }
  | { op: 'remove' | 'stopShare'; actorUserId: string; userId: string };

/** How often a copy tells its home it is there, and how much silence ends a bridge. */
export const SPAN_PING_MS = 2000;
export const SPAN_SILENCE_MS = 10_000;

const LOCATE = 'conf:locate';
const BRIDGE = 'conf:bridge';
const EVENT = 'conf:event';

interface Addressed {
  /** The node the message is for; every other node answers null. */
  to: string;
  from: string;
  conferenceId: string;
}

/** What one node tells the other about its side of a bridged conference, in order. */
export type SpanEvent =
  | { kind: 'joined'; userId: string; via: 'webrtc' | 'rtmp' }
  | { kind: 'left'; userId: string; reason: string }
  | {
      kind: 'producer';
      userId: string;
      via: 'webrtc' | 'rtmp';
      sourceId: string;
      mediaKind: types.MediaKind;
      rtpParameters: types.RtpParameters;
      paused: boolean;
      appData: Record<string, unknown>;
    }
  | { kind: 'producerClosed'; sourceId: string }
  | { kind: 'producerPaused'; sourceId: string; paused: boolean }
  | { kind: 'ping' }
  | { kind: 'admit'; userId: string }
  | { kind: 'control'; control: HostControl }
  | { kind: 'closed'; reason: string };

interface LocateReply {
  node: string;
  title: string;
  hostUserId?: string;
  createdAt: number;
  members: string[];
}

interface BridgeEnd {
  ip: string;
  port: number;
  srtpParameters?: types.SrtpParameters;
}

/**
 * One conference's media between this node and one other node: a pair of
 * PipeTransports (RTX, SRTP), set up and driven over Redis request/reply
 * (NodeRpc). Each side pipes across the producers of the participants that
 * are its own to give (a copy gives only who is connected to it; the home
 * gives everyone but the other side's), and shows the other side's as
 * participants `via: 'relay'` with `relayOf.node`. Events go one at a time,
 * each acknowledged before the next, so a producer never arrives before its
 * participant nor closes before it opened.
 */
class Bridge {
  /** Local producer id → the pipe consumer sending it across (undefined while it is being made). */
  readonly #outgoing = new Map<string, types.Consumer | undefined>();
  /** The other side's producer id → its producer here. */
  readonly #incoming = new Map<string, types.Producer>();
  /** Users whose presence was told across. */
  readonly #told = new Set<string>();
  readonly #unsubscribe: (() => void)[] = [];
  #sending: Promise<unknown> = Promise.resolve();
  #closed = false;
  #lastHeard = Date.now();
  #pingFailures = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly connected: Promise<void>;
  #connect!: () => void;

  constructor(
    readonly conference: Conference,
    readonly remoteNode: string,
    readonly transport: types.PipeTransport,
    private readonly spans: ConferenceSpans,
  ) {
    this.connected = new Promise((resolve) => (this.#connect = resolve));
    // Closed with its conference (the other side hears it ended), or with its router.
    transport.observer.once('close', () => (conference.closed ? this.close('the conference ended', true) : this.close('bridge transport closed', false)));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connected to the other end: start following this conference and tell what is there now. */
  start(remote: BridgeEnd): Promise<void> {
    return this.transport.connect({ ip: remote.ip, port: remote.port, srtpParameters: remote.srtpParameters }).then(() => {
      this.#connect();
      if (this.#closed) return;
      const c = this.conference;
      const joined = ({ userId }: { userId: string }) => this.#tellJoined(userId);
      const left = ({ userId, reason }: { userId: string; reason: string }) => {
        if (!this.#told.delete(userId)) return;
        void this.#send({ kind: 'left', userId, reason });
      };
      const produced = ({ userId, producerId }: { userId: string; producerId: string }) => this.#tellProducer(userId, producerId);
      c.on('participantJoined', joined);
      c.on('participantLeft', left);
      c.on('newProducer', produced);
      c.on('compositeProducer', produced);
      this.#unsubscribe.push(
        () => c.off('participantJoined', joined),
        () => c.off('participantLeft', left),
        () => c.off('newProducer', produced),
        () => c.off('compositeProducer', produced),
      );
      for (const p of c.participants) {
        this.#tellJoined(p.userId);
        for (const producer of p.producers.values()) this.#tellProducer(p.userId, producer.id);
      }
      this.#timer = setInterval(() => this.#keepAlive(), SPAN_PING_MS);
      this.#timer.unref();
    });
  }

  /** Whether this participant's media is ours to give to the other side. */
  #gives(p: Participant | undefined): p is Participant {
    return p !== undefined && !p.closed && bridgeGives(p.relayOf?.node, this.remoteNode, this.conference.homeNode === undefined);
  }

  #viaOf(p: Participant): 'webrtc' | 'rtmp' {
    return p.via === 'relay' ? (p.relayOf?.via ?? 'webrtc') : p.via;
  }

  #tellJoined(userId: string): void {
    const p = this.conference.participant(userId);
    if (!this.#gives(p) || this.#told.has(userId)) return;
    this.#told.add(userId);
    void this.#send({ kind: 'joined', userId, via: this.#viaOf(p) });
  }

  #tellProducer(userId: string, producerId: string): void {
    const p = this.conference.participant(userId);
    if (!this.#gives(p) || this.#outgoing.has(producerId)) return;
    const producer = p.producers.get(producerId);
    if (!producer || producer.closed) return;
    this.#tellJoined(userId);
    // Reserved now, so that the same producer is never sent twice.
    this.#outgoing.set(producerId, undefined);
    void this.#enqueue(async () => {
      if (this.#closed || producer.closed) return void this.#outgoing.delete(producerId);
      let consumer: types.Consumer;
      try {
        consumer = await this.conference.consumeForBridge(this.transport, producerId);
      } catch (error) {
        this.#outgoing.delete(producerId);
        this.spans.logger.warn(`conference ${this.conference.id}: producer ${producerId} not bridged to ${this.remoteNode}: ${(error as Error).message}`);
        return;
      }
      this.#outgoing.set(producerId, consumer);
      consumer.observer.once('close', () => {
        if (this.#outgoing.get(producerId) !== consumer) return;
        this.#outgoing.delete(producerId);
        void this.#send({ kind: 'producerClosed', sourceId: producerId });
      });
      consumer.on('producerpause', () => void this.#send({ kind: 'producerPaused', sourceId: producerId, paused: true }));
      consumer.on('producerresume', () => void this.#send({ kind: 'producerPaused', sourceId: producerId, paused: false }));
      const reply = await this.spans.tell(this, {
        kind: 'producer',
        userId,
        via: this.#viaOf(p),
        sourceId: producerId,
        mediaKind: consumer.kind,
        rtpParameters: consumer.rtpParameters,
        paused: consumer.producerPaused,
        appData: producer.appData,
      });
      if (!reply?.ok) {
        this.spans.logger.warn(`conference ${this.conference.id}: node ${this.remoteNode} did not take producer ${producerId}${reply && !reply.ok ? `: ${reply.error.message}` : ''}`);
        this.#outgoing.delete(producerId);
        consumer.close();
      }
    });
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#sending.then(work).catch((error: Error) => this.spans.logger.warn(`conference ${this.conference.id} → ${this.remoteNode}: ${error.message}`));
    this.#sending = next;
    return next;
  }

  #send(event: SpanEvent): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#closed) return;
      await this.spans.tell(this, event);
    });
  }

  /** An event from the other side (in its order). */
  async receive(event: SpanEvent): Promise<Ack> {
    this.#lastHeard = Date.now();
    await this.connected;
    const c = this.conference;
    switch (event.kind) {
      case 'ping':
        return { ok: true };
      case 'admit':
        // At the home, saved like any admission; a copy only hears of it.
        if (c.homeNode === undefined) c.admit(event.userId);
        else c.members.add(event.userId);
        return { ok: true };
      case 'control':
        // Carried on towards the participant's own node if it is not here either, then applied here.
        return respondForwarded(() => this.spans.control(c, event.control));
      case 'joined':
        c.joinFromNode(event.userId, this.remoteNode, event.via, this.transport);
        return { ok: true };
      case 'producer': {
        if (!c.joinFromNode(event.userId, this.remoteNode, event.via, this.transport)) {
          return { ok: false, error: { code: 'PRESENT_HERE', message: `${event.userId} is connected to node ${this.spans.nodeId}` } };
        }
        const producer = await c.produceFromNode(event.userId, this.transport, {
          kind: event.mediaKind,
          rtpParameters: event.rtpParameters,
          paused: event.paused,
          appData: event.appData,
          node: this.remoteNode,
        });
        this.#incoming.set(event.sourceId, producer);
        producer.observer.once('close', () => {
          if (this.#incoming.get(event.sourceId) === producer) this.#incoming.delete(event.sourceId);
        });
        return { ok: true };
      }
      case 'producerClosed':
        this.#incoming.get(event.sourceId)?.close();
        return { ok: true };
      case 'producerPaused': {
        const producer = this.#incoming.get(event.sourceId);
        if (producer && !producer.closed) await (event.paused ? producer.pause() : producer.resume());
        return { ok: true };
      }
      case 'left':
        if (c.participant(event.userId)?.relayOf?.node === this.remoteNode) c.leave(event.userId, event.reason);
        return { ok: true };
      case 'closed':
        this.close(`node ${this.remoteNode}: ${event.reason}`, false);
        // A copy ends with its home.
        if (c.homeNode === this.remoteNode) c.close(`ended on node ${this.remoteNode}: ${event.reason}`);
        return { ok: true };
    }
  }

  /** The copy pings its home; the home drops a copy it has not heard from. */
  #keepAlive(): void {
    if (this.#closed) return;
    if (this.conference.homeNode !== this.remoteNode) {
      if (Date.now() - this.#lastHeard > SPAN_SILENCE_MS) this.close(`node ${this.remoteNode} silent`, false);
      return;
    }
    void this.spans.tell(this, { kind: 'ping' }).then((reply) => {
      if (reply?.ok) {
        this.#pingFailures = 0;
        this.#lastHeard = Date.now();
        return;
      }
      this.#pingFailures += 1;
      if (this.#pingFailures >= 3 && !this.#closed) {
        this.close(`home node ${this.remoteNode} lost`, false);
        this.conference.close(`home node ${this.remoteNode} lost`);
      }
    });
  }

  /** Ends the bridge: the other side's participants leave here; `tell`: the other side hears why. */
  close(reason: string, tell: boolean): void {
    if (this.#closed) return;
    if (tell) void this.spans.tell(this, { kind: 'closed', reason }, true);
    this.#closed = true;
    this.#connect();
    clearInterval(this.#timer);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.transport.close();
    const c = this.conference;
    for (const p of c.participants) if (p.relayOf?.node === this.remoteNode) c.leave(p.userId, `${reason}`);
    this.spans.forget(this);
  }
}

/**
 * Conferences across nodes (cluster mode, docs/cluster.md). A participant
 * joins on the node its client reached: when the conference lives on
 * another node (its home), this node makes a copy of it (same id, members
 * from the home) and bridges the two with PipeTransports, so everyone sees
 * and hears everyone and the home's mixes consume every participant. A copy
 * ends when nobody is connected to it for the idle time, or with its home;
 * the home drops a copy that has been silent for SPAN_SILENCE_MS, a copy
 * ends when its home stopped answering three pings.
 */
export class ConferenceSpans {
  /** `${conferenceId}>${node}` → the bridge. */
  readonly #bridges = new Map<string, Bridge>();
  readonly #obtaining = new Map<string, Promise<Conference | undefined>>();

  constructor(
    private readonly conferences: ConferenceService,
    private readonly rpc: NodeRpc,
    readonly nodeId: string,
    readonly logger: LineLogger,
  ) {}

  /** Serves the other nodes and lets this node find conferences they hold. */
  enable(): void {
    this.rpc.handle(LOCATE, (payload) => this.#locate(payload as { conferenceId: string }));
    this.rpc.handle(BRIDGE, (payload) => this.#bridgeHere(payload as Addressed & BridgeEnd));
    this.rpc.handle(EVENT, (payload) => this.#event(payload as Addressed & { event: SpanEvent }));
    // A conference's bridges end with it: closing it closes their transports (Bridge's constructor).
    this.conferences.setLocator((id, userId) => this.#obtain(id, userId));
  }

  /**
   * Makes a user a member: at the conference's home (saved there) when this
   * is a copy, so that every node knows them; here when this is the home.
   */
  async admit(conference: Conference, userId: string): Promise<void> {
    if (conference.homeNode === undefined) return conference.admit(userId);
    const bridge = this.#bridges.get(`${conference.id}>${conference.homeNode}`);
    const reply = bridge && !bridge.closed ? await this.tell(bridge, { kind: 'admit', userId }) : undefined;
    if (!reply?.ok) throw new ConferenceUnreachableError(conference.id, conference.homeNode);
    conference.members.add(userId);
  }

  /**
   * Applies a host control. A participant connected to another node is acted
   * on there first (over the bridge its media comes by, hop by hop), so that
   * its own node pauses or closes its producers, keeps its mutes and tells its
   * sockets; a refusal there (MUTE_LOCKED, NOT_CONFERENCE_HOST) is the answer.
   * Then it is applied here too: this node's mutes, members and sockets.
   */
  async control(conference: Conference, control: HostControl): Promise<{ muted?: boolean; locked?: boolean }> {
    const node = conference.participant(control.userId)?.relayOf?.node;
    if (node) {
      const bridge = this.#bridges.get(`${conference.id}>${node}`);
      const reply = bridge && !bridge.closed ? await this.tell(bridge, { kind: 'control', control }) : undefined;
      if (!reply) throw new ConferenceUnreachableError(conference.id, node);
      if (!reply.ok) throw forwardedError(reply.error);
    }
    switch (control.op) {
      case 'mute':
      case 'unmute':
        return conference.setMuted(control.actorUserId, control.userId, control.kind, control.op === 'mute', control.locked === true);
      case 'remove':
        // Already gone here when its node removed it (the bridge told this node it left): the membership still goes.
        if (node && !conference.participant(control.userId) && !conference.members.has(control.userId)) return {};
        conference.removeParticipant(control.actorUserId, control.userId);
        return {};
      case 'stopShare':
        if (node && !conference.participant(control.userId)) return {};
        conference.stopScreenShare(control.actorUserId, control.userId);
        return {};
    }
  }

  /** The bridges of a conference, by the other node (for GET /conferences/:id and tests). */
  nodesOf(conferenceId: string): string[] {
    return [...this.#bridges.values()].filter((b) => b.conference.id === conferenceId && !b.closed).map((b) => b.remoteNode);
  }

  /** Sends one event across a bridge; resolves the other side's ack (undefined: nobody answered). */
  tell(bridge: Bridge, event: SpanEvent, evenIfClosed = false): Promise<Ack | undefined> {
    if (bridge.closed && !evenIfClosed) return Promise.resolve(undefined);
    return this.rpc.forward(EVENT, { to: bridge.remoteNode, from: this.nodeId, conferenceId: bridge.conference.id, event });
  }

  forget(bridge: Bridge): void {
    const key = `${bridge.conference.id}>${bridge.remoteNode}`;
    if (this.#bridges.get(key) === bridge) this.#bridges.delete(key);
  }

  #locate({ conferenceId }: { conferenceId: string }): Ack<LocateReply> | null {
    const c = this.conferences.find(conferenceId);
    if (!c || c.closed || c.homeNode !== undefined) return null;
    return { ok: true, node: this.nodeId, title: c.title, hostUserId: c.hostUserId, createdAt: c.createdAt, members: [...c.members] };
  }

  /** This node's copy of another node's conference (made once; its members refreshed when a user is not among them). */
  #obtain(id: string, userId?: string): Promise<Conference | undefined> {
    let pending = this.#obtaining.get(id);
    if (!pending) {
      pending = this.#copy(id, userId).finally(() => this.#obtaining.delete(id));
      this.#obtaining.set(id, pending);
    }
    return pending;
  }

  async #copy(id: string, userId?: string): Promise<Conference | undefined> {
    if (!this.rpc.clustered) return undefined;
    const existing = this.conferences.find(id);
    if (existing && existing.homeNode === undefined) return existing;
    const found = await this.rpc.forward(LOCATE, { conferenceId: id });
    if (!found?.ok) return existing;
    const home = found as unknown as LocateReply;
    if (existing) {
      if (userId && home.members.includes(userId)) existing.members.add(userId);
      return existing;
    }
    const copy = await this.conferences.createMirror({ id, title: home.title, hostUserId: home.hostUserId, createdAt: home.createdAt, members: home.members, homeNode: home.node });
    const key = `${id}>${home.node}`;
    if (this.#bridges.get(key)?.closed === false) return copy;
    try {
      const transport = await copy.createBridgeTransport();
      const bridge = new Bridge(copy, home.node, transport, this);
      this.#bridges.set(key, bridge);
      const reply = await this.rpc.forward(BRIDGE, { to: home.node, from: this.nodeId, conferenceId: id, ...this.#end(transport) });
      if (!reply?.ok) throw new Error(reply && !reply.ok ? reply.error.message : `node ${home.node} did not answer`);
      await bridge.start(reply as unknown as BridgeEnd);
      this.logger.log(`conference ${id}: bridged to its home, node ${home.node}`);
      return copy;
    } catch (error) {
      this.logger.warn(`conference ${id}: no bridge to node ${home.node}: ${(error as Error).message}`);
      copy.close('no bridge to its home');
      return undefined;
    }
  }

  #end(transport: types.PipeTransport): BridgeEnd {
    return { ip: transport.tuple.localIp, port: transport.tuple.localPort, srtpParameters: transport.srtpParameters };
  }

  /** At the home: a copy asks for its end of a bridge. */
  async #bridgeHere(m: Addressed & BridgeEnd): Promise<Ack<BridgeEnd> | null> {
    if (m.to !== this.nodeId) return null;
    const c = this.conferences.find(m.conferenceId);
    if (!c || c.closed) return { ok: false, error: { code: 'CONFERENCE_NOT_FOUND', message: `conference ${m.conferenceId} not found` } };
    const key = `${m.conferenceId}>${m.from}`;
    // A copy made again (its node restarted, or it ended and came back): the old bridge goes.
    this.#bridges.get(key)?.close('bridged again', false);
    const transport = await c.createBridgeTransport();
    const bridge = new Bridge(c, m.from, transport, this);
    this.#bridges.set(key, bridge);
    // Connected and started after the answer is on its way: the copy connects its end on receiving it.
    setImmediate(() => {
      bridge.start(m).catch((error: Error) => {
        this.logger.warn(`conference ${m.conferenceId}: bridge to node ${m.from} failed: ${error.message}`);
        bridge.close('bridge failed', true);
      });
    });
    this.logger.log(`conference ${m.conferenceId}: bridged to node ${m.from}`);
    return { ok: true, ...this.#end(transport) };
  }

  async #event(m: Addressed & { event: SpanEvent }): Promise<Ack | null> {
    if (m.to !== this.nodeId) return null;
    const bridge = this.#bridges.get(`${m.conferenceId}>${m.from}`);
    if (!bridge || bridge.closed) return m.event.kind === 'closed' ? { ok: true } : null;
    try {
      return await bridge.receive(m.event);
    } catch (error) {
      const e = error as Error & { code?: string };
      return { ok: false, error: { code: e.code ?? 'INTERNAL', message: e.message } };
    }
  }
}
