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
    conference.on('participantJoined', () => this.#cancelIdle(id));
    conference.on('participantLeft', () => {
      if (conference.participantCount === 0) this.#armIdle(conference);
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
      if (conference.participantCount === 0) conference.close('idle');
    }, this.options.idleSeconds * 1000);
    timer.unref();
    this.#idleTimers.set(conference.id, timer);
  }

  #cancelIdle(id: string): void {
    clearTimeout(this.#idleTimers.get(id));
    this.#idleTimers.delete(id);
  }
}
