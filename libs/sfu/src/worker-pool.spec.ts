import { splitPortRange } from './port-ranges';
import { WorkerPool } from './worker-pool';
import { isRunning } from '../../../bench/support/processes';

const logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };

describe('splitPortRange', () => {
  it('gives each worker a disjoint slice covering the range', () => {
    expect(splitPortRange(40000, 40999, 3)).toEqual([
      { min: 40000, max: 40332 },
      { min: 40333, max: 40665 },
      { min: 40666, max: 40999 },
    ]);
    expect(() => splitPortRange(40000, 40000, 2)).toThrow(RangeError);
  });
});

// Real mediasoup workers (built from source by scripts/setup.sh).
describe('WorkerPool', () => {
  it('replaces a worker that dies and tells the owners', async () => {
    const pool = await WorkerPool.create({ count: 2, rtcMinPort: 45000, rtcMaxPort: 45099, respawnDelayMs: 50, logger });
    try {
      expect(pool.workers).toHaveLength(2);
      const victim = pool.workers[1];
      const router = await victim.createRouter({ mediaCodecs: [] });
      const died = new Promise((resolve) => pool.once('workerDied', resolve));
      const replaced = new Promise<{ slot: number; pid: number }>((resolve) => pool.once('workerReplaced', resolve));
      process.kill(victim.pid, 'SIGKILL');

      await expect(died).resolves.toMatchObject({ slot: 1, pid: victim.pid });
      expect(router.closed).toBe(true);
      const replacement = await replaced;
      expect(replacement.slot).toBe(1);
      expect(replacement.pid).not.toBe(victim.pid);
      expect(pool.slots[1].deaths).toBe(1);
      expect(pool.workers.map((w) => w.pid)).toContain(replacement.pid);
      // The replacement is a working worker.
      const fresh = await pool.workers[1].createRouter({ mediaCodecs: [] });
      expect(fresh.closed).toBe(false);
      const usage = await pool.cpuUsage();
      expect(usage).toHaveLength(2);
    } finally {
      const pids = pool.workers.map((w) => w.pid);
      await Promise.all([pool.close(), pool.close()]); // idempotent
      for (const pid of pids) expect(isRunning(pid)).toBe(false);
    }
  });
});
