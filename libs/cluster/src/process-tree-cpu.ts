import { readdirSync, readFileSync } from 'node:fs';

/** One process as /proc/<pid>/stat tells it: its parent and the CPU it used (clock ticks, user + system). */
export interface ProcSample {
  pid: number;
  ppid: number;
  ticks: number;
}

/** Linux's USER_HZ: /proc counts CPU time in 1/100 s on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/** Parses one /proc/<pid>/stat line (the command name may hold spaces and parentheses). */
export function parseProcStat(line: string): ProcSample | undefined {
  const close = line.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number(line.slice(0, line.indexOf(' ')));
  const fields = line.slice(close + 2).split(' ');
  // After the name: state(0) ppid(1) … utime(11) stime(12).
  const [ppid, utime, stime] = [Number(fields[1]), Number(fields[11]), Number(fields[12])];
  return Number.isFinite(pid) && Number.isFinite(ppid) && Number.isFinite(utime + stime) ? { pid, ppid, ticks: utime + stime } : undefined;
}

/** The pids of `root` and every descendant of it among `samples`. */
export function treeOf(root: number, samples: ProcSample[]): Set<number> {
  const children = new Map<number, number[]>();
  for (const s of samples) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const tree = new Set<number>([root]);
  const queue = [root];
  while (queue.length) for (const child of children.get(queue.shift()!) ?? []) if (!tree.has(child)) tree.add(child), queue.push(child);
  return tree;
}

/**
 * CPU used by one process and all its descendants between two readings, in
 * cores: the sum over the processes alive at the second reading of the ticks
 * each used since the first (all of them, for one born in between). A child
 * that ended in between takes its last interval's CPU with it: at one reading
 * a second, that is what a heartbeat can afford to miss.
 */
export function coresUsed(before: Map<number, number>, after: Map<number, number>, seconds: number): number {
  if (!(seconds > 0)) return 0;
  let ticks = 0;
  for (const [pid, now] of after) ticks += Math.max(0, now - (before.get(pid) ?? 0));
  return ticks / TICKS_PER_SECOND / seconds;
}

/**
 * How many cores this node's process tree uses (the gateway, its mediasoup
 * workers, ffmpeg mixers and decoders, the origin and coturn), read from /proc.
 * Each `sample()` gives the average since the previous one.
 */
export class ProcessTreeCpu {
  #last: { at: number; ticks: Map<number, number> } | undefined;

  constructor(private readonly root = process.pid) {}

  sample(): number {
    const ticks = this.#read();
    const at = performance.now();
    const previous = this.#last;
    this.#last = { at, ticks };
    return previous ? coresUsed(previous.ticks, ticks, (at - previous.at) / 1000) : 0;
  }

  #read(): Map<number, number> {
    const samples: ProcSample[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const s = parseProcStat(readFileSync(`/proc/${entry}/stat`, 'utf8'));
        if (s) samples.push(s);
      } catch {
        // It ended while we read.
      }
    }
    const tree = treeOf(this.root, samples);
    return new Map(samples.filter((s) => tree.has(s.pid)).map((s) => [s.pid, s.ticks]));
  }
}
