import * as mediasoup from 'mediasoup';
import type { Worker, WorkerLogLevel } from 'mediasoup/node/lib/types';
import { LineLogger, TypedEmitter, UnavailableError } from '@gw/common';
import { splitPortRange } from './port-ranges';

export interface WorkerPoolOptions {
  /** Number of mediasoup workers (processes). */
  count: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  /** mediasoup worker log level. Default 'warn'. */
  logLevel?: WorkerLogLevel;
  /** Delay before re-creating a dead worker; doubles on each failed attempt up to 10 s. Default 200 ms. */
  respawnDelayMs?: number;
  logger: LineLogger;
}

/** One place in the pool. Its worker is replaced when it dies; the slot (and its port slice) stays. */
export interface WorkerSlot {
  readonly index: number;
  worker: Worker | undefined;
  readonly ports: { min: number; max: number };
  /** How many times this slot's worker died. */
  deaths: number;
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

  /** A running worker for new work; placement by load refines this choice. */
  anyWorker(): Worker {
    const worker = this.workers[0];
    if (!worker) throw new UnavailableError('no mediasoup worker is running', 'SFU_UNAVAILABLE');
    return worker;
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
