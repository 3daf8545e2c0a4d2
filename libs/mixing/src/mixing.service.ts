import { ConflictError, LineLogger, newId, NotFoundError, redactText, TypedEmitter, UnavailableError } from '@gw/common';
import { ConferenceService } from '@gw/conference';
import { ClientMixRelay } from './client-mix-relay';
import { OutputSettings } from './ffmpeg-args';
import { admits, mixCost } from './mix-cost';
import { MixSink, MixTask, MixTaskPatch, MixTaskSpec, MixTaskState } from './mix-task';
import { StillRenderer } from './stills';
import { UdpPortAllocator } from './udp-ports';

export class MixTaskNotFoundError extends NotFoundError {
  constructor(id: string) {
    super(`mix task ${id} not found`, 'MIX_TASK_NOT_FOUND');
  }
}

/** 409: a mix task of this id already runs (or is starting) on this node. */
export class MixTaskExistsError extends ConflictError {
  constructor(id: string) {
    super(`mix task ${id} already runs here`, 'MIX_TASK_EXISTS');
  }
}

/** 503: the node's CPU budget cannot hold another mix of this cost (docs/cluster.md, "Mix admission"). */
export class MixCapacityError extends UnavailableError {
  constructor(cost: number, reserved: number, budget: number) {
    super(`no CPU for another mix here: it costs ${cost} cores, ${reserved.toFixed(2)} of the ${budget} budgeted are taken by running mixes`, 'MIX_CAPACITY');
  }
}

export interface MixingServiceOptions {
  /** Cores mixes may take on this node (NODE_CPU_BUDGET, default its cores × 0.8); see mix-cost.ts. */
  cpuBudget?: number;
  ffmpegPath: string;
  outputAllow: string[];
  /** The URL an output is published to (e.g. signed for the origin's hooks); the task shows the one it was given. Default: as given. */
  publishUrl?: (url: string) => string;
  rtpPorts: { min: number; max: number };
  webhookUrl?: string;
  /** See MIX_AUDIO_DELAY_MS. */
  audioDelayMs?: number;
  logger: LineLogger;
}

export interface MixStateChange {
  taskId: string;
  conferenceId: string;
  state: MixTaskState;
  reason?: string;
}

interface MixingEvents extends Record<string, unknown[]> {
  state: [MixStateChange];
}

/** Ended tasks stay readable this long, then are forgotten. */
const KEEP_ENDED_MS = 10 * 60 * 1000;

/**
 * The mixing coordinator (MCS): creates, changes and stops mix tasks. It knows
 * conferences, not co-hosting or bypass live, which drive it through this API.
 * Every state change is emitted (for the host's socket) and, when
 * MIX_WEBHOOK_URL is set, posted there.
 */
export class MixingService extends TypedEmitter<MixingEvents> {
  readonly #tasks = new Map<string, MixTask>();
  /** Each task's admitted cost (cores), from its creation until it is forgotten. */
  readonly #costs = new Map<string, number>();
  readonly #ports: UdpPortAllocator;
  readonly #relays = new Set<ClientMixRelay>();
  readonly #stills: StillRenderer;

  constructor(
    private readonly conferences: ConferenceService,
    private readonly o: MixingServiceOptions,
  ) {
    super();
    this.#ports = new UdpPortAllocator(o.rtpPorts.min, o.rtpPorts.max);
    this.#stills = new StillRenderer(o.ffmpegPath);
    conferences.setMixTaskIdsProvider((conferenceId) => this.list().filter((t) => t.conferenceId === conferenceId && !t.ended).map((t) => t.id));
  }

  /**
   * Client-side mixing: packages a host page's composed stream (its composite
   * producers) for `sink`, with no compositor. Stopped by its owner.
   */
  async startClientRelay(conferenceId: string, producers: { audio: string; video: string }, settings: OutputSettings, sink: MixSink): Promise<ClientMixRelay> {
    const relay = await ClientMixRelay.start({
      conference: this.conferences.get(conferenceId),
      producers,
      settings,
      ports: this.#ports,
      ffmpegPath: this.o.ffmpegPath,
      sink,
      logger: this.o.logger,
    });
    this.#relays.add(relay);
    return relay;
  }

  /** Stops a client-mix relay started here. */
  async stopClientRelay(relay: ClientMixRelay): Promise<void> {
    this.#relays.delete(relay);
    await relay.stop();
  }

  /** What a mix of these settings showing these many participants costs here (cores), see mix-cost.ts. */
  costOf(settings: OutputSettings, participants: number): number {
    return mixCost({ width: settings.video.width, height: settings.video.height, fps: settings.video.fps, participants });
  }

  /** Cores taken by the mixes running here, and the budget. */
  capacity(): { budget: number; reserved: number } {
    let reserved = 0;
    // A task still starting (not in #tasks yet) counts: it holds its room.
    for (const [id, cost] of this.#costs) if (!this.#tasks.get(id)?.ended) reserved += cost;
    return { budget: this.o.cpuBudget ?? Infinity, reserved: Math.round(reserved * 1000) / 1000 };
  }

  /** Throws MIX_CAPACITY unless a mix of `cost` fits the budget now. */
  assertCapacity(cost: number): void {
    const { budget, reserved } = this.capacity();
    if (!admits(budget, reserved, cost)) throw new MixCapacityError(cost, reserved, budget);
  }

  /**
   * Starts a mix task; `sink` receives the mix in-process (a channel's program)
   * besides its RTMP outputs. Refused with MIX_CAPACITY when the node's CPU
   * budget cannot hold it. `id`: a mix taken over from a node that was lost
   * keeps its id (mix-placement.ts). In a cluster the conference may live on
   * another node: the mix runs on this node's copy of it.
   */
  async create(spec: MixTaskSpec, sink?: MixSink, id = newId('mix')): Promise<MixTask> {
    if (this.has(id)) throw new MixTaskExistsError(id);
    // An ended task of this id (a mix that moved away and back) is forgotten for the new one.
    this.#tasks.delete(id);
    const conference = await this.conferences.obtain(spec.conferenceId);
    const cost = this.costOf(spec.settings, spec.participants?.length ?? conference.participantCount);
    this.assertCapacity(cost);
    // Reserved before the (asynchronous) start, so two creates racing cannot both take the last room.
    this.#costs.set(id, cost);
    let task: MixTask;
    try {
      task = await MixTask.start(id, spec, {
        conference,
        sink,
        ffmpegPath: this.o.ffmpegPath,
        ports: this.#ports,
        stills: this.#stills,
        outputAllow: this.o.outputAllow,
        publishUrl: this.o.publishUrl,
        audioDelayMs: this.o.audioDelayMs,
        logger: this.o.logger,
      });
    } catch (error) {
      this.#costs.delete(id);
      throw error;
    }
    this.#tasks.set(id, task);
    this.#announce({ taskId: id, conferenceId: spec.conferenceId, state: task.state });
    task.on('state', (change) => {
      this.#announce(change);
      if (change.state === 'stopped' || change.state === 'failed') {
        setTimeout(() => {
          // Unless a new task took the id meanwhile (a mix that moved away and back).
          if (this.#tasks.get(id) !== task) return;
          this.#tasks.delete(id);
          this.#costs.delete(id);
        }, KEEP_ENDED_MS).unref();
      }
    });
    return task;
  }

  /** Whether this node runs (or is starting) a task of this id. */
  has(id: string): boolean {
    const task = this.#tasks.get(id);
    return task ? !task.ended : this.#costs.has(id);
  }

  get(id: string): MixTask {
    const task = this.#tasks.get(id);
    if (!task) throw new MixTaskNotFoundError(id);
    return task;
  }

  list(): MixTask[] {
    return [...this.#tasks.values()];
  }

  async patch(id: string, patch: MixTaskPatch): Promise<MixTask> {
    const task = this.get(id);
    await task.patch(patch);
    return task;
  }

  async stop(id: string): Promise<MixTask> {
    const task = this.get(id);
    await task.stop('stopped by request');
    return task;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.list().map((t) => t.stop('shutdown')));
    await Promise.all([...this.#relays].map((r) => this.stopClientRelay(r)));
  }

  #announce(change: MixStateChange): void {
    this.emit('state', change);
    const url = this.o.webhookUrl;
    if (!url) return;
    const body = JSON.stringify({ event: 'mixTask.state', ...change, at: new Date().toISOString() });
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(3000) }).catch((error: Error) =>
      this.o.logger.warn(`mix webhook failed: ${redactText(error.message)}`),
    );
  }
}
