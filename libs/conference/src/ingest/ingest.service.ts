import { LineLogger, newSecret } from '@gw/common';
import { INGEST_APP, LiveOrigin, PublishKeyTable, StreamApp, streamKey } from '@gw/live';
import type { ConferenceRepository } from '@gw/persistence';
import { randomBytes } from 'node:crypto';
import { ConferenceService } from '../conference.service';
import { NotAMemberError } from '../errors';
import { IngestSession } from './ingest-session';

interface IngestPoint {
  stream: string;
  key: string;
  conferenceId: string;
  userId: string;
  /** A screen share's point: its session's producers are the participant's screen (mutes.ts isScreen). */
  kind: 'camera' | 'screen';
}

/** A stream of the ingest origin's own (a channel host's push) fed into a conference while attached. */
interface AttachedStream {
  app: StreamApp;
  stream: string;
  conferenceId: string;
  userId: string;
}

/**
 * Probe length of an ingest pull from an origin that sends its cached GOP (see IngestArgsInput.probeMs),
 * for the push's description and for the ingest itself. FLV sends its codec configs first, so 200 ms
 * is enough; at 500 ms the two probes cost a fresh guest push ~0.2 s more before its first picture.
 */
const INGEST_PROBE_MS = 200;

/**
 * RTMP participants (OBS, ffmpeg): hands out a secret push URL per member and,
 * when the origin reports a push there, starts an IngestSession; when the push
 * stops, the participant leaves. Pushes go to the `ingest` app of the RTMP
 * ingest origin (LIVE_INGEST: the gateway's embedded origin by default).
 */
export class IngestService {
  readonly #points = new Map<string, IngestPoint>();
  readonly #sessions = new Map<string, IngestSession>();
  readonly #starting = new Map<string, Promise<void>>();
  /** `${conferenceId}\n${userId}` of each session being started, by key (see #startSession). */
  readonly #startingFor = new Map<string, string>();
  /**
   * By `attached:<app>/<stream>@<conferenceId>`, the key its session runs under: one stream may feed
   * several conferences at once (a co-hosting host in a PK is in both), each by its own session.
   */
  readonly #attached = new Map<string, AttachedStream>();
  #closed = false;

  constructor(
    private readonly conferences: ConferenceService,
    private readonly origin: LiveOrigin,
    private readonly ffmpegPath: string,
    private readonly logger: LineLogger,
    /** Saves push points so RTMP participants keep their URL across a restart (absent in unit tests). */
    private readonly store?: ConferenceRepository,
  ) {
    origin.on('publish', ({ app, stream }) => {
      if (app === INGEST_APP) void this.#onPush(stream);
      else for (const key of this.#attachedKeys(app, stream)) void this.#startAttached(key);
    });
    origin.on('unpublish', ({ app, stream }) => {
      if (app === INGEST_APP) void this.#stopSession(stream, 'push stopped');
      else for (const key of this.#attachedKeys(app, stream)) void this.#stopSession(key, 'push stopped');
    });
    origin.on('down', () => {
      for (const stream of [...this.#sessions.keys()]) void this.#stopSession(stream, 'origin down');
    });
    // A worker died under a conference: its RTMP participants were dropped with their
    // router. Their pushes are still on the origin, so they rejoin on their own.
    conferences.on('created', (conference) => {
      // A participant the host removed loses its push points: the push running now is ended at the
      // origin and its key no longer publishes (its encoder's reconnects are refused); admitted again,
      // it gets a new URL.
      conference.on('removed', ({ userId }) => this.#revoke(conference.id, userId));
      conference.on('routerLost', ({ lost }) => {
        const rtmp = new Set(lost.filter((p) => p.via === 'rtmp').map((p) => p.userId));
        for (const point of this.#points.values()) {
          if (point.conferenceId !== conference.id || !rtmp.has(point.userId)) continue;
          this.logger.warn(`RTMP participant ${point.userId} rejoins conference ${conference.id} (worker died)`);
          void this.#rejoin(point.stream, point.conferenceId, point.userId, () => this.#points.get(point.stream) === point, () => this.#onPush(point.stream));
        }
        for (const [key, attached] of this.#attached) {
          if (attached.conferenceId !== conference.id || !rtmp.has(attached.userId) || !this.#sessions.has(key)) continue;
          this.logger.warn(`RTMP participant ${attached.userId} (${attached.app}/${attached.stream}) rejoins conference ${conference.id} (worker died)`);
          void this.#rejoin(key, attached.conferenceId, attached.userId, () => this.#attached.get(key) === attached, () => this.#startAttached(key));
        }
      });
    });
    conferences.on('ended', ({ conference }) => {
      let removed = false;
      for (const point of [...this.#points.values()]) {
        if (point.conferenceId !== conference.id) continue;
        this.#points.delete(point.stream);
        removed = true;
        void this.#stopSession(point.stream, 'conference ended');
      }
      for (const [key, attached] of [...this.#attached]) {
        if (attached.conferenceId !== conference.id) continue;
        this.#attached.delete(key);
        void this.#stopSession(key, 'conference ended');
      }
      // The whole key table goes to the origin: only when it changed (at scale, conferences end often).
      if (removed) this.#pushKeys();
    });
  }

  /** The push URL for a member (the same one on every call while the conference runs). */
  urlFor(conferenceId: string, userId: string, kind: 'camera' | 'screen' = 'camera'): string {
    const point = this.pointFor(conferenceId, userId, kind);
    return this.origin.publishUrl(INGEST_APP, point.stream, point.key);
  }

  /** The member's push point (its stream on the ingest origin and its key), made on first use. */
  pointFor(conferenceId: string, userId: string, kind: 'camera' | 'screen' = 'camera'): { app: StreamApp; stream: string; key: string } {
    const conference = this.conferences.get(conferenceId);
    if (!conference.isMember(userId)) throw new NotAMemberError(conferenceId);
    let point = [...this.#points.values()].find((p) => p.conferenceId === conferenceId && p.userId === userId && p.kind === kind);
    if (!point) {
      point = { stream: `in-${randomBytes(8).toString('hex')}`, key: newSecret(), conferenceId, userId, kind };
      // A copy of another node's conference (cluster mode) is not saved, nor are its push points.
      if (conference.homeNode === undefined) this.store?.insertIngestPoint({ stream: point.stream, publishKey: point.key, conferenceId, userId, kind });
      this.#points.set(point.stream, point);
      this.#pushKeys();
    }
    return { app: INGEST_APP, stream: point.stream, key: point.key };
  }

  /**
   * Feeds a stream the ingest origin already carries (a channel host's own
   * push) into a conference as `userId`: at once if it is being published and
   * the user is not in the conference yet, and again each time it is
   * published anew, until detached. Its session
   * replaces any other source of that user in the conference (the newest
   * source wins), and a newer one replaces it.
   */
  attachStream(target: AttachedStream, publishing: boolean): void {
    const key = attachedKey(target.app, target.stream, target.conferenceId);
    this.#attached.set(key, { ...target });
    // A push already running is not newer than a user who is already in the conference (a host on
    // WebRTC): it only fills an empty place. A push that starts from now on is the newest source.
    if (publishing && !this.conferences.find(target.conferenceId)?.participant(target.userId)) void this.#startAttached(key);
  }

  /** Stops feeding an attached stream into a conference; its participant leaves unless a newer source replaced it. */
  async detachStream(app: StreamApp, stream: string, conferenceId: string): Promise<void> {
    const key = attachedKey(app, stream, conferenceId);
    if (!this.#attached.delete(key)) return;
    await this.#stopSession(key, 'detached');
  }

  /** Where the stream is attached now (for tests and views). */
  attachedTo(app: StreamApp, stream: string): string[] {
    return this.#attachedKeys(app, stream).map((key) => this.#attached.get(key)!.conferenceId);
  }

  /** After a restart: the saved push points of restored conferences accept pushes again. */
  restore(): void {
    for (const point of this.store?.ingestPoints() ?? []) {
      if (!this.conferences.find(point.conferenceId)) continue;
      this.#points.set(point.stream, { stream: point.stream, key: point.publishKey, conferenceId: point.conferenceId, userId: point.userId, kind: point.kind ?? 'camera' });
    }
    this.#pushKeys();
  }

  /** ffmpeg pids of running ingest sessions (for leak checks and metrics). */
  processIds(): number[] {
    return [...this.#sessions.values()].flatMap((s) => (s.pid ? [s.pid] : []));
  }

  async closeAll(): Promise<void> {
    // A session still starting is stopped as soon as it has started (see #onPush); its ffmpeg, if it
    // hangs on its way up, is ended with every other child at shutdown. Not waited for here: a start
    // can take its whole readiness timeout.
    this.#closed = true;
    await Promise.all([...this.#sessions.keys()].map((stream) => this.#stopSession(stream, 'shutdown')));
  }

  async #onPush(stream: string): Promise<void> {
    if (this.#closed) return;
    const point = this.#points.get(stream);
    if (point) await this.#startSession(stream, point.conferenceId, point.userId, INGEST_APP, stream, point.kind === 'screen');
  }

  async #startAttached(key: string): Promise<void> {
    const attached = this.#attached.get(key);
    if (attached && !this.#closed) await this.#startSession(key, attached.conferenceId, attached.userId, attached.app, attached.stream);
  }

  async #startSession(key: string, conferenceId: string, userId: string, app: StreamApp, stream: string, screen = false): Promise<void> {
    const conference = this.conferences.find(conferenceId);
    if (!conference) return;
    await this.#stopSession(key, 'replaced by a new push');
    // Another source of the same user in this conference (the host's own push fed in, and now its
    // ingest URL, or the other way round) ends before this one joins: two sessions setting up the same
    // user at once raced, and the host's cell could stay empty (1 run in 4 of the co-hosting E2E).
    const others = new Set([...this.#sessions.entries()].filter(([k, s]) => k !== key && s.conference === conference && s.userId === userId).map(([k]) => k));
    for (const k of this.#starting.keys()) if (k !== key && this.#startingFor.get(k) === `${conferenceId}\n${userId}`) others.add(k);
    for (const k of others) await this.#stopSession(k, 'replaced by a newer source');
    this.#startingFor.set(key, `${conferenceId}\n${userId}`);
    const starting = IngestSession.start({
      conference,
      userId,
      pullUrl: this.origin.pullUrl(app, stream),
      screen,
      ffmpegPath: this.ffmpegPath,
      // Half a second of an origin's live stream may hold no keyframe; its cached GOP always does.
      probeMs: this.origin.sendsCachedGop ? INGEST_PROBE_MS : undefined,
      logger: this.logger,
      onEnded: () => {
        if (this.#sessions.get(key)?.conference === conference) this.#sessions.delete(key);
      },
    }).then(
      (session) => {
        if (this.#closed) {
          void session.stop('shutdown');
          return;
        }
        this.#sessions.set(key, session);
        this.logger.log(`RTMP participant ${userId} joined conference ${conference.id}`);
      },
      (error: Error) => this.logger.error(error.message),
    );
    this.#starting.set(key, starting);
    await starting;
    this.#starting.delete(key);
    this.#startingFor.delete(key);
  }

  /**
   * Starts the participant's session again, retrying while the SFU has no room for
   * it (the dead worker's replacement may still be starting), for about 15 s.
   */
  async #rejoin(key: string, conferenceId: string, userId: string, stillWanted: () => boolean, start: () => Promise<void>): Promise<void> {
    for (let attempt = 0, delayMs = 250; attempt < 10; attempt += 1, delayMs = Math.min(delayMs * 2, 2000)) {
      if (this.#closed || !stillWanted() || !this.conferences.find(conferenceId)) return;
      await start();
      if (this.#sessions.has(key)) return;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    this.logger.error(`RTMP participant ${userId} could not rejoin conference ${conferenceId}`);
  }

  #revoke(conferenceId: string, userId: string): void {
    const points = [...this.#points.values()].filter((p) => p.conferenceId === conferenceId && p.userId === userId);
    if (!points.length) return;
    for (const point of points) {
      this.#points.delete(point.stream);
      this.store?.deleteIngestPoint(point.stream);
    }
    this.#pushKeys();
    for (const point of points) {
      this.origin.kickPublisher(INGEST_APP, point.stream);
      void this.#stopSession(point.stream, 'removed by the host');
    }
    this.logger.log(`push points of ${userId} in conference ${conferenceId} revoked (removed by the host)`);
  }

  async #stopSession(stream: string, reason: string): Promise<void> {
    await this.#starting.get(stream);
    const session = this.#sessions.get(stream);
    if (!session) return;
    this.#sessions.delete(stream);
    await session.stop(reason);
  }

  #attachedKeys(app: StreamApp, stream: string): string[] {
    return [...this.#attached.values()].filter((a) => a.app === app && a.stream === stream).map((a) => attachedKey(a.app, a.stream, a.conferenceId));
  }

  #pushKeys(): void {
    const table: PublishKeyTable = {};
    for (const point of this.#points.values()) table[streamKey(INGEST_APP, point.stream)] = { [point.key]: 'ingest' };
    this.origin.setPublishKeys('ingest', table);
  }
}

const attachedKey = (app: StreamApp, stream: string, conferenceId: string) => `attached:${app}/${stream}@${conferenceId}`;
