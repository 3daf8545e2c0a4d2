import { createHmac } from 'node:crypto';
import { ConflictError, LineLogger, newId, newSecret, NotFoundError, TypedEmitter } from '@gw/common';
import { ChannelRecord, ChannelRepository } from '@gw/persistence';
import { ChannelActivity, ChannelSource, ChannelState, deriveChannelStatus } from './channel-status';
import { LiveOrigin } from './live-origin';
import { LIVE_APP, PublisherRole, PublishKeyTable, streamKey } from './origin-protocol';

export class ChannelNotFoundError extends NotFoundError {
  constructor(id: string) {
    super(`channel ${id} not found`, 'CHANNEL_NOT_FOUND');
  }
}

export class ChannelExistsError extends ConflictError {
  constructor(id: string) {
    super(`channel ${id} already exists`, 'CHANNEL_EXISTS');
  }
}

/** What the creator of a channel receives. The only place the publish URL is shown. */
export interface CreatedChannel {
  id: string;
  title: string;
  publishUrl: string;
  playUrls: { rtmp: string; flv: string };
}

export interface ChannelStatus {
  id: string;
  title: string;
  state: ChannelState;
  source: ChannelSource;
  playUrls: { rtmp: string; flv: string };
  viewers: number;
  conferenceId?: string;
  mixTaskId?: string;
}

interface ChannelEvents extends Record<string, unknown[]> {
  /** The state or source of a channel changed. */
  stateChanged: [{ channelId: string; state: ChannelState; source: ChannelSource }];
}

interface LiveActivity {
  /** Publishing sessions on the origin, by session id. */
  publishers: Map<string, PublisherRole>;
  viewers: Set<string>;
  cohosting: boolean;
  conferenceId?: string;
  mixTaskId?: string;
}

/**
 * Channels of the live system: creation, publish keys, and live state learned
 * from the origin's events. Records persist; live activity is in memory because
 * the origin owns it (after a restart every channel is idle until pushed again).
 */
export class ChannelService extends TypedEmitter<ChannelEvents> {
  readonly #activity = new Map<string, LiveActivity>();

  constructor(
    private readonly repository: ChannelRepository,
    private readonly origin: LiveOrigin,
    /** Derives each channel's internal mix key; never shown to clients. */
    private readonly mixKeySecret: string,
    private readonly logger: LineLogger,
  ) {
    super();
    origin.on('publish', ({ app, stream: channelId, sessionId, role }) => {
      if (app !== LIVE_APP) return;
      this.#update(channelId, (a) => a.publishers.set(sessionId, role));
      this.logger.log(`channel ${channelId}: ${role} started publishing`);
    });
    origin.on('unpublish', ({ app, stream: channelId, sessionId }) => {
      if (app !== LIVE_APP) return;
      this.#update(channelId, (a) => a.publishers.delete(sessionId));
      this.logger.log(`channel ${channelId}: publisher ${sessionId} stopped`);
    });
    origin.on('publishRejected', ({ path, reason }) => this.logger.warn(`publish to ${path} refused (${reason})`));
    origin.on('play', ({ app, stream, sessionId }) => {
      if (app === LIVE_APP) this.#update(stream, (a) => a.viewers.add(sessionId));
    });
    origin.on('playDone', ({ app, stream, sessionId }) => {
      if (app === LIVE_APP) this.#update(stream, (a) => a.viewers.delete(sessionId));
    });
    origin.on('down', () => {
      for (const channelId of [...this.#activity.keys()]) {
        this.#update(channelId, (a) => {
          a.publishers.clear();
          a.viewers.clear();
        });
      }
    });
  }

  /** Loads the key table into the origin; call before the origin starts. */
  init(): void {
    this.#pushKeys();
  }

  create(input: { id?: string; title?: string }): CreatedChannel {
    const record: ChannelRecord = {
      id: input.id ?? newId('ch'),
      title: input.title ?? input.id ?? 'Untitled channel',
      publishKey: newSecret(),
      createdAt: Date.now(),
    };
    if (!this.repository.insert(record)) throw new ChannelExistsError(record.id);
    this.#pushKeys();
    return this.#created(record);
  }

  /** The channel's URLs, including the publish URL (for its owner only). */
  describe(id: string): CreatedChannel {
    return this.#created(this.#record(id));
  }

  status(id: string): ChannelStatus {
    const record = this.#record(id);
    const activity = this.#activity.get(id);
    const { state, source } = deriveChannelStatus(this.#flags(activity));
    return {
      id,
      title: record.title,
      state,
      source,
      playUrls: this.origin.playUrls(id),
      viewers: activity?.viewers.size ?? 0,
      ...(activity?.conferenceId ? { conferenceId: activity.conferenceId } : {}),
      ...(activity?.mixTaskId ? { mixTaskId: activity.mixTaskId } : {}),
    };
  }

  list(): ChannelStatus[] {
    return this.repository.list().map((record) => this.status(record.id));
  }

  exists(id: string): boolean {
    return this.repository.find(id) !== undefined;
  }

  /** Counts of channels by state, for metrics. */
  countByState(): Record<ChannelState, number> {
    const counts: Record<ChannelState, number> = { idle: 0, live: 0, cohosting: 0 };
    for (const record of this.repository.list()) counts[deriveChannelStatus(this.#flags(this.#activity.get(record.id))).state] += 1;
    return counts;
  }

  /**
   * Co-hosting begins: from now on only the gateway's mix may publish the
   * channel. The host's key is withdrawn and their current push ended, so the
   * mix takes the stream over.
   */
  beginCohosting(channelId: string, conferenceId: string): void {
    this.#record(channelId);
    this.#update(channelId, (a) => {
      a.cohosting = true;
      a.conferenceId = conferenceId;
    });
    this.#pushKeys();
    this.origin.kickPublisher(LIVE_APP, channelId);
  }

  setMixTask(channelId: string, mixTaskId: string | undefined): void {
    this.#update(channelId, (a) => {
      a.mixTaskId = mixTaskId;
    });
  }

  /** Co-hosting ended: the host's key works again. */
  endCohosting(channelId: string): void {
    this.#update(channelId, (a) => {
      a.cohosting = false;
      a.conferenceId = undefined;
      a.mixTaskId = undefined;
    });
    this.#pushKeys();
  }

  /** URL a mix task publishes the channel with (internal key, source `mix`). */
  mixPublishUrl(channelId: string): string {
    this.#record(channelId);
    return this.origin.publishUrl(LIVE_APP, channelId, this.#mixKey(channelId));
  }

  #created(record: ChannelRecord): CreatedChannel {
    return {
      id: record.id,
      title: record.title,
      publishUrl: this.origin.publishUrl(LIVE_APP, record.id, record.publishKey),
      playUrls: this.origin.playUrls(record.id),
    };
  }

  #record(id: string): ChannelRecord {
    const record = this.repository.find(id);
    if (!record) throw new ChannelNotFoundError(id);
    return record;
  }

  #mixKey(channelId: string): string {
    return createHmac('sha256', this.mixKeySecret).update(`mix:${channelId}`).digest('base64url').slice(0, 24);
  }

  #pushKeys(): void {
    const table: PublishKeyTable = {};
    for (const record of this.repository.list()) {
      const cohosting = this.#activity.get(record.id)?.cohosting ?? false;
      table[streamKey(LIVE_APP, record.id)] = {
        ...(cohosting ? {} : { [record.publishKey]: 'host' as const }),
        [this.#mixKey(record.id)]: 'mix',
      };
    }
    this.origin.setPublishKeys('channels', table);
  }

  #flags(activity: LiveActivity | undefined): ChannelActivity {
    const roles = [...(activity?.publishers.values() ?? [])];
    return { hostPublishing: roles.includes('host'), mixPublishing: roles.includes('mix'), cohosting: activity?.cohosting ?? false };
  }

  #update(channelId: string, change: (activity: LiveActivity) => void): void {
    let activity = this.#activity.get(channelId);
    if (!activity) {
      activity = { publishers: new Map(), viewers: new Set(), cohosting: false };
      this.#activity.set(channelId, activity);
    }
    const before = deriveChannelStatus(this.#flags(activity));
    change(activity);
    const after = deriveChannelStatus(this.#flags(activity));
    if (before.state !== after.state || before.source !== after.source) {
      this.emit('stateChanged', { channelId, ...after });
    }
  }
}
