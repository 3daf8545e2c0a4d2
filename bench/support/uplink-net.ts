/**
 * The uplink bench's network (bench/uplink.bench.ts): a host with three ways
 * to the gateway, built from Linux network namespaces joined by veth pairs.
 *
 *   root namespace (the bench, the viewer) ── gwup-root ─┐ 10.73.255.1 ↔ .2
 *                                                        gwup-gw: the gateway on 10.73.0.1 (lo)
 *          direct 10.73.1.2 ↔ 10.73.1.1 ─────────────────┤ d0
 *   gwup-host ─ lan1 10.73.11.2 ↔ 10.73.11.1 ─ gwup-h1 ─ wan 10.73.2.2 ↔ 10.73.2.1 a0
 *             └ lan2 10.73.12.2 ↔ 10.73.12.1 ─ gwup-h2 ─ wan 10.73.3.2 ↔ 10.73.3.1 b0
 *
 * The host namespace (the encoder and our sender) reaches the gateway's
 * address only over its direct link; the helper namespaces (each running our
 * helper, which relays at the application level: no forwarding) only over
 * their own `wan` link. A path's shape is on its bottleneck link, both
 * directions: a tbf rate limit, and loss as an nftables random drop (this
 * kernel may have no netem qdisc; so there is no added delay either).
 *
 * Names are fixed (gwup-*): one run at a time. Whatever a crashed run left is
 * removed before a new one builds (`clear`), and `destroy` removes all of it:
 * the namespaces (with their veths, qdiscs and nftables tables) and the root
 * namespace's veth.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';

export const NS = { gw: 'gwup-gw', host: 'gwup-host', h1: 'gwup-h1', h2: 'gwup-h2' } as const;
const ROOT_LINK = 'gwup-root';
/** The gateway's address, reachable from every namespace (and from the root one). */
export const GATEWAY_ADDRESS = '10.73.0.1';
const LOSS_TABLE = 'gwup_loss';
const CUT_TABLE = 'gwup_cut';

export type PathName = 'direct' | 'h1' | 'h2';

/** Where each path's bottleneck is: [namespace, device] for the uplink direction, then the downlink one. */
const BOTTLENECK: Record<PathName, { up: [string, string]; down: [string, string]; ns: string; dev: string }> = {
  direct: { up: [NS.host, 'direct'], down: [NS.gw, 'd0'], ns: NS.host, dev: 'direct' },
  h1: { up: [NS.h1, 'wan'], down: [NS.gw, 'a0'], ns: NS.h1, dev: 'wan' },
  h2: { up: [NS.h2, 'wan'], down: [NS.gw, 'b0'], ns: NS.h2, dev: 'wan' },
};

/** The address the gateway sees each path come from. */
export const PATH_ADDRESS: Record<PathName, string> = { direct: '10.73.1.2', h1: '10.73.2.2', h2: '10.73.3.2' };
/** Where the host reaches each helper (its LAN address), and the helper's own network address (what it relays from). */
export const HELPER = { h1: { lan: '10.73.11.1', wan: '10.73.2.2' }, h2: { lan: '10.73.12.1', wan: '10.73.3.2' } } as const;

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}): ${(r.stderr ?? '').trim()}`);
  return r.stdout;
}

function tryRun(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : undefined;
}

const ip = (...args: string[]) => run('ip', args);
const nft = (ns: string, ruleset: string) => run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], ruleset);

/** Whether the kernel has the netem qdisc (for the method text: this bench shapes with tbf and nftables either way). */
export function netemAvailable(): boolean {
  return spawnSync('tc', ['-n', NS.gw, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']).status === 0 && (tryRun('tc', ['-n', NS.gw, 'qdisc', 'del', 'dev', 'lo', 'root']), true);
}

/**
 * Removes everything this module creates (a crashed run's leftovers, or this
 * run's): each gwup-* namespace after SIGKILLing what still runs in it (only
 * this bench starts processes there), and the root namespace's veth.
 */
export function clear(): void {
  for (const name of Object.values(NS)) {
    // The tables and qdiscs go with the namespace; removed first all the same, so nothing outlives a namespace kept by a stuck process.
    tryRun('ip', ['netns', 'exec', name, 'nft', 'delete', 'table', 'inet', LOSS_TABLE]);
    tryRun('ip', ['netns', 'exec', name, 'nft', 'delete', 'table', 'inet', CUT_TABLE]);
    for (const pid of (tryRun('ip', ['netns', 'pids', name]) ?? '').split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    tryRun('ip', ['netns', 'del', name]);
  }
  tryRun('ip', ['link', 'del', ROOT_LINK]);
}

/** Refuses to build over addresses the machine already uses (10.73.0.0/16). */
function assertBlockFree(): void {
  const routes = JSON.parse(run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as { dst?: string }[];
  const addresses = JSON.parse(run('ip', ['-j', '-4', 'addr', 'show'])) as { addr_info: { local: string }[] }[];
  const used = [...routes.map((r) => r.dst ?? ''), ...addresses.flatMap((a) => a.addr_info.map((i) => i.local))].filter((x) => x.startsWith('10.73.'));
  if (used.length) throw new Error(`10.73.0.0/16 is in use on this machine (${used.join(', ')}); the uplink bench needs it`);
}

function addNamespace(name: string): void {
  ip('netns', 'add', name);
  run('ip', ['netns', 'exec', name, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  ip('-n', name, 'link', 'set', 'lo', 'up');
}

/** A veth pair between two namespaces (or the root one, `undefined`), each end with its /30 address, both up. */
function link(a: { ns?: string; dev: string; address: string }, b: { ns: string; dev: string; address: string }): void {
  const on = (ns: string | undefined) => (ns ? ['-n', ns] : []);
  ip(...on(a.ns), 'link', 'add', 'name', a.dev, 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns);
  ip(...on(a.ns), 'addr', 'add', `${a.address}/30`, 'dev', a.dev);
  ip(...on(a.ns), 'link', 'set', a.dev, 'up');
  ip('-n', b.ns, 'addr', 'add', `${b.address}/30`, 'dev', b.dev);
  ip('-n', b.ns, 'link', 'set', b.dev, 'up');
}

/** Builds the network (after clearing leftovers). On a failure half-way, removes what it built and throws. */
export function build(): void {
  clear();
  assertBlockFree();
  try {
    for (const name of Object.values(NS)) addNamespace(name);
    ip('-n', NS.gw, 'addr', 'add', `${GATEWAY_ADDRESS}/32`, 'dev', 'lo');
    link({ dev: ROOT_LINK, address: '10.73.255.1' }, { ns: NS.gw, dev: 'root0', address: '10.73.255.2' });
    ip('route', 'add', `${GATEWAY_ADDRESS}/32`, 'via', '10.73.255.2', 'dev', ROOT_LINK);
    link({ ns: NS.host, dev: 'direct', address: PATH_ADDRESS.direct }, { ns: NS.gw, dev: 'd0', address: '10.73.1.1' });
    ip('-n', NS.host, 'route', 'add', `${GATEWAY_ADDRESS}/32`, 'via', '10.73.1.1', 'dev', 'direct', 'src', PATH_ADDRESS.direct);
    link({ ns: NS.host, dev: 'lan1', address: '10.73.11.2' }, { ns: NS.h1, dev: 'lan', address: HELPER.h1.lan });
    link({ ns: NS.host, dev: 'lan2', address: '10.73.12.2' }, { ns: NS.h2, dev: 'lan', address: HELPER.h2.lan });
    link({ ns: NS.h1, dev: 'wan', address: HELPER.h1.wan }, { ns: NS.gw, dev: 'a0', address: '10.73.2.1' });
    link({ ns: NS.h2, dev: 'wan', address: HELPER.h2.wan }, { ns: NS.gw, dev: 'b0', address: '10.73.3.1' });
    ip('-n', NS.h1, 'route', 'add', `${GATEWAY_ADDRESS}/32`, 'via', '10.73.2.1', 'dev', 'wan');
    ip('-n', NS.h2, 'route', 'add', `${GATEWAY_ADDRESS}/32`, 'via', '10.73.3.1', 'dev', 'wan');
  } catch (error) {
    clear();
    throw error;
  }
}

/**
 * Shapes a path's bottleneck, both directions: `rateKbit` with a tbf qdisc
 * (bucket: 20 ms of the rate, at least 3000 bytes; queue 200 ms, as
 * test/support/netns.ts shapes), `lossPercent` with an nftables table in the
 * path's namespace dropping `numgen random mod 100 < N` of its packets each way.
 */
export function shape(path: PathName, s: { rateKbit: number; lossPercent?: number }): void {
  const b = BOTTLENECK[path];
  const burst = Math.max(3000, Math.round((s.rateKbit * 1000) / 8 / 50));
  for (const [ns, dev] of [b.up, b.down]) run('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${s.rateKbit}kbit`, 'burst', String(burst), 'latency', '200ms']);
  if (s.lossPercent) {
    const n = Math.round(s.lossPercent);
    nft(
      b.ns,
      `table inet ${LOSS_TABLE} {
  chain out { type filter hook output priority filter; policy accept; oifname "${b.dev}" numgen random mod 100 < ${n} drop; }
  chain in { type filter hook input priority filter; policy accept; iifname "${b.dev}" numgen random mod 100 < ${n} drop; }
}
`,
    );
  }
}

/** Cuts a path: every packet out of or into its bottleneck link is dropped (nftables, before the loss table). */
export function cut(path: PathName): void {
  const b = BOTTLENECK[path];
  nft(
    b.ns,
    `table inet ${CUT_TABLE} {
  chain out { type filter hook output priority filter - 10; policy accept; oifname "${b.dev}" drop; }
  chain in { type filter hook input priority filter - 10; policy accept; iifname "${b.dev}" drop; }
}
`,
  );
}

/** Removes the cut (nothing if there is none). */
export function uncut(path: PathName): void {
  tryRun('ip', ['netns', 'exec', BOTTLENECK[path].ns, 'nft', 'delete', 'table', 'inet', CUT_TABLE]);
}

/** Bytes sent out of a path's bottleneck link, uplink direction (its counter, for the rate actually carried). */
export function txBytes(path: PathName): number {
  const [ns, dev] = BOTTLENECK[path].up;
  const stats = JSON.parse(run('ip', ['-n', ns, '-j', '-s', 'link', 'show', 'dev', dev])) as { stats64?: { tx: { bytes: number } } }[];
  return stats[0]?.stats64?.tx.bytes ?? NaN;
}

/** A process started in a namespace (`ip netns exec` execs it, so the pid is the command's own). */
export interface NsProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM by pid, SIGKILL after `timeoutMs`; resolves once it has exited. */
  stop(timeoutMs?: number): Promise<void>;
}

export function exec(ns: string, cmd: string, args: string[], onLine?: (line: string) => void): NsProcess {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    if (!onLine) return void (output = (output + d).slice(-20000));
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) onLine(line);
  });
  child.stderr!.on('data', (d: Buffer) => (output = (output + d).slice(-20000)));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  return {
    pid: child.pid ?? -1,
    child,
    output: () => output,
    async stop(timeoutMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // gone already
      }
      const timer = setTimeout(() => {
        try {
          process.kill(child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }, timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
