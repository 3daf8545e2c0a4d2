import { ConflictError, LineLogger, NotFoundError, TypedEmitter } from '@gw/common';
import type { Conference, ConferenceService } from '@gw/conference';
import type { ChannelService, PlayUrls, ProgramService, RecordingService } from '@gw/live';
import type { LayoutSpec, MixingService, MixTask, OutputSettings } from '@gw/mixing';
import type { SessionRepository } from '@gw/persistence';

export type LiveMapState = 'idle' | 'starting' | 'live' | 'stopping';

export interface LiveMapping {
  conferenceId: string;
  channelId: string;
  onDemand: boolean;
  layout: LayoutSpec;
  state: LiveMapState;
  mixTaskId?: string;
  /** The recording of the channel this mapping runs (mapped with `record: true`), stopped when it is unmapped. */
  recordingId?: string;
}

/** How long a mapped conference may be empty before its mix stops. */
const EMPTY_GRACE_MS = 5000;

/** How long a new bypass mix waits for every participant's first picture before it goes on air anyway. */
const FIRST_PICTURES_WAIT_MS = 3000;

export class ChannelBusyError extends ConflictError {
  constructor(channelId: string, why: string) {
    super(`channel ${channelId} ${why}`, 'CHANNEL_BUSY');
  }
}

export class NotMappedError extends NotFoundError {
  constructor(conferenceId: string) {
    super(`conference ${conferenceId} is not mapped to a channel`, 'LIVE_MAPPING_NOT_FOUND');
  }
}

export interface BypassOptions {
  /** With on-demand mappings, the mix stops this long after the last viewer left. */
  idleSeconds: number;
  /** Picture and sound of bypass mixes. */
  settings: OutputSettings;
  logger: LineLogger;
  /** Saves mappings so a restarted gateway restores them (absent in unit tests). */
  store?: SessionRepository;
  /** Records mappings made with `record: true` (absent in unit tests). */
  recordings?: Pick<RecordingService, 'startChannel' | 'stop'>;
}

interface Mapping {
  conferenceId: string;
  channelId: string;
  onDemand: boolean;
  layout: LayoutSpec;
  conference: Conference;
  mix?: MixTask;
  /** The one start in flight: concurrent first plays wait on it instead of starting another mix. */
  starting?: Promise<void>;
  stopping?: Promise<void>;
  idleTimer?: NodeJS.Timeout;
  /** Armed when the conference empties; the mix stops if nobody is back when it fires. */
  emptyTimer?: NodeJS.Timeout;
  recordingId?: string;
  unsubscribe: () => void;
}

interface BypassEvents extends Record<string, unknown[]> {
  changed: [LiveMapping];
}

/**
 * Bypass live (旁路直播): a running conference published as a channel. The mix
 * runs while the conference has participants and, for an on-demand mapping,
 * only while somebody plays the channel (the origin's play events): the first
 * play starts exactly one mix, which the waiting player receives without
 * reconnecting (the channel's program publishes it); the last viewer leaving
 * stops it after `idleSeconds`. A conference that ends takes its mapping down.
 */
export class BypassService extends TypedEmitter<BypassEvents> {
  readonly #mappings = new Map<string, Mapping>();
  #closed = false;

  constructor(
    private readonly channels: ChannelService,
    private readonly programs: ProgramService,
    private readonly conferences: ConferenceService,
    private readonly mixing: MixingService,
    private readonly o: BypassOptions,
  ) {
    super();
    channels.on('viewersChanged', ({ channelId }) => {
      const mapping = this.#byChannel(channelId);
      if (mapping) this.#reconcile(mapping);
    });
  }

  /** Maps a conference to a channel (replacing its previous mapping). Saved first: a failed save changes nothing. */
  map(conferenceId: string, input: { channelId: string; onDemand: boolean; layout?: LayoutSpec; record?: boolean }): LiveMapping {
    const conference = this.conferences.get(conferenceId);
    this.channels.status(input.channelId);
    const other = this.#byChannel(input.channelId);
    if (other && other.conferenceId !== conferenceId) throw new ChannelBusyError(input.channelId, `already shows conference ${other.conferenceId}`);
    if (this.channels.cohosting(input.channelId)) throw new ChannelBusyError(input.channelId, 'is co-hosting');
    const layout = input.layout ?? { mode: 'speaker' };
    this.o.store?.saveMapping({ conferenceId, channelId: input.channelId, onDemand: input.onDemand, layout, createdAt: Date.now() });
    const previous = this.#mappings.get(conferenceId);
    if (previous) void this.#drop(previous, 'remapped');
    const view = this.#attach(conference, { channelId: input.channelId, onDemand: input.onDemand, layout });
    const mapping = this.#mappings.get(conferenceId);
    if (!input.record || !mapping || !this.o.recordings) return view;
    // The channel's program from now on (whenever the mix is on air) until the mapping goes. A refusal does not undo the mapping.
    try {
      mapping.recordingId = this.o.recordings.startChannel(input.channelId).id;
    } catch (error) {
      this.o.logger.warn(`channel ${input.channelId}: the mapping of conference ${conferenceId} is not recorded: ${(error as Error).message}`);
    }
    return this.#view(mapping);
  }

  /**
   * A new conference goes live by itself: a channel of its own (id
   * `live-<conferenceId>`, titled like the conference) is created and mapped
   * to it. The layout has already been validated by the caller. If the
   * mapping cannot be made, the channel is not left behind.
   */
  goLive(conference: Conference, input: { onDemand: boolean; layout?: LayoutSpec }): { channelId: string; onDemand: boolean; playUrls: PlayUrls } {
    const channel = this.channels.create({ id: `live-${conference.id}`, title: conference.title });
    try {
      this.map(conference.id, { channelId: channel.id, onDemand: input.onDemand, layout: input.layout });
    } catch (error) {
      this.channels.remove(channel.id);
      throw error;
    }
    return { channelId: channel.id, onDemand: input.onDemand, playUrls: channel.playUrls };
  }

  /** After a restart: the saved mappings of restored conferences (their mixes start as participants come back). */
  restore(): void {
    for (const record of this.o.store?.mappings() ?? []) {
      const conference = this.conferences.find(record.conferenceId);
      if (!conference) continue; // its conference is gone, and the row with it
      this.#attach(conference, { channelId: record.channelId, onDemand: record.onDemand, layout: record.layout as LayoutSpec });
      this.o.logger.log(`mapping of conference ${record.conferenceId} to channel ${record.channelId} restored`);
    }
  }

  #attach(conference: Conference, input: { channelId: string; onDemand: boolean; layout: LayoutSpec }): LiveMapping {
    const conferenceId = conference.id;
    const reconcile = () => this.#reconcile(mapping);
    const onClosed = ({ reason }: { reason: string }) => void this.#drop(mapping, reason === 'shutdown' ? 'shutdown' : 'conference ended');
    conference.on('participantJoined', reconcile);
    conference.on('participantLeft', reconcile);
    conference.once('closed', onClosed);
    const mapping: Mapping = {
      conferenceId,
      channelId: input.channelId,
      onDemand: input.onDemand,
      layout: input.layout,
      conference,
      unsubscribe: () => {
        conference.off('participantJoined', reconcile);
        conference.off('participantLeft', reconcile);
        conference.off('closed', onClosed);
      },
    };
    this.#mappings.set(conferenceId, mapping);
    this.o.logger.log(`conference ${conferenceId} mapped to channel ${input.channelId}${input.onDemand ? ' (on demand)' : ''}`);
    this.#reconcile(mapping);
    return this.#view(mapping);
  }

  async unmap(conferenceId: string): Promise<void> {
    const mapping = this.#mappings.get(conferenceId);
    if (!mapping) throw new NotMappedError(conferenceId);
    this.o.store?.deleteMapping(conferenceId);
    await this.#drop(mapping, 'unmapped');
  }

  list(): LiveMapping[] {
    return [...this.#mappings.values()].map((m) => this.#view(m));
  }

  /** What viewers may pick from: live-able conferences with their titles and sizes. */
  directory(): { conferenceId: string; channelId: string; title: string; participants: number; state: LiveMapState; playUrls: PlayUrls }[] {
    return [...this.#mappings.values()].map((m) => ({
      conferenceId: m.conferenceId,
      channelId: m.channelId,
      title: m.conference.title,
      participants: m.conference.participantCount,
      state: this.#state(m),
      playUrls: this.channels.status(m.channelId).playUrls,
    }));
  }

  /** Process ids of running bypass mixes (for tests and leak checks). */
  mixTaskIds(): string[] {
    return [...this.#mappings.values()].flatMap((m) => (m.mix && !m.mix.ended ? [m.mix.id] : []));
  }

  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#mappings.values()].map((m) => this.#drop(m, 'shutdown')));
  }

  #reconcile(m: Mapping): void {
    if (this.#closed || this.#mappings.get(m.conferenceId) !== m) return;
    const participants = m.conference.participantCount;
    const viewers = this.channels.viewers(m.channelId);
    const wanted = participants > 0 && (!m.onDemand || viewers > 0);
    if (wanted) {
      clearTimeout(m.idleTimer);
      m.idleTimer = undefined;
      clearTimeout(m.emptyTimer);
      m.emptyTimer = undefined;
      void this.#start(m);
    } else if (m.mix || m.starting) {
      if (participants === 0) {
        // Not at once: everyone drops together when their SFU worker dies, and is back within seconds.
        m.emptyTimer ??= setTimeout(() => {
          m.emptyTimer = undefined;
          if (m.conference.participantCount === 0) void this.#stopMix(m, 'no participants');
        }, EMPTY_GRACE_MS);
      } else if (!m.idleTimer) {
        m.idleTimer = setTimeout(() => {
          m.idleTimer = undefined;
          if (this.channels.viewers(m.channelId) === 0) void this.#stopMix(m, `no viewers for ${this.o.idleSeconds} s`);
        }, this.o.idleSeconds * 1000);
      }
    }
    this.#announce(m);
  }

  #start(m: Mapping): Promise<void> {
    if ((m.mix && !m.mix.ended) || m.stopping) return m.starting ?? Promise.resolve();
    m.starting ??= (async () => {
      const feed = this.programs.openFeed(m.channelId, `mix:${m.conferenceId}`);
      try {
        const mix = await this.mixing.create(
          { conferenceId: m.conferenceId, outputs: [], layout: m.layout, settings: this.o.settings, background: {}, hostUserId: m.conference.hostUserId },
          feed,
        );
        m.mix = mix;
        mix.on('state', () => this.#announce(m));
        // On air once everyone in the conference is in the picture (or after a short wait for a
        // sender that shows nothing): the first picture a viewer gets shows the whole meeting.
        const everyone = m.conference.participants.map((p) => p.userId);
        const show = () => {
          if (m.mix === mix && !mix.ended) void this.programs.show(m.channelId, feed.name, 10000);
        };
        void mix.whenKeyframeShows(everyone, FIRST_PICTURES_WAIT_MS, show).then((shown) => shown || show());
        this.o.logger.log(`channel ${m.channelId}: bypass mix ${mix.id} of conference ${m.conferenceId} started`);
      } catch (error) {
        feed.close();
        this.o.logger.error(`channel ${m.channelId}: bypass mix failed to start: ${(error as Error).message}`);
      }
    })().finally(() => {
      m.starting = undefined;
      this.#announce(m);
      // Viewers or participants may have changed while starting.
      this.#reconcile(m);
    });
    this.#announce(m);
    return m.starting;
  }

  async #stopMix(m: Mapping, reason: string): Promise<void> {
    if (m.stopping) return m.stopping;
    m.stopping = (async () => {
      await m.starting;
      const mix = m.mix;
      m.mix = undefined;
      if (mix && !mix.ended) {
        this.o.logger.log(`channel ${m.channelId}: bypass mix ${mix.id} stopped (${reason})`);
        await mix.stop(reason);
      }
    })().finally(() => {
      m.stopping = undefined;
      this.#announce(m);
    });
    this.#announce(m);
    return m.stopping;
  }

  async #drop(m: Mapping, reason: string): Promise<void> {
    if (this.#mappings.get(m.conferenceId) === m) this.#mappings.delete(m.conferenceId);
    clearTimeout(m.idleTimer);
    clearTimeout(m.emptyTimer);
    m.unsubscribe();
    // At shutdown the recordings module closes it (interrupted).
    const recordingId = m.recordingId;
    if (recordingId && reason !== 'shutdown') {
      void this.o.recordings?.stop(recordingId).catch((error) => this.o.logger.warn(`channel ${m.channelId}: could not stop recording ${recordingId}: ${(error as Error).message}`));
    }
    await this.#stopMix(m, reason);
    this.o.logger.log(`conference ${m.conferenceId} unmapped from channel ${m.channelId} (${reason})`);
  }

  #byChannel(channelId: string): Mapping | undefined {
    return [...this.#mappings.values()].find((m) => m.channelId === channelId);
  }

  #state(m: Mapping): LiveMapState {
    if (m.stopping) return 'stopping';
    if (m.starting || m.mix?.state === 'starting') return 'starting';
    return m.mix && !m.mix.ended ? 'live' : 'idle';
  }

  #view(m: Mapping): LiveMapping {
    return {
      conferenceId: m.conferenceId,
      channelId: m.channelId,
      onDemand: m.onDemand,
      layout: m.layout,
      state: this.#state(m),
      ...(m.mix && !m.mix.ended ? { mixTaskId: m.mix.id } : {}),
      ...(m.recordingId ? { recordingId: m.recordingId } : {}),
    };
  }

  #announce(m: Mapping): void {
    this.emit('changed', this.#view(m));
  }
}
