import { spawn } from 'node:child_process';
import { coresUsed, parseProcStat, ProcessTreeCpu, treeOf } from './process-tree-cpu';

describe('process tree CPU', () => {
  it('parses /proc/<pid>/stat, names with spaces and parentheses included', () => {
    const line = '4242 (ffmpeg (mix) 2) S 4000 4242 4000 0 -1 4194304 500 0 0 0 1234 567 0 0 20 0 3 0 100 0 0';
    expect(parseProcStat(line)).toEqual({ pid: 4242, ppid: 4000, ticks: 1801 });
    expect(parseProcStat('garbage')).toBeUndefined();
  });

  it('finds a root and all its descendants', () => {
    const samples = [
      { pid: 1, ppid: 0, ticks: 0 },
      { pid: 10, ppid: 1, ticks: 0 },
      { pid: 11, ppid: 10, ticks: 0 },
      { pid: 12, ppid: 11, ticks: 0 },
      { pid: 20, ppid: 1, ticks: 0 },
    ];
    expect([...treeOf(10, samples)].sort()).toEqual([10, 11, 12]);
  });

  it('counts the ticks used between two readings, a child born in between in full', () => {
    const before = new Map([
      [1, 100],
      [2, 50],
    ]);
    const after = new Map([
      [1, 150],
      [3, 30],
    ]);
    // (50 + 30) ticks over 2 s = 0.4 cores; process 2 ended and is not counted.
    expect(coresUsed(before, after, 2)).toBeCloseTo(0.4);
    expect(coresUsed(before, after, 0)).toBe(0);
  });

  it('measures a busy child of this process (a real process, read from /proc)', async () => {
    const cpu = new ProcessTreeCpu();
    cpu.sample();
    const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 1500; while (Date.now() < end);']);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const used = cpu.sample();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // The child spins one core for the whole interval (about 1.2 s); the test process adds a little.
    expect(used).toBeGreaterThan(0.5);
    expect(used).toBeLessThan(2.2);
  });
});
