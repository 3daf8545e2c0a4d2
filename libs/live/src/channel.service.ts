import { createHmac } from 'node:crypto';
import { ConflictError, LineLogger, newId, newSecret, NotFoundError, TypedEmitter } from '@gw/common';
import { ChannelP2pSettings, ChannelRecord, ChannelRepository } from '@gw/persistence';
import { ChannelActivity, ChannelSource, ChannelState, deriveChannelStatus } from './channel-status';
import { LiveOrigin } from './live-origin';
import { channelOfStream, hostSourceStream, LIVE_APP, PublishKeyTable, StreamApp, streamKey } from './origin-protocol';

/** An HLS player that has not asked for a playlist for this long has left (players reload every part or segment). */
const HLS_VIEWER_IDLE_MS = 6000;

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
  playUrls: PlayUrls;
  /**
   * Every way the host may push: `rtmp` (the publishUrl), `srt` (srt://…?streamid=…, when SRT_PORT is on),
   * `srtla` (a bonding sender's receiver and the stream id its encoder sends, when SRTLA_PORT is on too).
   */
  ingest: { rtmp: string; srt?: string; srtla?: { host: string; port: number; streamId: string } };
}

/** Where viewers play a channel: the origin's RTMP and HTTP-FLV, and the gateway's own HLS and WHEP. */
export interface PlayUrls {
  rtmp: string;
  flv: string;
  hls?: string;
  whep?: string;
}

export interface ChannelStatus {
  id: string;
  title: string;
  state: ChannelState;
  source: ChannelSource;
  playUrls: PlayUrls;
  viewers: number;
  conferenceId?: string;
  mixTaskId?: string;
}

interface ChannelEvents extends Record<string, unknown[]> {
  /** The state or source of a channel changed. */
  stateChanged: [{ channelId: string; state: ChannelState; source: ChannelSource }];
  /** The host's own push (the program's `host` feed) started or ended. */
  hostSource: [{ channelId: string; publishing: boolean }];
  /** The number of players of the channel changed (origin play / play-done events). */
  viewersChanged: [{ channelId: string; viewers: number }];
}

interface LiveActivity {
  /** The host's publishing sessions on their source stream. */
  hostSessions: Set<string>;
  /** What the program reports: on air, and which kind of feed it shows. */
  programOnAir: boolean;
  feed?: 'host' | 'mix';
  viewers: Set<string>;
  cohosting: boolean;
  conferenceId?: string;
  mixTaskId?: string;
}

/**
 * Channels of the live system: creation, publish keys, and live state learned
 * from the origins' events. Records persist; live activity is in memory because
 * the origins own it (after a restart every channel is idle until pushed again).
 * The host pushes the channel's source to the RTMP ingest (`ingest`); the program
 * publishes the channel to the live origin (`live`), where viewers play it. The
 * two are one origin unless the live origin is external and the gateway ingests
 * itself (LIVE_INGEST=gateway).
 */
export class ChannelService extends TypedEmitter<ChannelEvents> {
  readonly #activity = new Map<string, LiveActivity>();
  /** `${channelId}\n${sessionId}` → when that HLS player counts as gone (see hlsRequest). */
  readonly #hlsViewers = new Map<string, NodeJS.Timeout>();
  readonly #hlsBytes = new Map<string, number>();
  private readonly live: LiveOrigin;
  private readonly ingest: LiveOrigin;

  constructor(
    private readonly repository: ChannelRepository,
    origins: { live: LiveOrigin; ingest: LiveOrigin },
    /** Derives each channel's internal program key; never shown to clients. */
    private readonly programKeySecret: string,
    private readonly logger: LineLogger,
    /** The gateway's own public HTTP base (HLS, WHEP); absent in unit tests. */
    private readonly gatewayBase?: string,
    /** The SRT ingest, for the channels' `ingest.srt` URLs; absent (or off): none. */
    private readonly srt?: {
      publishUrl(app: StreamApp, stream: string, key: string): string | undefined;
      srtla(app: StreamApp, stream: string, key: string): { host: string; port: number; streamId: string } | undefined;
    },
  ) {
    super();
    this.live = origins.live;
    this.ingest = origins.ingest;
    const { live, ingest } = this;
    ingest.on('publish', ({ app, stream, sessionId, role }) => {
      if (app !== LIVE_APP || role !== 'host') return;
      const { channelId } = channelOfStream(stream);
      this.logger.log(`channel ${channelId}: host started publishing the source`);
      this.#hostSession(channelId, sessionId, true);
    });
    ingest.on('unpublish', ({ app, stream, sessionId }) => {
      if (app !== LIVE_APP) return;
      const { channelId, part } = channelOfStream(stream);
      if (part === 'host') this.#hostSession(channelId, sessionId, false);
    });
    live.on('publish', ({ app, stream, role }) => {
      if (app === LIVE_APP && role === 'program') this.logger.log(`channel ${stream}: program started publishing the channel`);
    });
    for (const origin of new Set([live, ingest])) {
      origin.on('publishRejected', ({ path, reason }) => this.logger.warn(`publish to ${path} refused (${reason})`));
    }
    live.on('play', ({ app, stream, sessionId }) => {
      const { channelId, part } = channelOfStream(stream);
      if (app === LIVE_APP && part === 'program') this.#viewer(channelId, sessionId, true);
    });
    live.on('playDone', ({ app, stream, sessionId }) => {
      const { channelId, part } = channelOfStream(stream);
      if (app === LIVE_APP && part === 'program') this.#viewer(channelId, sessionId, false);
    });
    // Whatever an origin served ended with it: the host's pushes on the ingest, the players on the live origin.
    ingest.on('down', () => {
      for (const [channelId, activity] of [...this.#activity]) {
        for (const sessionId of [...activity.hostSessions]) this.#hostSession(channelId, sessionId, false);
      }
    });
    live.on('down', () => {
      for (const [channelId, activity] of [...this.#activity]) {
        for (const sessionId of [...activity.viewers]) this.#viewer(channelId, sessionId, false);
      }
    });
  }

  /** Loads the key table into the origin; call before the origin starts. */
  init(): void {
    this.#pushKeys();
  }

  create(input: { id?: string; title?: string; p2p?: ChannelP2pSettings }): CreatedChannel {
    const record: ChannelRecord = {
      id: input.id ?? newId('ch'),
      title: input.title ?? input.id ?? 'Untitled channel',
      publishKey: newSecret(),
      createdAt: Date.now(),
      ...(input.p2p ? { p2p: input.p2p } : {}),
    };
    if (!this.repository.insert(record)) throw new ChannelExistsError(record.id);
    this.#pushKeys();
    return this.#created(record);
  }

  /** Deletes a channel nobody uses yet (undoes a create that was part of a larger step that failed). */
  remove(id: string): void {
    if (this.repository.delete(id)) this.#pushKeys();
  }

  /** A new publish key; the old one is refused from now on and its push ended. */
  rotateKey(id: string): { id: string; publishUrl: string; ingest: CreatedChannel['ingest'] } {
    this.#record(id);
    if (!this.repository.updatePublishKey(id, newSecret())) throw new ChannelNotFoundError(id);
    this.#pushKeys();
    this.ingest.kickPublisher(LIVE_APP, hostSourceStream(id));
    this.logger.log(`channel ${id}: publish key rotated`);
    const { publishUrl, ingest } = this.#created(this.#record(id));
    return { id, publishUrl, ingest };
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
      playUrls: this.playUrls(id),
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

  /** Media bytes served over HTTP for a channel's HLS (segments, parts, init, and the swarm's blocks), since the gateway started. */
  hlsBytesServed(id: string): number {
    return this.#hlsBytes.get(id) ?? 0;
  }

  countHlsBytes(id: string, bytes: number): void {
    this.#hlsBytes.set(id, (this.#hlsBytes.get(id) ?? 0) + bytes);
  }

  /** The channel's own swarm settings (seed 002), if it set any; undefined takes the gateway's defaults. */
  p2pSettings(id: string): ChannelP2pSettings | undefined {
    const record = this.repository.find(id);
    if (!record) throw new ChannelNotFoundError(id);
    return record.p2p;
  }

  setP2pSettings(id: string, p2p: ChannelP2pSettings): void {
    if (!this.repository.updateP2p(id, p2p)) throw new ChannelNotFoundError(id);
  }

  /** Counts of channels by state, for metrics. */
  countByState(): Record<ChannelState, number> {
    const counts: Record<ChannelState, number> = { idle: 0, live: 0, cohosting: 0 };
    for (const record of this.repository.list()) counts[deriveChannelStatus(this.#flags(this.#activity.get(record.id))).state] += 1;
    return counts;
  }

  /** True while the host's own push reaches the origin. */
  hostPublishing(channelId: string): boolean {
    return (this.#activity.get(channelId)?.hostSessions.size ?? 0) > 0;
  }

  /** Co-hosting begins: the channel shows the session's mix (the program switches to it). */
  beginCohosting(channelId: string, conferenceId: string): void {
    this.#record(channelId);
    this.#update(channelId, (a) => {
      a.cohosting = true;
      a.conferenceId = conferenceId;
    });
  }

  setMixTask(channelId: string, mixTaskId: string | undefined): void {
    this.#update(channelId, (a) => {
      a.mixTaskId = mixTaskId;
    });
  }

  endCohosting(channelId: string): void {
    this.#update(channelId, (a) => {
      a.cohosting = false;
      a.conferenceId = undefined;
      a.mixTaskId = undefined;
    });
  }

  /** The program of the channel reports what is on air. */
  setProgram(channelId: string, program: { onAir: boolean; feed?: 'host' | 'mix' }): void {
    this.#update(channelId, (a) => {
      a.programOnAir = program.onAir;
      a.feed = program.feed;
    });
  }

  /** URL the gateway's program publishes the channel with (internal key; nobody else may publish it). */
  programPublishUrl(channelId: string): string {
    this.#record(channelId);
    return this.live.publishUrl(LIVE_APP, channelId, this.#programKey(channelId));
  }

  /** URL the program reads the host's own push from. */
  hostSourcePullUrl(channelId: string): string {
    return this.ingest.pullUrl(LIVE_APP, hostSourceStream(channelId));
  }

  /** Every URL the channel plays at (the same wherever a channel is shown: channels, the directory, conferences going live). */
  playUrls(channelId: string): PlayUrls {
    const origin = this.live.playUrls(channelId);
    if (!this.gatewayBase) return origin;
    const id = encodeURIComponent(channelId);
    // HLS (libs/live HlsController) and WHEP (libs/whep: POST an SDP offer with a bearer token).
    return { ...origin, hls: `${this.gatewayBase}/hls/${id}/index.m3u8`, whep: `${this.gatewayBase}/api/v1/whep/${id}` };
  }

  #created(record: ChannelRecord): CreatedChannel {
    const publishUrl = this.ingest.publishUrl(LIVE_APP, hostSourceStream(record.id), record.publishKey);
    const srt = this.srt?.publishUrl(LIVE_APP, hostSourceStream(record.id), record.publishKey);
    const srtla = this.srt?.srtla(LIVE_APP, hostSourceStream(record.id), record.publishKey);
    return {
      id: record.id,
      title: record.title,
      publishUrl,
      playUrls: this.playUrls(record.id),
      ingest: { rtmp: publishUrl, ...(srt ? { srt } : {}), ...(srtla ? { srtla } : {}) },
    };
  }

  /** Where the channel's host pushes, keys included: for the admin and the channel's host only. */
  ingestUrls(id: string): CreatedChannel['ingest'] {
    return this.#created(this.#record(id)).ingest;
  }

  #record(id: string): ChannelRecord {
    const record = this.repository.find(id);
    if (!record) throw new ChannelNotFoundError(id);
    return record;
  }

  #programKey(channelId: string): string {
    return createHmac('sha256', this.programKeySecret).update(`program:${channelId}`).digest('base64url').slice(0, 24);
  }

  /** Each origin gets the keys of what is published to it: host sources on the ingest, programs on the live origin. */
  #pushKeys(): void {
    const sources: PublishKeyTable = {};
    const programs: PublishKeyTable = {};
    for (const record of this.repository.list()) {
      sources[streamKey(LIVE_APP, hostSourceStream(record.id))] = { [record.publishKey]: 'host' };
      programs[streamKey(LIVE_APP, record.id)] = { [this.#programKey(record.id)]: 'program' };
    }
    if (this.live === this.ingest) {
      this.live.setPublishKeys('channels', { ...sources, ...programs });
    } else {
      this.ingest.setPublishKeys('channels', sources);
      this.live.setPublishKeys('channels', programs);
    }
  }

  #flags(activity: LiveActivity | undefined): ChannelActivity {
    return { programOnAir: activity?.programOnAir ?? false, feed: activity?.feed, cohosting: activity?.cohosting ?? false };
  }

  #viewer(channelId: string, sessionId: string, playing: boolean): void {
    let changed = false;
    let viewers = 0;
    this.#update(channelId, (a) => {
      const before = a.viewers.size;
      if (playing) a.viewers.add(sessionId);
      else a.viewers.delete(sessionId);
      viewers = a.viewers.size;
      changed = before !== viewers;
    });
    if (changed) this.emit('viewersChanged', { channelId, viewers });
  }

  /**
   * An HLS player asked for a playlist of the channel. HLS has no connection
   * to count, so a player (`key`: its address and agent) is a viewer from its
   * first playlist request until HLS_VIEWER_IDLE_MS pass without one: it
   * counts like any player (an on-demand bypass starts its mix for it).
   */
  hlsRequest(channelId: string, key: string): void {
    if (!this.repository.find(channelId)) return;
    const sessionId = `hls:${key}`;
    const timerKey = `${channelId}\n${sessionId}`;
    clearTimeout(this.#hlsViewers.get(timerKey));
    const timer = setTimeout(() => {
      this.#hlsViewers.delete(timerKey);
      this.#viewer(channelId, sessionId, false);
    }, HLS_VIEWER_IDLE_MS);
    timer.unref();
    this.#hlsViewers.set(timerKey, timer);
    this.#viewer(channelId, sessionId, true);
  }

  /** Players of the channel right now. */
  viewers(channelId: string): number {
    return this.#activity.get(channelId)?.viewers.size ?? 0;
  }

  /** True while a co-hosting session runs on the channel. */
  cohosting(channelId: string): boolean {
    return this.#activity.get(channelId)?.cohosting ?? false;
  }

  /** The conference whose mix owns the channel's program now (a co-hosting session's or a PK's), if any. */
  conferenceOf(channelId: string): string | undefined {
    return this.#activity.get(channelId)?.conferenceId;
  }

  #hostSession(channelId: string, sessionId: string, publishing: boolean): void {
    let changed = false;
    this.#update(channelId, (a) => {
      const before = a.hostSessions.size > 0;
      if (publishing) a.hostSessions.add(sessionId);
      else a.hostSessions.delete(sessionId);
      changed = before !== a.hostSessions.size > 0;
    });
    if (changed) this.emit('hostSource', { channelId, publishing });
  }

  #update(channelId: string, change: (activity: LiveActivity) => void): void {
    let activity = this.#activity.get(channelId);
    if (!activity) {
      activity = { hostSessions: new Set(), programOnAir: false, viewers: new Set(), cohosting: false };
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
