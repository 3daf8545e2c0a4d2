import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { LineLogger, TypedEmitter, UnavailableError } from '@gw/common';
import { leastLoaded, WorkerLoad } from './placement';
import { splitPortRange } from './port-ranges';

type Worker = types.Worker;
type WorkerLogLevel = types.WorkerLogLevel;

/** No worker has room for more streams (every one is at its load limit). */
export class SfuCapacityError extends UnavailableError {
  constructor() {
    super('every SFU worker is at its load limit', 'SFU_CAPACITY');
  }
}

export interface WorkerPoolOptions {
  /** Number of mediasoup workers (processes). */
  count: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  /** mediasoup worker log level. Default 'warn'. */
  logLevel?: WorkerLogLevel;
  /** Delay before re-creating a dead worker; doubles on each failed attempt up to 10 s. Default 200 ms. */
  respawnDelayMs?: number;
  /** Relative capacity of each slot (seed 001's 1:2:3). Default 1 for every slot. */
  weights?: number[];
  /** Streams (producers + consumers) one unit of weight may carry. Default 500. */
  maxLoadPerWeight?: number;
  logger: LineLogger;
}

/** One place in the pool. Its worker is replaced when it dies; the slot (and its port slice) stays. */
export interface WorkerSlot {
  readonly index: number;
  worker: Worker | undefined;
  readonly ports: { min: number; max: number };
  /** How many times this slot's worker died. */
  deaths: number;
  readonly weight: number;
  /** Streams (producers + consumers) currently on this slot's worker. */
  load: number;
}

export interface WorkerDiedEvent {
  slot: number;
  pid: number;
  error: Error;
  /** The dead worker; owners compare it with their router's worker. */
  worker: Worker;
}

interface WorkerPoolEvents extends Record<string, unknown[]> {
  /** A worker died; every router on it is gone. Owners rebuild elsewhere. */
  workerDied: [WorkerDiedEvent];
  /** A dead worker's slot has a new, running worker. */
  workerReplaced: [{ slot: number; pid: number }];
}

/**
 * Owns the mediasoup worker processes. Each worker is supervised: when one dies
 * the pool logs it, tells the owners (`workerDied`) and starts a replacement in
 * the same slot. close() is idempotent and ends every worker.
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #slots: WorkerSlot[];
  readonly #options: WorkerPoolOptions;
  readonly #respawnTimers = new Set<NodeJS.Timeout>();
  #closed = false;
  #closing: Promise<void> | undefined;

  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    try {
      await Promise.all(pool.#slots.map((slot) => pool.#startWorker(slot)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  private constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
    this.#slots = splitPortRange(options.rtcMinPort, options.rtcMaxPort, options.count).map((ports, index) => ({
      index,
      worker: undefined,
      ports,
      deaths: 0,
      weight: options.weights?.[index] ?? 1,
      load: 0,
    }));
  }

  get slots(): readonly WorkerSlot[] {
    return this.#slots;
  }

  /** Running workers, in slot order. */
  get workers(): Worker[] {
    return this.#slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
  }

  get closed(): boolean {
    return this.#closed;
  }

  get maxLoadPerWeight(): number {
    return this.#options.maxLoadPerWeight ?? 500;
  }

  /**
   * The running worker with the lowest relative load that has room for `extra`
   * streams, optionally outside `excludeSlots`. Throws SFU_CAPACITY when none has.
   */
  pickWorker(options: { extra?: number; excludeSlots?: Set<number> } = {}): Worker {
    if (this.workers.length === 0) throw new UnavailableError('no mediasoup worker is running', 'SFU_UNAVAILABLE');
    const candidates: WorkerLoad[] = this.#slots
      .filter((slot) => slot.worker && !options.excludeSlots?.has(slot.index))
      .map((slot) => ({ slot: slot.index, load: slot.load, weight: slot.weight }));
    const best = leastLoaded(candidates, this.maxLoadPerWeight, options.extra ?? 1);
    if (!best) throw new SfuCapacityError();
    return this.#slots[best.slot].worker!;
  }

  /** True when the worker can take `extra` more streams. */
  hasRoom(worker: Worker, extra = 1): boolean {
    const slot = this.slotOf(worker);
    return slot !== undefined && slot.load + extra <= this.maxLoadPerWeight * slot.weight;
  }

  slotOf(worker: Worker): WorkerSlot | undefined {
    return this.#slots.find((slot) => slot.worker === worker);
  }

  /**
   * Counts a producer or consumer against its worker until it closes. Every
   * stream the conference layer creates goes through here.
   */
  track(worker: Worker, stream: { observer: { once(event: 'close', listener: () => void): unknown } }): void {
    const slot = this.slotOf(worker);
    if (!slot) return;
    slot.load += 1;
    stream.observer.once('close', () => {
      if (slot.worker === worker) slot.load = Math.max(0, slot.load - 1);
    });
  }

  /** CPU seconds used so far by each running worker (user + system). */
  async cpuUsage(): Promise<{ slot: number; pid: number; cpuSeconds: number }[]> {
    const rows = await Promise.all(
      this.#slots.map(async (slot) => {
        const worker = slot.worker;
        if (!worker || worker.closed) return undefined;
        try {
          const usage = await worker.getResourceUsage();
          return { slot: slot.index, pid: worker.pid, cpuSeconds: (usage.ru_utime + usage.ru_stime) / 1000 };
        } catch {
          return undefined; // died between the check and the request
        }
      }),
    );
    return rows.filter((row): row is { slot: number; pid: number; cpuSeconds: number } => row !== undefined);
  }

  /**
   * Closes every worker and resolves once their processes are gone (mediasoup
   * 3.12 sends SIGTERM but has no event for the exit; we watch the pids and
   * SIGKILL any that outlive the grace). Idempotent.
   */
  close(graceMs = 2000): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    for (const timer of this.#respawnTimers) clearTimeout(timer);
    this.#respawnTimers.clear();
    const pids: number[] = [];
    for (const slot of this.#slots) {
      if (slot.worker) {
        pids.push(slot.worker.pid);
        slot.worker.close();
      }
      slot.worker = undefined;
    }
    this.#closing = Promise.all(pids.map((pid) => waitForExit(pid, graceMs))).then(() => undefined);
    return this.#closing;
  }

  async #startWorker(slot: WorkerSlot): Promise<void> {
    const worker = await mediasoup.createWorker({
      logLevel: this.#options.logLevel ?? 'warn',
      rtcMinPort: slot.ports.min,
      rtcMaxPort: slot.ports.max,
      appData: { slot: slot.index },
    });
    if (this.#closed) {
      worker.close();
      return;
    }
    slot.worker = worker;
    worker.on('died', (error) => this.#onDied(slot, worker, error));
    this.#options.logger.log(`mediasoup worker ${slot.index} running (pid ${worker.pid}, ports ${slot.ports.min}-${slot.ports.max})`);
  }

  #onDied(slot: WorkerSlot, worker: Worker, error: Error): void {
    if (slot.worker === worker) slot.worker = undefined;
    slot.load = 0;
    slot.deaths += 1;
    this.#options.logger.error(`mediasoup worker ${slot.index} (pid ${worker.pid}) died: ${error.message}`);
    this.emit('workerDied', { slot: slot.index, pid: worker.pid, error, worker });
    this.#scheduleRespawn(slot, this.#options.respawnDelayMs ?? 200);
  }

  #scheduleRespawn(slot: WorkerSlot, delayMs: number): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#respawnTimers.delete(timer);
      if (this.#closed) return;
      this.#startWorker(slot).then(
        () => {
          if (slot.worker) this.emit('workerReplaced', { slot: slot.index, pid: slot.worker.pid });
        },
        (error: Error) => {
          this.#options.logger.error(`could not replace mediasoup worker ${slot.index}: ${error.message}`);
          this.#scheduleRespawn(slot, Math.min(delayMs * 2, 10000));
        },
      );
    }, delayMs);
    this.#respawnTimers.add(timer);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves when `pid` has exited; SIGKILLs it after graceMs. */
async function waitForExit(pid: number, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
