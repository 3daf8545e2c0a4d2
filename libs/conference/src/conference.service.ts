import { LineLogger, newId, TypedEmitter } from '@gw/common';
import { WorkerPool } from '@gw/sfu';
import { Conference, RtcOptions } from './conference';
import { ConferenceNotFoundError } from './errors';

export interface ConferenceServiceOptions {
  rtc: RtcOptions;
  /** An empty conference ends after this many seconds (CONFERENCE_IDLE_SECONDS). */
  idleSeconds: number;
  logger: LineLogger;
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

  async create(input: { title?: string; hostUserId?: string }): Promise<Conference> {
    const id = newId('conf');
    const conference = await Conference.create({
      id,
      title: input.title ?? 'Conference',
      hostUserId: input.hostUserId,
      pool: this.pool,
      rtc: this.options.rtc,
    });
    this.#conferences.set(id, conference);
    conference.on('participantJoined', () => this.#cancelIdle(id));
    conference.on('participantLeft', () => {
      if (conference.participantCount === 0) this.#armIdle(conference);
    });
    conference.once('closed', ({ reason }) => {
      this.#cancelIdle(id);
      this.#conferences.delete(id);
      this.options.logger.log(`conference ${id} ended (${reason})`);
      this.emit('ended', { conference, reason });
    });
    this.#armIdle(conference);
    this.options.logger.log(`conference ${id} created on worker slot ${conference.snapshot().workerSlots.join(',')}`);
    this.emit('created', conference);
    return conference;
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
