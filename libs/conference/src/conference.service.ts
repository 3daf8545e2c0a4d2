import { LineLogger, newId, TypedEmitter } from '@gw/common';
import type { ConferenceRepository } from '@gw/persistence';
import { WorkerPool } from '@gw/sfu';
import { Conference, RtcOptions } from './conference';
import { ConferenceNotFoundError } from './errors';

export interface ConferenceServiceOptions {
  rtc: RtcOptions;
  /** An empty conference ends after this many seconds (CONFERENCE_IDLE_SECONDS). */
  idleSeconds: number;
  logger: LineLogger;
  /** Saves conferences so a restarted gateway rebuilds them (absent in unit tests). */
  store?: ConferenceRepository;
}

interface ConferenceServiceEvents extends Record<string, unknown[]> {
  /** A conference exists; subscribe to its events here. */
  created: [Conference];
  ended: [{ conference: Conference; reason: string }];
}

/**
 * Conference control (会控): the registry of running conferences. Creates them
 * on the least-loaded worker, ends them on request, when idle, or at shutdown,
 * and hands a dead worker's news to the conferences on it.
 */
export class ConferenceService extends TypedEmitter<ConferenceServiceEvents> {
  readonly #conferences = new Map<string, Conference>();
  readonly #idleTimers = new Map<string, NodeJS.Timeout>();
  #mixTaskIds: (conferenceId: string) => string[] = () => [];
  /** Cluster mode: finds a conference held by another node and makes this node's copy of it (conference-span.ts). */
  #locator: ((id: string, userId?: string) => Promise<Conference | undefined>) | undefined;

  constructor(
    private readonly pool: WorkerPool,
    private readonly options: ConferenceServiceOptions,
  ) {
    super();
    pool.on('workerDied', ({ worker }) => {
      for (const conference of this.#conferences.values()) conference.onWorkerDied(worker);
    });
  }

  /**
   * A new conference on the least-loaded worker. Saved first: when saving fails
   * (PERSISTENCE_FAILED) nothing is created.
   */
  async create(input: { title?: string; hostUserId?: string }): Promise<Conference> {
    const id = newId('conf');
    const record = { id, title: input.title ?? 'Conference', hostUserId: input.hostUserId, createdAt: Date.now() };
    this.options.store?.insert(record, []);
    let conference: Conference;
    try {
      conference = await Conference.create({ ...record, pool: this.pool, rtc: this.options.rtc, store: this.options.store });
    } catch (error) {
      this.#forget(id);
      throw error;
    }
    this.#register(conference);
    this.options.logger.log(`conference ${id} created on worker slot ${conference.snapshot().workerSlots.join(',')}`);
    return conference;
  }

  /**
   * Cluster mode: this node's copy of a conference whose home is another
   * node. Not saved (the home keeps the record); it ends when its last
   * participant here is gone for the idle time, or with its home.
   */
  async createMirror(record: { id: string; title: string; hostUserId?: string; createdAt: number; members: string[]; homeNode: string }): Promise<Conference> {
    const existing = this.#conferences.get(record.id);
    if (existing) return existing;
    const conference = await Conference.create({ ...record, pool: this.pool, rtc: this.options.rtc });
    const raced = this.#conferences.get(record.id);
    if (raced) {
      conference.close('duplicate');
      return raced;
    }
    this.#register(conference);
    this.options.logger.log(`conference ${record.id}: a copy of node ${record.homeNode}'s, on worker slot ${conference.snapshot().workerSlots.join(',')}`);
    return conference;
  }

  /** Cluster mode: how a conference another node holds is found and copied here (set by the cluster's conference spans). */
  setLocator(locator: (id: string, userId?: string) => Promise<Conference | undefined>): void {
    this.#locator = locator;
  }

  /**
   * This node's conference `id`, or (cluster mode) a copy of the one another
   * node holds; CONFERENCE_NOT_FOUND when none does. `userId`: who is about
   * to join; a copy that does not know them as a member asks its home again.
   */
  async obtain(id: string, userId?: string): Promise<Conference> {
    const local = this.#conferences.get(id);
    if (local && (local.homeNode === undefined || userId === undefined || local.isMember(userId))) return local;
    const found = (await this.#locator?.(id, userId)) ?? local;
    if (!found || found.closed) throw new ConferenceNotFoundError(id);
    return found;
  }

  /**
   * After a restart: rebuilds the saved conferences with their ids and members.
   * Each waits for its participants like a new one, and ends when idle.
   */
  async restore(): Promise<Conference[]> {
    const restored: Conference[] = [];
    for (const record of this.options.store?.list() ?? []) {
      try {
        const conference = await Conference.create({ ...record, pool: this.pool, rtc: this.options.rtc, store: this.options.store });
        this.#register(conference);
        restored.push(conference);
        this.options.logger.log(`conference ${record.id} restored (${conference.members.size} members)`);
      } catch (error) {
        this.options.logger.error(`conference ${record.id} could not be restored: ${(error as Error).message}`);
        this.#forget(record.id);
      }
    }
    return restored;
  }

  #register(conference: Conference): void {
    const id = conference.id;
    this.#conferences.set(id, conference);
    conference.on('participantJoined', () => {
      if (!this.#idle(conference)) this.#cancelIdle(id);
    });
    conference.on('participantLeft', () => {
      if (this.#idle(conference)) this.#armIdle(conference);
    });
    conference.once('closed', ({ reason }) => {
      this.#cancelIdle(id);
      this.#conferences.delete(id);
      // At shutdown the conference stays saved: the next start restores it.
      if (reason !== 'shutdown') this.#forget(id);
      this.options.logger.log(`conference ${id} ended (${reason})`);
      this.emit('ended', { conference, reason });
    });
    this.#armIdle(conference);
    this.emit('created', conference);
  }

  /** Deletes a saved conference; a failure leaves a row that restores as an empty conference and idles out. */
  #forget(id: string): void {
    try {
      this.options.store?.delete(id);
    } catch (error) {
      this.options.logger.error(`conference ${id}: ${(error as Error).message}`);
    }
  }

  /** The mixing module tells which mix tasks run on a conference (mixing depends on us, not the reverse). */
  setMixTaskIdsProvider(provider: (conferenceId: string) => string[]): void {
    this.#mixTaskIds = provider;
  }

  mixTaskIds(conferenceId: string): string[] {
    return this.#mixTaskIds(conferenceId);
  }

  get(id: string): Conference {
    const conference = this.#conferences.get(id);
    if (!conference) throw new ConferenceNotFoundError(id);
    return conference;
  }

  find(id: string): Conference | undefined {
    return this.#conferences.get(id);
  }

  list(): Conference[] {
    return [...this.#conferences.values()];
  }

  end(id: string, reason: string): void {
    this.get(id).close(reason);
  }

  closeAll(reason: string): void {
    for (const conference of [...this.#conferences.values()]) conference.close(reason);
  }

  #armIdle(conference: Conference): void {
    this.#cancelIdle(conference.id);
    const timer = setTimeout(() => {
      if (this.#idle(conference)) conference.close('idle');
      // A copy held only by a mix: looked at again, so that it ends after its mix.
      else if (!conference.closed && conference.homeNode !== undefined && conference.localParticipantCount === 0) this.#armIdle(conference);
    }, this.options.idleSeconds * 1000);
    timer.unref();
    this.#idleTimers.set(conference.id, timer);
  }

  /**
   * Nobody is there. A copy of another node's conference counts only who is
   * here by their own means, and a mix running here on it holds it.
   */
  #idle(conference: Conference): boolean {
    if (conference.homeNode === undefined) return conference.participantCount === 0;
    return conference.localParticipantCount === 0 && this.#mixTaskIds(conference.id).length === 0;
  }

  #cancelIdle(id: string): void {
    clearTimeout(this.#idleTimers.get(id));
    this.#idleTimers.delete(id);
  }
}
