import { randomBytes } from 'node:crypto';
import { LineLogger, NotFoundError } from '@gw/common';
import type { UserPrincipal } from '@gw/auth';
import { Conference, ConferenceService, IngestService } from '@gw/conference';
import { ChannelService, hostSourceStream, LIVE_APP, ProgramService, RecordingService } from '@gw/live';
import { ClientMixRelay, MixingService, MixTask, OutputSettings } from '@gw/mixing';
import type { SessionRepository } from '@gw/persistence';
import { ChannelInPkError, InvitationNotFoundError, NotChannelHostError } from './cohost-errors';
import { Invitation, InvitationDesk } from './invitation-desk';
import { cohostMixSettings } from './mix-settings';

export interface CohostOptions {
  inviteTtlSeconds: number;
  maxGuests: number;
  graceSeconds: number;
  logger: LineLogger;
  /** Saves sessions and guests so a restarted gateway restores them (absent in unit tests). */
  store?: SessionRepository;
  /** Feeds the host's own push into the conference (absent in unit tests: the host then joins by WebRTC or an ingest URL). */
  ingest?: IngestService;
  /** Records sessions asked to be recorded (absent in unit tests). */
  recordings?: Pick<RecordingService, 'startChannel' | 'stop'>;
}

/**
 * How long a new mix waits for the host's picture before it goes on air anyway
 * (a host who neither pushes nor joins would otherwise keep the channel on the
 * host's push, or off air, for good).
 */
const HOST_PICTURE_WAIT_MS = 8000;

/** Delivers a server → client event to one user (all their sockets). */
export type Notify = (userId: string, event: string, payload: object) => void;

export type MixMode = 'server' | 'client';

interface Session {
  conferenceId: string;
  mode: MixMode;
  /** The program's format for the whole session: the host's push as it was at the start. */
  settings: OutputSettings;
  /** Server mode: the mix task composing the conference. */
  mix?: MixTask;
  /** Client mode: the packager of the host page's composed stream. */
  relay?: ClientMixRelay;
  /** The recording of the channel this session runs (invited with `record: true`), stopped when it ends. */
  recordingId?: string;
  unsubscribe: (() => void)[];
}

/**
 * How long an ended invitation is kept after its expiry time, so a late move on it
 * still gets its precise error (INVITATION_CANCELLED, …) rather than NOT_FOUND.
 * Short: a busy channel ends many (the load soak: 10 a second held 4 MB at 10 minutes).
 */
const ENDED_INVITATION_KEEP_MS = 60_000;

export class ChannelNotHostedError extends NotFoundError {
  constructor(channelId: string) {
    super(`channel ${channelId} has no host online`, 'CHANNEL_NOT_HOSTED');
  }
}

/**
 * The co-host manager (连麦管理): one invitation desk per channel, and on the
 * first acceptance a co-hosting session: a conference with the host and the
 * guest, and a mix task in the float layout (host as the main picture) that
 * feeds the channel's program, which splices it in place of the host's push.
 * When the last guest goes, or the host ends it, the program splices the
 * host's push back in, and only then is the mix taken down.
 */
export class CohostService {
  readonly #desks = new Map<string, InvitationDesk>();
  readonly #sessions = new Map<string, Session>();
  readonly #grace = new Map<string, NodeJS.Timeout>();
  /** Per channel, so two acceptances at once cannot start two sessions. */
  readonly #seating = new Map<string, Promise<unknown>>();
  readonly #sweeper: NodeJS.Timeout;
  /** Sessions that ended and are handing the channel back to the host. */
  readonly #handBacks = new Set<Promise<void>>();
  /** Mix mode chosen by each channel's host (default server). */
  readonly #modes = new Map<string, MixMode>();
  /** Channels whose next (or running) session is to be recorded: an invitation said `record: true`. */
  readonly #recordSession = new Set<string>();

  constructor(
    private readonly channels: ChannelService,
    private readonly conferences: ConferenceService,
    private readonly mixing: MixingService,
    private readonly programs: ProgramService,
    private readonly notify: Notify,
    private readonly o: CohostOptions,
  ) {
    this.#sweeper = setInterval(() => this.#expire(), 250);
    this.#sweeper.unref();
  }

  /** A host with a token scoped to their channel came online: their desk exists from now on. */
  hostOnline(principal: UserPrincipal): void {
    if (principal.role !== 'host' || !principal.channelId || !this.channels.exists(principal.channelId)) return;
    const desk = this.#desks.get(principal.channelId);
    if (!desk || desk.hostUserId !== principal.userId) {
      this.#desks.set(principal.channelId, new InvitationDesk(principal.channelId, principal.userId, { maxGuests: this.o.maxGuests, ttlMs: this.o.inviteTtlSeconds * 1000 }));
    }
    this.#cancelGrace(`${principal.channelId}:${principal.userId}`);
  }

  invite(by: UserPrincipal, channelId: string, userId: string, o: { record?: boolean } = {}): { invitationId: string; expiresAt: string } {
    const desk = this.#deskForHost(by, channelId);
    this.#assertNotInPk(channelId);
    const invitation = desk.invite(by, userId, Date.now(), this.#id());
    if (o.record) {
      this.#recordSession.add(channelId);
      const session = this.#sessions.get(channelId);
      if (session && !session.recordingId) this.#startRecording(channelId, session);
    }
    this.notify(userId, 'cohost:invited', this.#public(invitation));
    return { invitationId: invitation.id, expiresAt: new Date(invitation.expiresAt).toISOString() };
  }

  /** Whether this node holds the invitation (cluster mode forwards requests about it to the node that does). */
  hasInvitation(invitationId: string): boolean {
    for (const desk of this.#desks.values()) if (desk.has(invitationId)) return true;
    return false;
  }

  /** Whether this node holds the channel's desk (its host is connected here). */
  hostsChannel(channelId: string): boolean {
    return this.#desks.has(channelId);
  }

  apply(by: UserPrincipal, channelId: string): { invitationId: string } {
    const desk = this.#desk(channelId);
    this.#assertNotInPk(channelId);
    const invitation = desk.apply(by, Date.now(), this.#id());
    this.notify(desk.hostUserId, 'cohost:applied', this.#public(invitation));
    return { invitationId: invitation.id };
  }

  async accept(by: UserPrincipal, invitationId: string): Promise<{ conferenceId: string }> {
    const desk = this.#deskOf(invitationId);
    this.#assertNotInPk(desk.channelId);
    // The first guest starts a server mix: refuse the accept (MIX_CAPACITY, nothing changes) when this node cannot hold it.
    if (!this.#sessions.has(desk.channelId) && (this.#modes.get(desk.channelId) ?? 'server') === 'server') {
      this.mixing.assertCapacity(this.mixing.costOf(cohostMixSettings(this.programs.hostInfo(desk.channelId)), 2));
    }
    const invitation = desk.accept(invitationId, by, Date.now());
    this.#tellBoth(invitation, 'cohost:accepted');
    try {
      const previous = this.#seating.get(desk.channelId) ?? Promise.resolve();
      const seating = previous.catch(() => undefined).then(() => this.#seat(desk, invitation.guestUserId));
      this.#seating.set(desk.channelId, seating);
      const conferenceId = await seating;
      return { conferenceId };
    } catch (error) {
      desk.leave(invitation.guestUserId);
      if (desk.guests.length === 0) await this.#endSession(desk, 'the guest could not be seated');
      throw error;
    }
  }

  reject(by: UserPrincipal, invitationId: string, reason?: string): object {
    const desk = this.#deskOf(invitationId);
    this.#tellBoth(desk.reject(invitationId, by, Date.now(), reason), 'cohost:rejected');
    return {};
  }

  cancel(by: UserPrincipal, invitationId: string): object {
    const desk = this.#deskOf(invitationId);
    this.#tellBoth(desk.cancel(invitationId, by, Date.now()), 'cohost:cancelled');
    return {};
  }

  async kick(by: UserPrincipal, channelId: string, userId: string): Promise<object> {
    const desk = this.#deskForHost(by, channelId);
    desk.kick(by, userId);
    await this.#unseat(desk, userId, 'cohost:kicked');
    return {};
  }

  async leave(by: UserPrincipal, channelId: string): Promise<object> {
    const desk = this.#desk(channelId);
    desk.leave(by.userId);
    await this.#unseat(desk, by.userId, 'cohost:left');
    return {};
  }

  async end(by: UserPrincipal, channelId: string): Promise<object> {
    const desk = this.#deskForHost(by, channelId);
    await this.#endSession(desk, 'ended by host');
    return {};
  }

  /**
   * Every channel's desk as an operator sees it: its host, who is on mic, the
   * session (if co-hosting) and each invitation with its state. Read-only.
   */
  desks(): { channelId: string; hostUserId: string; guests: string[]; session?: { conferenceId: string; mixMode: MixMode }; invitations: object[] }[] {
    return [...this.#desks.values()].map((desk) => {
      const session = this.#sessions.get(desk.channelId);
      return {
        channelId: desk.channelId,
        hostUserId: desk.hostUserId,
        guests: desk.guests,
        ...(session ? { session: { conferenceId: session.conferenceId, mixMode: session.mode } } : {}),
        invitations: desk.all().map((i) => this.#public(i)),
      };
    });
  }

  /** A channel's co-hosting session, for a PK that takes the channel's program over (its guests stay in the channel's picture). */
  session(channelId: string): { conferenceId: string; hostUserId: string; mode: MixMode } | undefined {
    const session = this.#sessions.get(channelId);
    const desk = this.#desks.get(channelId);
    return session && desk ? { conferenceId: session.conferenceId, hostUserId: desk.hostUserId, mode: session.mode } : undefined;
  }

  /**
   * A PK that held the channel's program ended while the channel still
   * co-hosts: the session takes the program back, its mix (which ran all
   * along) spliced in at its first keyframe that shows the host. False when
   * there is no server-mixed session any more (the PK hands back to the host's push).
   */
  async resumeAfterPk(channelId: string): Promise<boolean> {
    const session = this.#sessions.get(channelId);
    const desk = this.#desks.get(channelId);
    if (!session || !desk || session.mode !== 'server') return false;
    this.channels.beginCohosting(channelId, session.conferenceId);
    await this.#startServerMix(desk, session);
    const mix = session.mix;
    if (!mix || mix.ended) return false;
    this.channels.setMixTask(channelId, mix.id);
    const feed = `mix:${session.conferenceId}`;
    let spliced: Promise<boolean> | undefined;
    const shown = await mix.whenKeyframeShows([desk.hostUserId], HOST_PICTURE_WAIT_MS, () => {
      spliced = this.programs.show(channelId, feed, 10000);
    });
    if (!shown) spliced = this.programs.show(channelId, feed, 10000);
    return (await spliced) ?? false;
  }

  /** A user's last socket went away: after the grace period they leave (a host ends the session). */
  userOffline(userId: string): void {
    for (const desk of this.#desks.values()) {
      const isHost = desk.hostUserId === userId && this.#sessions.has(desk.channelId);
      if (!isHost && !desk.isOnMic(userId)) continue;
      const key = `${desk.channelId}:${userId}`;
      this.#cancelGrace(key);
      this.#grace.set(
        key,
        setTimeout(() => {
          this.#grace.delete(key);
          if (isHost) void this.#endSession(desk, 'host disconnected');
          else if (desk.isOnMic(userId)) {
            desk.leave(userId);
            void this.#unseat(desk, userId, 'cohost:left');
          }
        }, this.o.graceSeconds * 1000),
      );
    }
  }

  /** A user (re)connected: any pending grace for them is cancelled. */
  userOnline(userId: string): void {
    for (const key of [...this.#grace.keys()]) if (key.endsWith(`:${userId}`)) this.#cancelGrace(key);
  }

  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    for (const timer of this.#grace.values()) clearTimeout(timer);
    await Promise.all([...this.#desks.values()].map((desk) => this.#endSession(desk, 'shutdown')));
    await Promise.all([...this.#handBacks]);
  }

  /**
   * Seats a guest, starting the session on the first one. Saved as it goes: the
   * session row once, then the guest with their membership in one transaction,
   * so a failed save (PERSISTENCE_FAILED) seats nobody.
   */
  async #seat(desk: InvitationDesk, guestUserId: string): Promise<string> {
    let session = this.#sessions.get(desk.channelId);
    if (!session) {
      const conference = await this.conferences.create({ title: `co-hosting on ${desk.channelId}`, hostUserId: desk.hostUserId });
      const mode = this.#modes.get(desk.channelId) ?? 'server';
      const settings = cohostMixSettings(this.programs.hostInfo(desk.channelId));
      try {
        this.o.store?.saveCohostSession({
          channelId: desk.channelId,
          conferenceId: conference.id,
          hostUserId: desk.hostUserId,
          mixMode: mode,
          mixSettings: settings,
          startedAt: Date.now(),
        });
      } catch (error) {
        conference.close('the session could not be saved');
        throw error;
      }
      session = this.#openSession(desk, conference, mode, settings);
      if (this.#recordSession.has(desk.channelId)) this.#startRecording(desk.channelId, session);
      if (session.mode === 'server') await this.#startServerMix(desk, session);
      this.o.logger.log(`channel ${desk.channelId}: co-hosting started (conference ${conference.id}, ${session.mode} mixing)`);
    }
    const conference = this.conferences.get(session.conferenceId);
    const store = this.o.store;
    if (store) {
      store.atomically('seat a co-host guest', () => {
        store.addCohostGuest(desk.channelId, guestUserId);
        conference.admit(guestUserId);
      });
    } else {
      conference.admit(guestUserId);
    }
    const started = { channelId: desk.channelId, conferenceId: session.conferenceId };
    for (const userId of [desk.hostUserId, ...desk.guests]) this.notify(userId, 'cohost:started', started);
    return session.conferenceId;
  }

  /** The session's runtime: registered, following its conference, the channel marked co-hosting. */
  #openSession(desk: InvitationDesk, conference: Conference, mode: MixMode, settings: OutputSettings): Session {
    const created: Session = { conferenceId: conference.id, mode, settings, unsubscribe: [] };
    this.#sessions.set(desk.channelId, created);
    const onConferenceClosed = ({ reason }: { reason: string }) => {
      if (this.#sessions.get(desk.channelId) === created) void this.#endSession(desk, reason === 'shutdown' ? 'shutdown' : 'conference ended');
    };
    conference.once('closed', onConferenceClosed);
    // Client mode: the host page's composed stream is packaged as soon as it is published.
    const onComposite = ({ userId }: { userId: string }) => {
      if (userId === desk.hostUserId && created.mode === 'client') void this.#startClientRelay(desk, created);
    };
    const onClosed = ({ producerId }: { producerId: string }) => {
      const relay = created.relay;
      if (relay && Object.values(relay.producerIds).includes(producerId)) {
        created.relay = undefined;
        void this.mixing.stopClientRelay(relay);
      }
    };
    conference.on('compositeProducer', onComposite);
    conference.on('producerClosed', onClosed);
    created.unsubscribe.push(
      () => conference.off('compositeProducer', onComposite),
      () => conference.off('producerClosed', onClosed),
      () => conference.off('closed', onConferenceClosed),
    );
    this.channels.beginCohosting(desk.channelId, conference.id);
    if (mode === 'server') this.#attachHostPush(desk, created);
    return created;
  }

  /**
   * The host's own push (OBS, a hardware encoder) is the host's picture in the
   * conference, from now on and whenever the push comes back, with no action
   * by the host. A host who joins by WebRTC or an ingest URL later is shown
   * from that source instead (the newest source wins).
   */
  #attachHostPush(desk: InvitationDesk, session: Session): void {
    this.o.ingest?.attachStream(
      { app: LIVE_APP, stream: hostSourceStream(desk.channelId), conferenceId: session.conferenceId, userId: desk.hostUserId },
      this.channels.hostPublishing(desk.channelId),
    );
  }

  #detachHostPush(channelId: string, session: Session): Promise<void> {
    return this.o.ingest?.detachStream(LIVE_APP, hostSourceStream(channelId), session.conferenceId) ?? Promise.resolve();
  }

  /**
   * After a restart: the saved sessions come back with their conferences and
   * guests on mic. A server mix starts again once a participant is back in the
   * conference; whoever does not reconnect within the grace period leaves (the
   * host's absence ends the session), as after any disconnect.
   */
  restore(): void {
    for (const record of this.o.store?.cohostSessions() ?? []) {
      const conference = this.conferences.find(record.conferenceId);
      if (!conference || !this.channels.exists(record.channelId)) continue; // gone, and its row with it
      const desk = new InvitationDesk(record.channelId, record.hostUserId, { maxGuests: this.o.maxGuests, ttlMs: this.o.inviteTtlSeconds * 1000 });
      for (const guest of record.guests) desk.restoreGuest(guest);
      this.#desks.set(record.channelId, desk);
      const mode: MixMode = record.mixMode === 'client' ? 'client' : 'server';
      this.#modes.set(record.channelId, mode);
      // The saved format: viewers get the same picture size as before, whenever the host's push returns.
      const session = this.#openSession(desk, conference, mode, record.mixSettings as OutputSettings);
      if (mode === 'server') {
        const resume = () => {
          if (this.#sessions.get(desk.channelId) !== session || session.mode !== 'server' || conference.participantCount === 0) return;
          conference.off('participantJoined', resume);
          void this.#startServerMix(desk, session).catch((error: Error) => this.o.logger.error(`channel ${desk.channelId}: mix did not restart: ${error.message}`));
        };
        conference.on('participantJoined', resume);
        session.unsubscribe.push(() => conference.off('participantJoined', resume));
      }
      for (const userId of [record.hostUserId, ...record.guests]) this.userOffline(userId);
      this.o.logger.log(`channel ${record.channelId}: co-hosting session restored (conference ${record.conferenceId}, ${record.guests.length} guests, ${mode} mixing)`);
    }
  }

  /**
   * Chooses who composes the picture. During a session the switch follows the
   * co-hosting rules: the new source starts, the program splices it in at its
   * keyframe, and only then does the old one stop.
   */
  async setMixMode(by: UserPrincipal, channelId: string, mixMode: MixMode): Promise<{ mixMode: MixMode }> {
    const desk = this.#deskForHost(by, channelId);
    const session = this.#sessions.get(channelId);
    // A PK holds the program (and shows this session's guests from its server mix): no switch until it ends.
    if (session && !this.#ownsProgram(channelId, session)) throw new ChannelInPkError(channelId);
    if (session) this.o.store?.setCohostMode(channelId, mixMode);
    this.#modes.set(channelId, mixMode);
    if (session && session.mode !== mixMode) {
      session.mode = mixMode;
      if (mixMode === 'server') {
        this.#attachHostPush(desk, session);
        await this.#startServerMix(desk, session);
        const relay = session.relay;
        session.relay = undefined;
        if (relay) void this.#afterSwitch(desk.channelId, `mix:${session.conferenceId}`, () => this.mixing.stopClientRelay(relay));
      } else {
        // The host page composes from its own WebRTC camera: the push must not replace it in the conference.
        await this.#detachHostPush(channelId, session);
        await this.#startClientRelay(desk, session);
      }
    }
    this.notify(desk.hostUserId, 'cohost:mode', { channelId, mixMode });
    return { mixMode };
  }

  /** Runs `then` once `feed` is on air (or after 10 s), so the old source stops only after the splice. */
  async #afterSwitch(channelId: string, feed: string, then: () => Promise<void>): Promise<void> {
    await this.programs.show(channelId, feed, 10000);
    await then();
  }

  async #startServerMix(desk: InvitationDesk, session: Session): Promise<void> {
    if (session.mix && !session.mix.ended) return;
    // The mix goes to the channel's program in-process, which splices it in at its first
    // keyframe: the host's push stays on air until then, and viewers never reconnect.
    const feed = this.programs.openFeed(desk.channelId, `mix:${session.conferenceId}`);
    // The mix shows the host's push later than the push reaches the program: the program delays the
    // push little by little meanwhile, so the splice shows no frozen picture (switch-lead.ts).
    const leads = this.#ownsProgram(desk.channelId, session);
    if (leads) this.programs.prepareSwitch(desk.channelId);
    try {
      session.mix = await this.mixing.create(
        {
          conferenceId: session.conferenceId,
          outputs: [],
          layout: { mode: 'float' },
          settings: session.settings,
          background: {},
          hostUserId: desk.hostUserId,
        },
        feed,
      );
    } catch (error) {
      feed.close();
      if (leads) this.programs.cancelSwitch(desk.channelId);
      throw error;
    }
    // A PK holding the program (this session's mix restarted meanwhile) keeps it: resumeAfterPk puts this mix on air.
    if (!this.#ownsProgram(desk.channelId, session)) {
      if (leads) this.programs.cancelSwitch(desk.channelId);
      return;
    }
    this.channels.setMixTask(desk.channelId, session.mix.id);
    // On air only once the mix shows the host: a viewer never sees a picture without them.
    const mix = session.mix;
    // The program is told at the mix's first keyframe that shows the host, so it splices exactly there.
    const current = () => session.mix === mix && !mix.ended && this.#ownsProgram(desk.channelId, session);
    void mix.whenKeyframeShows([desk.hostUserId], HOST_PICTURE_WAIT_MS, () => {
      if (current()) void this.programs.show(desk.channelId, feed.name, 10000);
      else if (leads) this.programs.cancelSwitch(desk.channelId);
    }).then((shown) => {
      if (shown || !current()) return;
      this.o.logger.warn(`channel ${desk.channelId}: no picture of the host after ${HOST_PICTURE_WAIT_MS} ms; the mix goes on air without it`);
      void this.programs.show(desk.channelId, feed.name, 10000);
    });
  }

  async #startClientRelay(desk: InvitationDesk, session: Session): Promise<void> {
    const conference = this.conferences.find(session.conferenceId);
    const producers = conference?.compositeOf(desk.hostUserId);
    if (!producers?.audio || !producers.video) return;
    const current = session.relay?.producerIds;
    if (current && current.audio === producers.audio && current.video === producers.video) return;
    const feed = this.programs.openFeed(desk.channelId, `client:${session.conferenceId}:${producers.video}`);
    let relay: ClientMixRelay;
    try {
      relay = await this.mixing.startClientRelay(session.conferenceId, { audio: producers.audio, video: producers.video }, session.settings, feed);
    } catch (error) {
      feed.close();
      this.o.logger.error(`channel ${desk.channelId}: cannot package the host's composed stream: ${(error as Error).message}`);
      return;
    }
    if (this.#sessions.get(desk.channelId) !== session || session.mode !== 'client') {
      await this.mixing.stopClientRelay(relay);
      return;
    }
    const previous = session.relay;
    session.relay = relay;
    this.o.logger.log(`channel ${desk.channelId}: packaging the host's composed stream (${relay.videoCopied ? 'H.264 copied' : 'video encoded'})`);
    const mix = session.mix;
    session.mix = undefined;
    void this.#afterSwitch(desk.channelId, feed.name, async () => {
      if (previous) await this.mixing.stopClientRelay(previous);
      if (mix) {
        this.channels.setMixTask(desk.channelId, undefined);
        await mix.stop('switched to client mixing');
      }
    });
  }

  async #unseat(desk: InvitationDesk, userId: string, event: string): Promise<void> {
    const session = this.#sessions.get(desk.channelId);
    const payload = { channelId: desk.channelId, userId };
    this.#unsaved(`remove guest ${userId} of channel ${desk.channelId}`, () => this.o.store?.removeCohostGuest(desk.channelId, userId));
    for (const to of new Set([desk.hostUserId, ...desk.guests, userId])) this.notify(to, event, payload);
    if (session) this.conferences.find(session.conferenceId)?.leave(userId, event === 'cohost:kicked' ? 'kicked' : 'left');
    if (desk.guests.length === 0) await this.#endSession(desk, 'no guests left');
  }

  /** The session's recording: the channel's program from now until the session ends. A refusal (disk full, already recording) does not stop co-hosting. */
  #startRecording(channelId: string, session: Session): void {
    if (!this.o.recordings) return;
    try {
      session.recordingId = this.o.recordings.startChannel(channelId).id;
      this.o.logger.log(`channel ${channelId}: co-hosting session recorded (${session.recordingId})`);
    } catch (error) {
      this.o.logger.warn(`channel ${channelId}: the co-hosting session is not recorded: ${(error as Error).message}`);
    }
  }

  async #endSession(desk: InvitationDesk, reason: string): Promise<void> {
    const session = this.#sessions.get(desk.channelId);
    if (!session) return;
    this.#sessions.delete(desk.channelId);
    if (reason === 'shutdown') {
      // The session stays saved and on mic: the next start restores it. Only the runtime stops.
      await this.#handBack(desk.channelId, session, reason, false);
      return;
    }
    this.#unsaved(`end the session of channel ${desk.channelId}`, () => this.o.store?.deleteCohostSession(desk.channelId));
    this.#recordSession.delete(desk.channelId);
    if (session.recordingId) {
      const recordingId = session.recordingId;
      void this.o.recordings?.stop(recordingId).catch((error) => this.o.logger.warn(`channel ${desk.channelId}: could not stop recording ${recordingId}: ${(error as Error).message}`));
    }
    const guests = desk.guests;
    const conference = this.conferences.find(session.conferenceId);
    for (const guest of guests) {
      desk.leave(guest);
      // Off the picture at once; the mix shows the host alone until the host's push is back on air.
      conference?.leave(guest, 'co-hosting ended');
    }
    // During a PK the PK owns the program and the channel's marks: it hands back to the host's push when it ends.
    const owns = this.#ownsProgram(desk.channelId, session);
    if (owns) this.channels.endCohosting(desk.channelId);
    const payload = { channelId: desk.channelId, reason };
    for (const userId of new Set([desk.hostUserId, ...guests])) this.notify(userId, 'cohost:ended', payload);
    this.o.logger.log(`channel ${desk.channelId}: co-hosting ended (${reason})`);
    const handBack = this.#handBack(desk.channelId, session, reason, owns).finally(() => this.#handBacks.delete(handBack));
    this.#handBacks.add(handBack);
    if (reason === 'shutdown') await handBack;
  }

  /**
   * The channel returns to the host's own push at its next keyframe (waiting up
   * to the grace period for the host to push again), then the mix and the
   * conference are taken down. If the host does not come back, the program
   * goes off air once the mix stops.
   */
  async #handBack(channelId: string, session: Session, reason: string, ownsProgram: boolean): Promise<void> {
    for (const unsubscribe of session.unsubscribe.splice(0)) unsubscribe();
    const back = ownsProgram && reason !== 'shutdown' ? await this.programs.showHost(channelId, this.o.graceSeconds * 1000) : false;
    await this.#detachHostPush(channelId, session);
    if (!back && ownsProgram && reason !== 'shutdown') this.o.logger.warn(`channel ${channelId}: the host's push did not return; the channel goes idle`);
    await session.mix?.stop(`co-hosting ended: ${reason}`);
    if (session.relay) await this.mixing.stopClientRelay(session.relay);
    // At shutdown the conference module closes it as 'shutdown', which keeps it saved.
    if (reason !== 'shutdown') this.conferences.find(session.conferenceId)?.close(`co-hosting ended: ${reason}`);
  }

  /** A deletion that failed leaves a stale row; restoring it later is harmless (it idles out), so log and go on. */
  #unsaved(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.o.logger.error(`could not ${what}: ${(error as Error).message}`);
    }
  }

  #expire(): void {
    const now = Date.now();
    for (const desk of this.#desks.values()) {
      for (const invitation of desk.expire(now)) this.#tellBoth(invitation, 'cohost:expired');
      desk.prune(now - ENDED_INVITATION_KEEP_MS);
    }
  }

  /**
   * A channel marked co-hosting without a session of ours is in a PK (the PK
   * service owns its program's mix): no guests come on mic until it ends.
   */
  #assertNotInPk(channelId: string): void {
    if (!this.#sessions.has(channelId) && this.channels.cohosting(channelId)) throw new ChannelInPkError(channelId);
  }

  /** True unless a PK holds the channel's program (the channel's marks name another conference). */
  #ownsProgram(channelId: string, session: Session): boolean {
    const holder = this.channels.conferenceOf(channelId);
    return holder === undefined || holder === session.conferenceId;
  }

  #desk(channelId: string): InvitationDesk {
    const desk = this.#desks.get(channelId);
    if (!desk) throw new ChannelNotHostedError(channelId);
    return desk;
  }

  #deskForHost(by: UserPrincipal, channelId: string): InvitationDesk {
    if (by.role !== 'host' || by.channelId !== channelId) throw new NotChannelHostError(channelId);
    return this.#desk(channelId);
  }

  #deskOf(invitationId: string): InvitationDesk {
    for (const desk of this.#desks.values()) if (desk.has(invitationId)) return desk;
    throw new InvitationNotFoundError(invitationId);
  }

  #tellBoth(invitation: Invitation, event: string): void {
    const payload = this.#public(invitation);
    for (const userId of new Set([invitation.hostUserId, invitation.guestUserId])) this.notify(userId, event, payload);
  }

  #public(invitation: Invitation): object {
    return {
      invitationId: invitation.id,
      channelId: invitation.channelId,
      kind: invitation.kind,
      from: invitation.kind === 'invite' ? invitation.hostUserId : invitation.guestUserId,
      hostUserId: invitation.hostUserId,
      guestUserId: invitation.guestUserId,
      state: invitation.state,
      expiresAt: new Date(invitation.expiresAt).toISOString(),
      ...(invitation.reason ? { reason: invitation.reason } : {}),
    };
  }

  #id(): string {
    return `inv_${randomBytes(9).toString('base64url')}`;
  }

  #cancelGrace(key: string): void {
    clearTimeout(this.#grace.get(key));
    this.#grace.delete(key);
  }
}
