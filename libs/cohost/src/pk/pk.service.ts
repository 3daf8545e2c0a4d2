import { randomBytes } from 'node:crypto';
import { LineLogger } from '@gw/common';
import type { UserPrincipal } from '@gw/auth';
import { Conference, ConferenceRelay, ConferenceService, IngestService } from '@gw/conference';
import { ChannelService, hostSourceStream, LIVE_APP, ProgramService } from '@gw/live';
import { MixingService, MixTask, OutputSettings, OverlaySpec } from '@gw/mixing';
import type { SessionRepository } from '@gw/persistence';
import { NotChannelHostError } from '../cohost-errors';
import { ChannelNotHostedError } from '../cohost.service';
import { cohostMixSettings } from '../mix-settings';
import { NotPkHostError, Pk, PkDesk, PkStateError } from './pk-desk';
import { PkChannelCohostingError } from './pk-errors';
import { battleOverlays, pkCells } from './pk-pictures';

export interface PkOptions {
  /** How long an invitation waits for an answer (COHOST_INVITE_TTL_SECONDS). */
  inviteTtlSeconds: number;
  /** A host gone this long ends the PK; also how long a channel waits for its host's push at the end (COHOST_GRACE_SECONDS). */
  graceSeconds: number;
  logger: LineLogger;
  /** Saves running PKs so a restarted gateway restores them (absent in unit tests). */
  store?: SessionRepository;
  /** Feeds each host's own push into the PK's conference (absent in unit tests). */
  ingest?: IngestService;
  /** The channels' co-hosting sessions: their guests stay in their own channel's picture during a PK (absent in unit tests). */
  cohost?: CohostLink;
}

/** What a PK needs of a channel's co-hosting session (CohostService). */
export interface CohostLink {
  session(channelId: string): { conferenceId: string; hostUserId: string; mode: 'server' | 'client' } | undefined;
  /** The session takes the channel's program back after the PK; false when there is none to take it. */
  resumeAfterPk(channelId: string): Promise<boolean>;
}

/** Delivers a server → client event to one user (all their sockets). */
export type PkNotify = (userId: string, event: string, payload: object) => void;

/** Who hosts a channel right now (a host online has a desk), and whether it is co-hosting with guests. */
export type ChannelHosts = (channelId: string) => { hostUserId: string; cohosting: boolean } | undefined;

/** One channel of a running PK: its mix, which feeds that channel's program. */
interface Side {
  channelId: string;
  hostUserId: string;
  otherChannelId: string;
  otherUserId: string;
  /** The channel's picture and sound for the whole PK: its host's push as it was at the start. */
  settings: OutputSettings;
  mix?: MixTask;
  /** The overlays last set on the mix (JSON), so an unchanged countdown second sets nothing. */
  overlayKey?: string;
  /** A co-hosting channel: its guests on mic, relayed from its session's conference into the PK's. */
  relay?: ConferenceRelay;
  /** Who the mix shows and its layout, last set (JSON), so an unchanged one sets nothing. */
  scopeKey?: string;
}

/** The runtime of an active PK; its one owner is this service, and hand-back happens once (`closed`). */
interface Running {
  pkId: string;
  conferenceId: string;
  sides: [Side, Side];
  closed: boolean;
  unsubscribe: (() => void)[];
}

/** Ended PKs are kept this long, so a late move still gets its precise error (PK_CANCELLED, …). */
const ENDED_PK_KEEP_MS = 60_000;
/** How long each wait for the own host's picture lasts before it is asked again (the wait repeats until the PK ends). */
const HOST_PICTURE_POLL_MS = 5000;

/**
 * PK: the hosts of two channels co-host. On accept, one conference holds both
 * hosts (each by their own push, attached as co-hosting does, or by WebRTC),
 * and two mix tasks, one per channel, each feed their own channel's program
 * the mirrored picture: own host left, other host right, both voices. A
 * channel goes on air with its mix only once the mix shows its own host, so
 * its viewers never see a frame without them. At the end each channel splices
 * its host's push back in, and only then do the mixes and the conference go.
 * Battles draw a score bar and the time left over both pictures (mix-task
 * overlays), updated live. The state machine is PkDesk (pure); this is its
 * I/O: events, processes, persistence.
 */
export class PkService {
  readonly #desk: PkDesk;
  readonly #running = new Map<string, Running>();
  readonly #grace = new Map<string, NodeJS.Timeout>();
  readonly #handBacks = new Set<Promise<void>>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    private readonly channels: ChannelService,
    private readonly conferences: ConferenceService,
    private readonly mixing: MixingService,
    private readonly programs: ProgramService,
    private readonly hosts: ChannelHosts,
    private readonly notify: PkNotify,
    private readonly o: PkOptions,
  ) {
    this.#desk = new PkDesk({ ttlMs: o.inviteTtlSeconds * 1000 });
    this.#sweeper = setInterval(() => this.#sweep(), 250);
    this.#sweeper.unref();
  }

  /** The host of `channelId` invites the host of `targetChannelId`, who must be online. */
  invite(by: UserPrincipal, channelId: string, targetChannelId: string): { pkId: string; expiresAt: string } {
    this.#assertHostOf(by, channelId);
    this.#expire();
    const target = channelId === targetChannelId ? { hostUserId: by.userId, cohosting: false } : this.hosts(targetChannelId);
    if (!target) throw new ChannelNotHostedError(targetChannelId);
    this.#assertNotCohosting(channelId, targetChannelId);
    const pk = this.#desk.invite({ channelId, userId: by.userId }, { channelId: targetChannelId, userId: target.hostUserId }, Date.now(), this.#id());
    const expiresAt = new Date(pk.expiresAt).toISOString();
    this.notify(pk.toUserId, 'pk:invited', { pkId: pk.id, fromChannelId: pk.fromChannelId, fromUserId: pk.fromUserId, toChannelId: pk.toChannelId, expiresAt });
    return { pkId: pk.id, expiresAt };
  }

  /** The target channel's host accepts: the PK starts (conference, mixes) and the answer carries its conference. */
  async accept(by: UserPrincipal, pkId: string): Promise<{ conferenceId: string }> {
    this.#expire();
    const before = this.#desk.get(pkId);
    if (by.role !== 'host' || by.channelId !== before.toChannelId) throw new NotPkHostError('accept');
    if (before.state === 'pending') this.#assertNotCohosting(before.fromChannelId, before.toChannelId);
    // Synchronous: of an accept and a cancel racing, exactly one changes the state; the other gets its error.
    const pk = this.#desk.accept(by.userId, pkId, Date.now());
    this.#tellBoth(pk, 'pk:accepted', this.#public(pk));
    try {
      const conferenceId = await this.#start(pk);
      return { conferenceId };
    } catch (error) {
      if (this.#desk.get(pkId).state === 'active') await this.#finish(pkId, 'the PK could not start');
      throw error;
    }
  }

  reject(by: UserPrincipal, pkId: string, reason?: string): object {
    this.#expire();
    const pk = this.#desk.reject(by.userId, pkId, Date.now(), reason);
    this.#tellBoth(pk, 'pk:rejected', this.#public(pk));
    return {};
  }

  cancel(by: UserPrincipal, pkId: string): object {
    this.#expire();
    const pk = this.#desk.cancel(by.userId, pkId, Date.now());
    this.#tellBoth(pk, 'pk:cancelled', this.#public(pk));
    return {};
  }

  /** Either host ends an active PK. */
  async end(by: UserPrincipal, pkId: string): Promise<object> {
    await this.#finish(pkId, 'ended by host', by.userId);
    return {};
  }

  /** Either host starts a battle: a countdown and a score per channel, drawn into both pictures. */
  battle(by: UserPrincipal, pkId: string, durationSeconds: number): { endsAt: string } {
    const now = Date.now();
    const pk = this.#commit(pkId, (desk) => desk.startBattle(by.userId, pkId, durationSeconds, now));
    const battle = pk.battle!;
    this.#tellBoth(pk, 'pk:battle-started', { pkId, endsAt: new Date(battle.endsAt).toISOString(), scores: battle.scores });
    this.#draw(pkId);
    return { endsAt: new Date(battle.endsAt).toISOString() };
  }

  /** Points for a channel in the running battle (admin: the platform turns gifts into points). */
  score(pkId: string, channelId: string, delta: number): { pkId: string; scores: Record<string, number>; endsAt: string } {
    const now = Date.now();
    const pk = this.#commit(pkId, (desk) => desk.score(pkId, channelId, delta, now));
    const battle = pk.battle!;
    this.#tellBoth(pk, 'pk:score', { pkId, scores: battle.scores });
    this.#draw(pkId);
    return { pkId, scores: battle.scores, endsAt: new Date(battle.endsAt).toISOString() };
  }

  /** A PK as an operator sees it. */
  view(pkId: string): object {
    return this.#view(this.#desk.get(pkId));
  }

  /** Every PK pending or active. */
  list(): object[] {
    return this.#desk.open().map((pk) => this.#view(pk));
  }

  /** A host's last socket went away: after the grace period their active PK ends. */
  userOffline(userId: string): void {
    const pk = this.#desk.ofHost(userId);
    if (!pk || pk.state !== 'active') return;
    this.#cancelGrace(userId);
    this.#grace.set(
      userId,
      setTimeout(() => {
        this.#grace.delete(userId);
        void this.#finish(pk.id, 'host disconnected').catch(() => undefined);
      }, this.o.graceSeconds * 1000),
    );
  }

  /** A user (re)connected: their pending grace is cancelled. */
  userOnline(userId: string): void {
    this.#cancelGrace(userId);
  }

  /**
   * After a restart: each saved PK comes back with its conference; its mixes
   * start again at once and go on air per channel once they show that
   * channel's host (whose push is attached again, and fed in when it returns).
   * A host who does not reconnect within the grace period ends it.
   */
  restore(): void {
    for (const record of this.o.store?.pkSessions() ?? []) {
      const pk = record.state as Pk;
      const conference = this.conferences.find(record.conferenceId);
      if (!conference || pk.state !== 'active' || !this.channels.exists(pk.fromChannelId) || !this.channels.exists(pk.toChannelId)) {
        this.#unsaved(`forget PK ${record.id}`, () => this.o.store?.deletePkSession(record.id));
        continue;
      }
      this.#desk.restore({ ...pk, conferenceId: record.conferenceId });
      const running = this.#open(pk, conference, record.mixSettings as Record<string, OutputSettings>);
      for (const side of running.sides) {
        void this.#startMix(running, side).catch((error: Error) => this.o.logger.error(`PK ${pk.id}: mix of ${side.channelId} did not restart: ${error.message}`));
      }
      for (const userId of [pk.fromUserId, pk.toUserId]) this.userOffline(userId);
      this.o.logger.log(`PK ${pk.id} restored (${pk.fromChannelId} × ${pk.toChannelId}, conference ${record.conferenceId})`);
    }
  }

  /** At shutdown: the runtime stops; saved PKs stay saved for the next start. */
  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    for (const timer of this.#grace.values()) clearTimeout(timer);
    this.#grace.clear();
    for (const running of [...this.#running.values()]) {
      this.#running.delete(running.pkId);
      this.#track(this.#handBack(running, 'shutdown'));
    }
    await Promise.all([...this.#handBacks]);
  }

  /** The conference with both hosts, saved, and the runtime with both mixes. */
  async #start(pk: Pk): Promise<string> {
    const conference = await this.conferences.create({ title: `PK ${pk.fromChannelId} × ${pk.toChannelId}`, hostUserId: pk.fromUserId });
    const settings: Record<string, OutputSettings> = {
      [pk.fromChannelId]: cohostMixSettings(this.programs.hostInfo(pk.fromChannelId)),
      [pk.toChannelId]: cohostMixSettings(this.programs.hostInfo(pk.toChannelId)),
    };
    let started: Pk;
    try {
      // Ended while the conference was being made (a host's grace ran out, pk:end): nothing starts.
      const now = this.#desk.get(pk.id);
      if (now.state !== 'active') throw new PkStateError(pk.id, now.state);
      started = { ...now, conferenceId: conference.id };
      const admit = () => {
        conference.admit(pk.fromUserId);
        conference.admit(pk.toUserId);
        this.o.store?.savePkSession({ id: pk.id, conferenceId: conference.id, state: started, mixSettings: settings, savedAt: Date.now() });
      };
      if (this.o.store) this.o.store.atomically('start a PK', admit);
      else admit();
      this.#desk.started(pk.id, conference.id);
    } catch (error) {
      conference.close('the PK could not start');
      throw error;
    }
    const running = this.#open(started, conference, settings);
    await Promise.all(running.sides.map((side) => this.#startMix(running, side)));
    const payload = { pkId: pk.id, channelIds: [pk.fromChannelId, pk.toChannelId], conferenceId: conference.id };
    this.#tellBoth(pk, 'pk:started', payload);
    this.o.logger.log(`PK ${pk.id} started: ${pk.fromChannelId} × ${pk.toChannelId} in conference ${conference.id}`);
    return conference.id;
  }

  /** The runtime: registered, following its conference, both channels marked co-hosting, both hosts' pushes attached. */
  #open(pk: Pk, conference: Conference, settings: Record<string, OutputSettings>): Running {
    const side = (channelId: string, hostUserId: string, otherChannelId: string, otherUserId: string): Side => ({
      channelId,
      hostUserId,
      otherChannelId,
      otherUserId,
      settings: settings[channelId] ?? cohostMixSettings({}),
    });
    const running: Running = {
      pkId: pk.id,
      conferenceId: conference.id,
      sides: [side(pk.fromChannelId, pk.fromUserId, pk.toChannelId, pk.toUserId), side(pk.toChannelId, pk.toUserId, pk.fromChannelId, pk.fromUserId)],
      closed: false,
      unsubscribe: [],
    };
    this.#running.set(pk.id, running);
    const onClosed = ({ reason }: { reason: string }) => {
      if (this.#running.get(pk.id) === running) void this.#finish(pk.id, reason === 'shutdown' ? 'shutdown' : 'conference ended').catch(() => undefined);
    };
    conference.once('closed', onClosed);
    running.unsubscribe.push(() => conference.off('closed', onClosed));
    for (const s of running.sides) {
      const session = this.o.cohost?.session(s.channelId);
      if (session?.mode === 'server') {
        const source = this.conferences.find(session.conferenceId);
        if (source) {
          // The host is here by their own push (or browser); their guests come across from the session.
          s.relay = new ConferenceRelay({
            from: source,
            to: conference,
            select: (userId) => userId !== session.hostUserId && userId !== s.otherUserId,
            logger: this.o.logger,
            onChange: () => this.#reshape(running),
          });
        }
      }
      this.channels.beginCohosting(s.channelId, conference.id);
      this.o.ingest?.attachStream(
        { app: LIVE_APP, stream: hostSourceStream(s.channelId), conferenceId: conference.id, userId: s.hostUserId },
        this.channels.hostPublishing(s.channelId),
      );
    }
    for (const s of running.sides) s.relay?.start();
    return running;
  }

  /** A side's own guests now present in the PK's conference. */
  #guestsOf(running: Running, side: Side): string[] {
    const conference = this.conferences.find(running.conferenceId);
    return (side.relay?.userIds ?? []).filter((userId) => conference?.participant(userId));
  }

  /** Who a side's mix shows and hears, and where: its host, the other host, its own guests. */
  #scopeOf(running: Running, side: Side): { participants: string[]; cells: ReturnType<typeof pkCells> } {
    const guests = this.#guestsOf(running, side);
    return {
      participants: [side.hostUserId, side.otherUserId, ...guests],
      cells: pkCells(side.settings.video, side.hostUserId, side.otherUserId, guests),
    };
  }

  /** A side's guests came or went: its mix shows the new set, live. */
  #reshape(running: Running): void {
    if (running.closed) return;
    for (const side of running.sides) {
      const mix = side.mix;
      if (!mix || mix.ended) continue;
      const { participants, cells } = this.#scopeOf(running, side);
      const key = JSON.stringify(participants);
      if (side.scopeKey === key) continue;
      side.scopeKey = key;
      mix.setScope(participants, { mode: 'custom', cells }).catch((error: Error) => this.o.logger.warn(`PK ${running.pkId}: the picture of ${side.channelId} not updated: ${error.message}`));
    }
  }

  /** One channel's mix into its program; on air once it shows the channel's own host. */
  async #startMix(running: Running, side: Side): Promise<void> {
    if (running.closed || (side.mix && !side.mix.ended)) return;
    const feed = this.programs.openFeed(side.channelId, `pk:${running.pkId}`);
    const scope = this.#scopeOf(running, side);
    let mix: MixTask;
    try {
      mix = await this.mixing.create(
        {
          conferenceId: running.conferenceId,
          outputs: [],
          layout: { mode: 'custom', cells: scope.cells },
          participants: scope.participants,
          settings: side.settings,
          background: {},
          hostUserId: side.hostUserId,
          overlays: this.#overlaysOf(running.pkId, side),
        },
        feed,
      );
    } catch (error) {
      feed.close();
      throw error;
    }
    if (running.closed) {
      await mix.stop('PK ended');
      return;
    }
    side.mix = mix;
    side.scopeKey = JSON.stringify(scope.participants);
    this.channels.setMixTask(side.channelId, mix.id);
    // Guests relayed while the mix was starting.
    this.#reshape(running);
    void this.#onAirWithHost(running, side, mix, feed.name);
  }

  /**
   * The channel shows its mix only once the mix shows the channel's own host
   * (their push or WebRTC picture decoded): until then it stays on the host's
   * push, so every frame its viewers get shows their host. Waits as long as
   * the PK runs.
   */
  async #onAirWithHost(running: Running, side: Side, mix: MixTask, feed: string): Promise<void> {
    const current = () => !running.closed && side.mix === mix && !mix.ended;
    while (current()) {
      // Told at the mix's first keyframe that shows the host, the program splices exactly there.
      if (await mix.whenKeyframeShows([side.hostUserId], HOST_PICTURE_POLL_MS, () => current() && void this.programs.show(side.channelId, feed, 10000))) return;
    }
  }

  /** Ends an active PK (a host, the gateway with `by` undefined): forgotten from the store first, then in memory, then handed back. */
  async #finish(pkId: string, reason: string, by?: string): Promise<void> {
    if (reason === 'shutdown') {
      const running = this.#running.get(pkId);
      this.#running.delete(pkId);
      if (running) this.#track(this.#handBack(running, reason));
      return;
    }
    // The checks (who may end it, in which state) before anything changes.
    this.#scratch(pkId).end(by, pkId, reason, Date.now());
    this.#unsaved(`forget PK ${pkId}`, () => this.o.store?.deletePkSession(pkId));
    const pk = this.#desk.end(by, pkId, reason, Date.now());
    for (const userId of [pk.fromUserId, pk.toUserId]) this.#cancelGrace(userId);
    this.#tellBoth(pk, 'pk:ended', { pkId, reason, channelIds: [pk.fromChannelId, pk.toChannelId] });
    this.o.logger.log(`PK ${pkId} ended (${reason})`);
    const running = this.#running.get(pkId);
    this.#running.delete(pkId);
    if (running) await this.#track(this.#handBack(running, reason));
  }

  /**
   * Each channel returns to its own host's push at its next keyframe (waiting
   * up to the grace period for it), and only then does that channel's mix
   * stop; once both are back, the hosts' pushes are detached and the
   * conference ends. At shutdown only the processes stop (the PK stays saved).
   */
  async #handBack(running: Running, reason: string): Promise<void> {
    if (running.closed) return;
    running.closed = true;
    for (const unsubscribe of running.unsubscribe.splice(0)) unsubscribe();
    if (reason === 'shutdown') {
      for (const s of running.sides) s.relay?.stop();
      await Promise.all(running.sides.map((s) => s.mix?.stop('shutdown')));
      return;
    }
    for (const s of running.sides) this.channels.endCohosting(s.channelId);
    await Promise.all(
      running.sides.map(async (s) => {
        // A channel still co-hosting goes back to its session's mix (host and guests); any other to its host's push.
        const resumed = s.relay ? await this.o.cohost!.resumeAfterPk(s.channelId).catch(() => false) : false;
        const back = resumed || (await this.programs.showHost(s.channelId, this.o.graceSeconds * 1000));
        if (!back) this.o.logger.warn(`channel ${s.channelId}: the host's push did not return after the PK; the channel goes idle`);
        s.relay?.stop();
        await s.mix?.stop(`PK ended: ${reason}`);
      }),
    );
    await Promise.all(running.sides.map((s) => this.o.ingest?.detachStream(LIVE_APP, hostSourceStream(s.channelId), running.conferenceId)));
    this.conferences.find(running.conferenceId)?.close(`PK ended: ${reason}`);
  }

  /**
   * Applies a move to an active PK, saved before it changes in memory: the
   * move runs first on a copy (which throws the move's error, if any), the
   * result is saved, then the same move runs on the desk.
   */
  #commit(pkId: string, move: (desk: PkDesk) => Pk): Pk {
    const next = move(this.#scratch(pkId));
    const running = this.#running.get(pkId);
    if (this.o.store && next.conferenceId && running) {
      this.o.store.savePkSession({
        id: pkId,
        conferenceId: next.conferenceId,
        state: next,
        mixSettings: Object.fromEntries(running.sides.map((s) => [s.channelId, s.settings])),
        savedAt: Date.now(),
      });
    }
    return move(this.#desk);
  }

  /** A desk holding only a copy of one PK, to try a move on. */
  #scratch(pkId: string): PkDesk {
    const scratch = new PkDesk({ ttlMs: this.o.inviteTtlSeconds * 1000 });
    scratch.restore(this.#desk.get(pkId));
    return scratch;
  }

  /** Pending PKs time out; battles whose time is up are decided; the countdowns move. */
  #sweep(): void {
    const now = Date.now();
    this.#expire();
    for (const pk of this.#desk.open()) {
      const battle = pk.battle;
      if (pk.state !== 'active' || !battle || battle.over) continue;
      if (now >= battle.endsAt) {
        try {
          const decided = this.#commit(pk.id, (desk) => desk.finishBattle(pk.id, now) ?? desk.get(pk.id));
          const b = decided.battle!;
          this.#tellBoth(decided, 'pk:battle-ended', { pkId: pk.id, scores: b.scores, winnerChannelId: b.winnerChannelId ?? null });
        } catch (error) {
          // Not saved: the battle stays running and is decided at the next sweep.
          this.o.logger.error(`PK ${pk.id}: the battle could not be decided: ${(error as Error).message}`);
          continue;
        }
      }
      this.#draw(pk.id);
    }
    this.#desk.prune(now, ENDED_PK_KEEP_MS);
  }

  #expire(): void {
    for (const pk of this.#desk.expire(Date.now())) this.#tellBoth(pk, 'pk:expired', this.#public(pk));
  }

  /** Sets each side's overlays to the battle as it stands (none once it is over); unchanged ones are left alone. */
  #draw(pkId: string): void {
    const running = this.#running.get(pkId);
    if (!running || running.closed) return;
    for (const side of running.sides) {
      const overlays = this.#overlaysOf(pkId, side);
      const key = JSON.stringify(overlays);
      if (!side.mix || side.mix.ended || side.overlayKey === key) continue;
      side.overlayKey = key;
      side.mix.setOverlays(overlays).catch((error: Error) => this.o.logger.warn(`PK ${pkId}: overlays of ${side.channelId} not set: ${error.message}`));
    }
  }

  #overlaysOf(pkId: string, side: Side): OverlaySpec[] {
    const battle = this.#desk.get(pkId).battle;
    if (!battle || battle.over) return [];
    const { width, height } = side.settings.video;
    return battleOverlays({ width, height }, { own: battle.scores[side.channelId] ?? 0, other: battle.scores[side.otherChannelId] ?? 0, endsAt: battle.endsAt }, Date.now());
  }

  #assertHostOf(by: UserPrincipal, channelId: string): void {
    if (by.role !== 'host' || by.channelId !== channelId) throw new NotChannelHostError(channelId);
  }

  /**
   * A channel co-hosting with guests PKs with its guests in its own picture
   * when the server mixes it; a host mixing on their own client cannot PK
   * (the PK's mix would need the host page's cameras), nor can a channel whose
   * program another conference holds (a bypass mapping). Channels in a PK are
   * left to the desk, which answers ALREADY_IN_PK.
   */
  #assertNotCohosting(...channelIds: string[]): void {
    for (const channelId of channelIds) {
      if (this.#desk.ofChannel(channelId)?.state === 'active') continue;
      const session = this.o.cohost?.session(channelId);
      if (session?.mode === 'client') throw new PkChannelCohostingError(channelId, 'mixes on the host\'s client');
      if (session) continue;
      if (this.channels.cohosting(channelId) || this.hosts(channelId)?.cohosting) throw new PkChannelCohostingError(channelId);
    }
  }

  #track(work: Promise<void>): Promise<void> {
    const tracked = work.finally(() => this.#handBacks.delete(tracked));
    this.#handBacks.add(tracked);
    return tracked;
  }

  /** A deletion that failed leaves a stale row; restoring it later is harmless (its conference is gone or idles out), so log and go on. */
  #unsaved(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.o.logger.error(`could not ${what}: ${(error as Error).message}`);
    }
  }

  #tellBoth(pk: Pk, event: string, payload: object): void {
    for (const userId of new Set([pk.fromUserId, pk.toUserId])) this.notify(userId, event, payload);
  }

  #public(pk: Pk): object {
    return {
      pkId: pk.id,
      fromChannelId: pk.fromChannelId,
      fromUserId: pk.fromUserId,
      toChannelId: pk.toChannelId,
      toUserId: pk.toUserId,
      state: pk.state,
      expiresAt: new Date(pk.expiresAt).toISOString(),
      ...(pk.reason ? { reason: pk.reason } : {}),
    };
  }

  #view(pk: Pk): object {
    const running = this.#running.get(pk.id);
    return {
      ...this.#public(pk),
      ...(pk.conferenceId ? { conferenceId: pk.conferenceId } : {}),
      ...(running
        ? {
            mixTaskIds: Object.fromEntries(running.sides.map((s) => [s.channelId, s.mix?.id ?? null])),
            guests: Object.fromEntries(running.sides.map((s) => [s.channelId, this.#guestsOf(running, s)])),
          }
        : {}),
      ...(pk.battle
        ? {
            battle: {
              endsAt: new Date(pk.battle.endsAt).toISOString(),
              scores: pk.battle.scores,
              over: pk.battle.over,
              ...(pk.battle.over ? { winnerChannelId: pk.battle.winnerChannelId ?? null } : {}),
            },
          }
        : {}),
    };
  }

  #id(): string {
    return `pk_${randomBytes(9).toString('base64url')}`;
  }

  #cancelGrace(userId: string): void {
    clearTimeout(this.#grace.get(userId));
    this.#grace.delete(userId);
  }
}
