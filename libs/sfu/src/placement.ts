/**
 * Placement by load (seed 001: one front, work spread over processes in
 * proportion to each one's allowed load). Pure.
 *
 * Load is counted in units of media streams on a worker: one per producer, one
 * per consumer (pipe producers included). A worker of weight w may carry up to
 * `limitPerWeight × w` units, and its *relative* load is `load / w`: a worker of
 * weight 2 takes twice the work of one of weight 1 before it counts as busier.
 */
export interface WorkerLoad {
  slot: number;
  load: number;
  weight: number;
}

/** Units a worker of this weight may carry. */
export function capacityOf(worker: WorkerLoad, limitPerWeight: number): number {
  return limitPerWeight * worker.weight;
}

export function hasRoom(worker: WorkerLoad, limitPerWeight: number, extra = 1): boolean {
  return worker.load + extra <= capacityOf(worker, limitPerWeight);
}

/**
 * The worker with the lowest relative load that still has room for `extra`
 * units, among `candidates`; ties go to the lower slot. Undefined when all are full.
 */
export function leastLoaded(candidates: WorkerLoad[], limitPerWeight: number, extra = 1): WorkerLoad | undefined {
  let best: WorkerLoad | undefined;
  for (const worker of candidates) {
    if (worker.weight <= 0 || !hasRoom(worker, limitPerWeight, extra)) continue;
    if (!best || worker.load / worker.weight < best.load / best.weight) best = worker;
  }
  return best;
}
