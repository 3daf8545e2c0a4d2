import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { CHROMIUM_PATH, launchChromium as launchDebianChromium } from '../../bench/support/chromium';
import { RunningGateway, startGateway, StartGatewayOptions } from '../../bench/support/gateway';
import { isRunning } from '../../bench/support/processes';

/**
 * Simulated networks for tests: Linux network namespaces joined by veth pairs,
 * with nftables NAT and firewalls in router namespaces (docs/testing-networks.md).
 *
 *   host (the test process) ──host link──┐
 *                                        internet namespace: bridge br0, 10.B.0.1, 10.B.0.2 … (servers)
 *                        ┌───────────────┼───────────────┐
 *              router (10.B.0.101)  router (10.B.0.102)  …     NAT / firewall, nftables table "gwnet"
 *                        │               │
 *              client (10.B.1.2)    client (10.B.2.2)          Chromium, probes
 *
 * Everything lives in namespaces named `gwnet-<pid>-<n>-…`, so parallel runs
 * never clash and leftovers of a dead run are recognised by their pid. The only
 * thing in the host's own namespace is the optional host link (a veth named
 * `gwn-<pid base 36>-<n>` and a route to the internet's server subnet), which
 * goes away with the internet namespace.
 */

/** Every namespace this module creates starts with it. */
export const NAMESPACE_PREFIX = 'gwnet-';
/** The host end of a host link starts with it (interface names are at most 15 characters). */
const HOST_LINK_PREFIX = 'gwn-';
/** The nftables table in each router namespace. */
const ROUTER_TABLE = 'gwnet';
/** The nftables table that drops packets for `shape({ lossPercent })` when the kernel has no netem. */
const SHAPE_TABLE = 'gwnetshape';
/** nftables table (in a client's router) that cuts the client off from chosen addresses (`cut`). */
const CUT_TABLE = 'gwnetcut';
const MAX_CLIENTS = 99;

export type NetnsErrorCode = 'COMMAND_FAILED' | 'NO_FREE_BLOCK' | 'NETEM_UNAVAILABLE' | 'DESTROYED' | 'BAD_NAME' | 'TOO_MANY_CLIENTS';

export class NetnsError extends Error {
  constructor(
    readonly code: NetnsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NetnsError';
  }
}

/**
 * What sits between a client and the internet.
 * - `eim`: NAT with endpoint-independent mapping (one public port per private
 *   socket, whatever the destination: Linux masquerade keeps the source port),
 *   address-and-port-dependent filtering (only replies get in). STUN hole
 *   punching works between two of them.
 * - `symmetric`: NAT with a new random public port per destination
 *   (masquerade fully-random). Hole punching fails.
 * - `firewall`: NAT that forwards only TCP to `allowTcpPorts` (and ICMP); all
 *   UDP and every other TCP port is dropped. Include the gateway's HTTP port
 *   if the client must load its pages and signal.
 */
export type RouterSpec = { kind: 'eim' } | { kind: 'symmetric' } | { kind: 'firewall'; allowTcpPorts: number[] };

export interface NetworkOptions {
  /**
   * Second octet of the 10.B.0.0/16 block the network uses. Default: the
   * first block from 99 up that the host neither routes nor holds an address
   * in (with a host link; 99 without one, where nothing can clash).
   */
  block?: number;
  /** How many server addresses the internet namespace holds (10.B.0.1, 10.B.0.2, …). Default 2. */
  serverAddresses?: number;
  /**
   * Link the host (the test process) to the internet namespace, so it reaches
   * the server addresses (the gateway's API), while the clients still cannot
   * reach the host. Default true.
   */
  hostLink?: boolean;
}

export interface InternetNamespace {
  /** The namespace's name (`ip netns exec <name> …`). */
  readonly name: string;
  /** The first server address: where the gateway listens. */
  readonly address: string;
  /** All server addresses, `address` first. */
  readonly addresses: readonly string[];
}

export interface Router {
  readonly namespace: string;
  readonly spec: RouterSpec;
  /** Its public address on the internet (what servers see as the client's source). */
  readonly wanAddress: string;
  /** Its address on the client's LAN (the client's default gateway). */
  readonly lanAddress: string;
}

export interface Client {
  readonly name: string;
  readonly namespace: string;
  /** The client's private address. */
  readonly address: string;
  readonly router: Router;
}

/**
 * The client's access link, both directions (client → router and router →
 * client). Default: nothing. Loss and rate work on any kernel (loss is an
 * nftables random drop, rate a tbf qdisc, when netem is missing); delay needs
 * the netem qdisc, otherwise `shape` throws NETEM_UNAVAILABLE.
 */
export interface LinkShape {
  /** Packets dropped, in percent of each direction. */
  lossPercent?: number;
  /** Added one-way delay. */
  delayMs?: number;
  /** Delay jitter (netem only). */
  jitterMs?: number;
  /** Rate limit of each direction. */
  rateKbit?: number;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process started in a namespace; its owner (the network, or whoever called exec) ends it by pid. */
export interface NetnsProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  /** Everything it printed on stderr so far. */
  stderr(): string;
  readonly exited: Promise<ProcessExit>;
  /** SIGTERM, then SIGKILL after `timeoutMs` (default 5000); resolves once it has exited. */
  stop(timeoutMs?: number): Promise<ProcessExit>;
}

/** Networks not yet destroyed, each with its synchronous cleanup (for exit and signals). */
const live = new Map<TestNetwork, () => void>();
let created = 0;
let reaperStarted = false;
let exitHooked = false;

/** A simulated internet with clients behind routers; one owner of every namespace, process, browser and gateway in it. */
export class TestNetwork {
  readonly id: string;
  readonly block: number;
  readonly internet: InternetNamespace;
  readonly #clients = new Map<string, Client>();
  /** Namespaces in creation order; removed in reverse. */
  readonly #namespaces: string[] = [];
  readonly #processes = new Set<NetnsProcess>();
  readonly #browsers = new Set<Browser>();
  readonly #gateways = new Set<RunningGateway>();
  readonly #shaped = new Set<Client>();
  readonly #workDir: string;
  #hostLink: string | undefined;
  #destroying: Promise<void> | undefined;

  private constructor(id: string, block: number, internet: InternetNamespace, workDir: string) {
    this.id = id;
    this.block = block;
    this.internet = internet;
    this.#workDir = workDir;
  }

  /**
   * Builds the internet namespace (and the host link). Also removes what
   * aborted runs left behind (sweepStale) and makes sure this run's leftovers
   * go even if the process is killed (a reaper process waits for its end).
   */
  static async create(options: NetworkOptions = {}): Promise<TestNetwork> {
    sweepStale();
    startReaper();
    hookExit();
    const { serverAddresses = 2, hostLink = true } = options;
    const sequence = ++created;
    const id = `${NAMESPACE_PREFIX}${process.pid}-${sequence}`;
    const inet = `${id}-inet`;
    let link: string | undefined;
    let block = options.block ?? 99;
    if (hostLink) {
      link = `${HOST_LINK_PREFIX}${process.pid.toString(36)}-${sequence}`;
      ip('link', 'add', 'name', link, 'type', 'veth', 'peer', 'name', `${link}p`);
      try {
        block = claimBlock(link, options.block);
      } catch (error) {
        tryCommand('ip', ['link', 'del', link]);
        throw error;
      }
    }
    const addresses = Array.from({ length: serverAddresses }, (_, i) => `10.${block}.0.${i + 1}`);
    const network = new TestNetwork(id, block, { name: inet, address: addresses[0], addresses }, join(processWorkDir(), String(sequence)));
    network.#hostLink = link;
    live.set(network, () => network.#destroySync());
    try {
      mkdirSync(network.#workDir, { recursive: true });
      network.#addNamespace(inet);
      ip('-n', inet, 'link', 'add', 'name', 'br0', 'type', 'bridge');
      ip('-n', inet, 'link', 'set', 'br0', 'up');
      for (const address of addresses) ip('-n', inet, 'addr', 'add', `${address}/24`, 'dev', 'br0');
      if (link) {
        ip('link', 'set', `${link}p`, 'netns', inet, 'name', 'host0');
        ip('-n', inet, 'link', 'set', 'host0', 'up');
        ip('-n', inet, 'route', 'add', `10.${block}.255.1/32`, 'dev', 'host0');
      }
      return network;
    } catch (error) {
      network.#destroySync();
      throw error;
    }
  }

  get clients(): ReadonlyMap<string, Client> {
    return this.#clients;
  }

  /** The client named `name`; throws if there is none. */
  client(name: string): Client {
    const client = this.#clients.get(name);
    if (!client) throw new NetnsError('BAD_NAME', `no client ${name} in ${this.id}`);
    return client;
  }

  /**
   * Adds a client namespace (`<id>-<name>`, address 10.B.k.2) behind its own
   * router namespace (`<id>-<name>-nat`, public address 10.B.0.(100+k)).
   */
  addClient(name: string, router: RouterSpec): Client {
    this.#assertOpen();
    if (!/^[a-z][a-z0-9]{0,11}$/.test(name) || this.#clients.has(name)) {
      throw new NetnsError('BAD_NAME', `client name ${JSON.stringify(name)} must be new, 1-12 of [a-z0-9], starting with a letter`);
    }
    const k = this.#clients.size + 1;
    if (k > MAX_CLIENTS) throw new NetnsError('TOO_MANY_CLIENTS', `at most ${MAX_CLIENTS} clients per network`);
    const b = this.block;
    const client: Client = {
      name,
      namespace: `${this.id}-${name}`,
      address: `10.${b}.${k}.2`,
      router: { namespace: `${this.id}-${name}-nat`, spec: router, wanAddress: `10.${b}.0.${100 + k}`, lanAddress: `10.${b}.${k}.1` },
    };
    const r = client.router.namespace;
    const c = client.namespace;
    this.#addNamespace(r);
    this.#addNamespace(c);
    sysctl(r, 'net.ipv4.ip_forward=1');
    ip('-n', this.internet.name, 'link', 'add', 'name', `w${k}`, 'type', 'veth', 'peer', 'name', 'wan0', 'netns', r);
    ip('-n', this.internet.name, 'link', 'set', `w${k}`, 'master', 'br0', 'up');
    ip('-n', r, 'addr', 'add', `${client.router.wanAddress}/24`, 'dev', 'wan0');
    ip('-n', r, 'link', 'set', 'wan0', 'up');
    ip('-n', r, 'route', 'add', 'default', 'via', this.internet.address);
    ip('-n', r, 'link', 'add', 'name', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', c);
    ip('-n', r, 'addr', 'add', `${client.router.lanAddress}/24`, 'dev', 'lan0');
    ip('-n', r, 'link', 'set', 'lan0', 'up');
    ip('-n', c, 'addr', 'add', `${client.address}/24`, 'dev', 'eth0');
    ip('-n', c, 'link', 'set', 'eth0', 'up');
    ip('-n', c, 'route', 'add', 'default', 'via', client.router.lanAddress);
    command('ip', ['netns', 'exec', r, 'nft', '-f', '-'], routerRuleset(router));
    this.#clients.set(name, client);
    return client;
  }

  /**
   * Starts `cmd args` inside namespace `ns` (`ip netns exec`, which execs, so
   * the pid is the command's). The network ends it on destroy() if its caller
   * has not.
   */
  exec(ns: string, cmd: string, args: string[] = [], options: { env?: NodeJS.ProcessEnv } = {}): NetnsProcess {
    this.#assertOpen();
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    const handle: NetnsProcess = {
      pid: child.pid ?? -1,
      child,
      stdout: () => out,
      stderr: () => err,
      exited,
      async stop(timeoutMs = 5000) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          await exited;
          clearTimeout(timer);
        }
        return exited;
      },
    };
    this.#processes.add(handle);
    void exited.then(() => this.#processes.delete(handle));
    return handle;
  }

  /** Runs a short command in `ns` to its end (SIGKILL after `timeoutMs`, default 10000), with `input` on its stdin. */
  async run(ns: string, cmd: string, args: string[] = [], options: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const proc = this.exec(ns, cmd, args);
    proc.child.stdin!.end(options.input ?? '');
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), options.timeoutMs ?? 10000);
    const { code } = await proc.exited;
    clearTimeout(timer);
    return { code, stdout: proc.stdout(), stderr: proc.stderr() };
  }

  /**
   * The built gateway (dist/) in the internet namespace, bound to
   * internet.address (HOST, PUBLIC_HOST, RTC_LISTEN_IP); the host reaches its
   * API there through the host link. Stopped on destroy() if still running.
   */
  async startGateway(options: Omit<StartGatewayOptions, 'host' | 'wrapper'> = {}): Promise<RunningGateway> {
    this.#assertOpen();
    const gateway = await startGateway({ ...options, host: this.internet.address, wrapper: ['ip', 'netns', 'exec', this.internet.name] });
    this.#gateways.add(gateway);
    gateway.child.once('exit', () => this.#gateways.delete(gateway));
    return gateway;
  }

  /**
   * Debian's Chromium inside `client`'s namespace, with the flags of
   * bench/support/chromium.ts plus `extraArgs`. Playwright drives it over a
   * pipe (inherited file descriptors), which crosses namespaces. Closed on
   * destroy() if still open.
   */
  async launchChromium(client: Client, extraArgs: string[] = []): Promise<Browser> {
    this.#assertOpen();
    const wrapper = join(this.#workDir, `chromium-${client.name}.sh`);
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec '${client.namespace}' ${CHROMIUM_PATH} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const browser = await launchDebianChromium(extraArgs, { executablePath: wrapper });
    this.#browsers.add(browser);
    browser.once('disconnected', () => this.#browsers.delete(browser));
    return browser;
  }

  /** Shapes `client`'s access link (replacing an earlier shape); see LinkShape. */
  shape(client: Client, shape: LinkShape): void {
    this.#assertOpen();
    this.unshape(client);
    const links: [string, string][] = [
      [client.namespace, 'eth0'],
      [client.router.namespace, 'lan0'],
    ];
    this.#shaped.add(client);
    if (netemAvailable(this.internet.name)) {
      const netem: string[] = [];
      if (shape.delayMs) netem.push('delay', `${shape.delayMs}ms`, ...(shape.jitterMs ? [`${shape.jitterMs}ms`] : []));
      if (shape.lossPercent) netem.push('loss', `${shape.lossPercent}%`);
      if (shape.rateKbit) netem.push('rate', `${shape.rateKbit}kbit`);
      if (netem.length) for (const [ns, dev] of links) command('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'netem', ...netem]);
      return;
    }
    if (shape.delayMs || shape.jitterMs) {
      throw new NetnsError('NETEM_UNAVAILABLE', 'this kernel has no netem qdisc ("tc qdisc add … netem": unknown qdisc kind), so delay cannot be simulated; loss and rate can');
    }
    if (shape.rateKbit) {
      // tbf needs a bucket of at least one full packet; 20 ms of the rate otherwise.
      const burst = Math.max(3000, Math.round((shape.rateKbit * 1000) / 8 / 50));
      for (const [ns, dev] of links) command('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${shape.rateKbit}kbit`, 'burst', String(burst), 'latency', '200ms']);
    }
    if (shape.lossPercent) {
      const perMille = Math.round(shape.lossPercent * 10);
      command(
        'ip',
        ['netns', 'exec', client.router.namespace, 'nft', '-f', '-'],
        `table ip ${SHAPE_TABLE} {
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    iifname "lan0" numgen random mod 1000 < ${perMille} drop
    oifname "lan0" numgen random mod 1000 < ${perMille} drop
  }
}
`,
      );
    }
  }

  /** Removes `client`'s shape (qdiscs and the loss table); nothing if it has none. */
  unshape(client: Client): void {
    if (!this.#shaped.delete(client)) return;
    tryCommand('tc', ['-n', client.namespace, 'qdisc', 'del', 'dev', 'eth0', 'root']);
    tryCommand('tc', ['-n', client.router.namespace, 'qdisc', 'del', 'dev', 'lan0', 'root']);
    tryCommand('ip', ['netns', 'exec', client.router.namespace, 'nft', 'delete', 'table', 'ip', SHAPE_TABLE]);
  }

  /**
   * Cuts `client` off from `addresses` (both directions, every protocol), in
   * its router's forward path: e.g. from another client's router (its direct
   * path to that peer) or from the gateway's address but for some ports
   * (`exceptUdpPorts`, e.g. the TURN port; `exceptTcpPorts`, e.g. signalling). Replaces an earlier cut of the
   * client; `uncut` removes it (as does destroy).
   */
  cut(client: Client, addresses: string[], options: { protocol?: 'udp' | 'tcp'; exceptUdpPorts?: number[]; exceptTcpPorts?: number[] } = {}): void {
    this.#assertOpen();
    this.uncut(client);
    for (const a of addresses) if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) throw new NetnsError('BAD_NAME', `not an IPv4 address: ${a}`);
    const set = `{ ${addresses.join(', ')} }`;
    const proto = options.protocol ? `meta l4proto ${options.protocol} ` : '';
    const rules: string[] = [];
    for (const [l4, ports] of [['udp', options.exceptUdpPorts], ['tcp', options.exceptTcpPorts]] as const) {
      if (!ports?.length) continue;
      const list = `{ ${ports.map((p) => String(Math.trunc(p))).join(', ')} }`;
      rules.push(`ip daddr ${set} ${l4} dport ${list} accept`, `ip saddr ${set} ${l4} sport ${list} accept`);
    }
    rules.push(`ip daddr ${set} ${proto}drop`, `ip saddr ${set} ${proto}drop`);
    command(
      'ip',
      ['netns', 'exec', client.router.namespace, 'nft', '-f', '-'],
      `table ip ${CUT_TABLE} {
  chain forward {
    type filter hook forward priority filter - 20; policy accept;
${rules.map((r) => `    ${r}`).join('\n')}
  }
}
`,
    );
  }

  /** Removes `client`'s cut; nothing if it has none. */
  uncut(client: Client): void {
    tryCommand('ip', ['netns', 'exec', client.router.namespace, 'nft', 'delete', 'table', 'ip', CUT_TABLE]);
  }

  /** The namespaces this network holds right now (for assertions). */
  get namespaces(): readonly string[] {
    return [...this.#namespaces];
  }

  /** The host end of the host link, if there is one. */
  get hostLink(): string | undefined {
    return this.#hostLink;
  }

  /**
   * Ends everything in the network and removes it: closes browsers, stops
   * gateways and processes (SIGTERM, then SIGKILL), kills whatever else runs
   * in its namespaces, deletes the namespaces (and with them every veth,
   * nftables table and qdisc in them), the host link and the work dir.
   * Idempotent; a second call waits for the first. Rejects, after removing
   * everything, if a gateway reported leaked processes.
   */
  destroy(): Promise<void> {
    this.#destroying ??= this.#destroy();
    return this.#destroying;
  }

  async #destroy(): Promise<void> {
    const problems: unknown[] = [];
    await Promise.all(
      [...this.#browsers].map((browser) => Promise.race([browser.close().catch(() => undefined), new Promise((r) => setTimeout(r, 5000))])),
    );
    for (const gateway of this.#gateways) await gateway.stop().catch((error) => problems.push(error));
    await Promise.all([...this.#processes].map((proc) => proc.stop()));
    this.#destroySync();
    if (problems.length) throw problems[0];
  }

  /** The part of destroy that cannot wait (process exit, signals): SIGKILL and delete. */
  #destroySync(): void {
    for (const ns of [...this.#namespaces].reverse()) removeNamespace(ns);
    this.#namespaces.length = 0;
    if (this.#hostLink) tryCommand('ip', ['link', 'del', this.#hostLink]);
    this.#hostLink = undefined;
    rmSync(this.#workDir, { recursive: true, force: true });
    this.#clients.clear();
    this.#shaped.clear();
    live.delete(this);
  }

  #addNamespace(ns: string): void {
    ip('netns', 'add', ns);
    this.#namespaces.push(ns);
    // IPv4 only: no link-local IPv6 addresses or candidates to reason about.
    sysctl(ns, 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  #assertOpen(): void {
    if (this.#destroying || !live.has(this)) throw new NetnsError('DESTROYED', `network ${this.id} is destroyed`);
  }
}

/**
 * The router's nftables ruleset. Unsolicited packets to the router itself are
 * dropped in `input`: besides being what a home router does, a packet that
 * reaches the router before the client has sent to its source would otherwise
 * leave a conntrack entry behind that takes the client's public port, so the
 * client's own packet to that peer would get a new port and hole punching
 * would fail. Dropped there, the entry is never confirmed.
 */
export function routerRuleset(router: RouterSpec): string {
  const outward =
    router.kind === 'firewall'
      ? [
          `iifname "lan0" oifname "wan0" meta l4proto icmp accept`,
          ...(router.allowTcpPorts.length ? [`iifname "lan0" oifname "wan0" tcp dport { ${router.allowTcpPorts.join(', ')} } accept`] : []),
        ]
      : [`iifname "lan0" oifname "wan0" accept`];
  const masquerade = router.kind === 'symmetric' ? 'masquerade fully-random' : 'masquerade persistent';
  return `table ip ${ROUTER_TABLE} {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan0" ct state established,related accept
    iifname "wan0" drop
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
${outward.map((rule) => `    ${rule}`).join('\n')}
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ${masquerade}
  }
}
`;
}

/** Our namespaces and host links on this machine now, any run's (for assertions; names carry the pid that made them). */
export function leftovers(): { namespaces: string[]; hostLinks: string[] } {
  return { namespaces: listNamespaces().filter((ns) => ns.startsWith(NAMESPACE_PREFIX)), hostLinks: listHostLinks() };
}

/**
 * Removes what earlier runs left behind: namespaces named `gwnet-<pid>-…`, host
 * links `gwn-<pid>-…` and work dirs whose pid no longer runs (with `all`, also
 * those of running processes, this one included). Never touches anything
 * without our prefix. Returns what it removed.
 */
export function sweepStale(options: { all?: boolean } = {}): string[] {
  const stale = (pid: number) => options.all || !isRunning(pid);
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const match = /^gwnet-(\d+)-/.exec(ns);
    if (match && stale(Number(match[1]))) {
      removeNamespace(ns);
      removed.push(ns);
    }
  }
  for (const link of listHostLinks()) {
    const pid = parseInt(/^gwn-([0-9a-z]+)-/.exec(link)![1], 36);
    if (stale(pid)) {
      tryCommand('ip', ['link', 'del', link]);
      removed.push(link);
    }
  }
  const root = join(tmpdir(), NAMESPACE_PREFIX.slice(0, -1));
  for (const entry of existsSync(root) ? readdirSync(root) : []) {
    if (/^\d+$/.test(entry) && stale(Number(entry))) {
      rmSync(join(root, entry), { recursive: true, force: true });
      removed.push(join(root, entry));
    }
  }
  if (options.all) live.clear();
  return removed;
}

function processWorkDir(): string {
  return join(tmpdir(), NAMESPACE_PREFIX.slice(0, -1), String(process.pid));
}

/** Kills every process left in `ns` (they are ours: the namespace is) and deletes it. */
function removeNamespace(ns: string): void {
  const pids = tryCommand('ip', ['netns', 'pids', ns]) ?? '';
  for (const pid of pids.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  tryCommand('ip', ['netns', 'del', ns]);
}

function listNamespaces(): string[] {
  return (tryCommand('ip', ['netns', 'list']) ?? '')
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter(Boolean);
}

function listHostLinks(): string[] {
  const links = JSON.parse(tryCommand('ip', ['-j', 'link', 'show']) || '[]') as { ifname: string }[];
  return links.map((l) => l.ifname).filter((name) => /^gwn-[0-9a-z]+-\d+$/.test(name));
}

/**
 * Finds a 10.B.0.0/16 block the host does not use and holds it: the route
 * 10.B.0.0/24 → host link is the lock (adding a route that exists fails, so
 * two runs never get the same block).
 */
function claimBlock(link: string, wanted?: number): number {
  const used = hostIpv4Prefixes();
  const candidates = wanted !== undefined ? [wanted] : Array.from({ length: 254 - 99 }, (_, i) => 99 + i);
  for (const block of candidates) {
    if (used.some((prefix) => overlaps(prefix, block))) continue;
    const local = `10.${block}.255.1`;
    ip('addr', 'add', `${local}/32`, 'dev', link);
    ip('link', 'set', link, 'up');
    const claimed = spawnSync('ip', ['route', 'add', `10.${block}.0.0/24`, 'dev', link, 'src', local], { encoding: 'utf8' });
    if (claimed.status !== 0) {
      ip('addr', 'del', `${local}/32`, 'dev', link);
      continue;
    }
    return block;
  }
  throw new NetnsError('NO_FREE_BLOCK', wanted !== undefined ? `10.${wanted}.0.0/16 is in use on this host` : 'no free 10.B.0.0/16 block (B = 99…253) on this host');
}

/** Every IPv4 prefix the host routes or holds an address in, as [address, length]. */
function hostIpv4Prefixes(): [number, number][] {
  const routes = JSON.parse(command('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as { dst: string }[];
  const addresses = JSON.parse(command('ip', ['-j', '-4', 'addr', 'show'])) as { addr_info: { local: string; prefixlen: number }[] }[];
  const prefixes: [number, number][] = [];
  for (const { dst } of routes) {
    if (!dst || dst === 'default') continue;
    const [address, length] = dst.split('/');
    if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) prefixes.push([ipv4(address), length ? Number(length) : 32]);
  }
  for (const link of addresses) for (const a of link.addr_info) prefixes.push([ipv4(a.local), a.prefixlen]);
  return prefixes;
}

function overlaps([address, length]: [number, number], block: number): boolean {
  const bits = Math.min(length, 16);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((address & mask) >>> 0) === ((ipv4(`10.${block}.0.0`) & mask) >>> 0);
}

function ipv4(address: string): number {
  return address.split('.').reduce((acc, octet) => ((acc << 8) | Number(octet)) >>> 0, 0);
}

let netem: boolean | undefined;

/** Whether the kernel has the netem qdisc (probed once, on a namespace's loopback). */
function netemAvailable(ns: string): boolean {
  if (netem === undefined) {
    netem = spawnSync('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']).status === 0;
    if (netem) tryCommand('tc', ['-n', ns, 'qdisc', 'del', 'dev', 'lo', 'root']);
  }
  return netem;
}

function sysctl(ns: string, ...settings: string[]): void {
  command('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings]);
}

function ip(...args: string[]): string {
  return command('ip', args);
}

/** Runs a setup command; a failure is a NetnsError naming the command and its stderr. */
function command(cmd: string, args: string[], input?: string): string {
  const result = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new NetnsError('COMMAND_FAILED', `${cmd} ${args.join(' ')} failed (${result.status ?? result.signal ?? result.error}): ${(result.stderr ?? '').trim()}`);
  }
  return result.stdout;
}

/** A cleanup command: its failure (the thing is already gone) is not an error. */
function tryCommand(cmd: string, args: string[]): string | undefined {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  return result.status === 0 ? result.stdout : undefined;
}

/**
 * A detached shell that waits for this process to end, however it ends
 * (SIGKILL included), then removes this pid's namespaces, host links and work
 * dir. It ends itself; it holds nothing of the test process's event loop.
 */
function startReaper(): void {
  if (reaperStarted) return;
  reaperStarted = true;
  const pid = process.pid;
  const script = `
while kill -0 ${pid} 2>/dev/null; do sleep 1; done
for ns in $(ip netns list | cut -d' ' -f1 | grep '^${NAMESPACE_PREFIX}${pid}-'); do
  for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null; done
  ip netns del "$ns"
done
for link in $(ip -o link show | cut -d' ' -f2 | cut -d@ -f1 | grep '^${HOST_LINK_PREFIX}${pid.toString(36)}-'); do ip link del "$link"; done
rm -rf '${processWorkDir()}'
`;
  const reaper = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  reaper.unref();
}

/**
 * Synchronous cleanup on exit and on SIGINT/SIGTERM (which then end the
 * process as the signal would have). Under Jest the `process` a spec sees may
 * not deliver these; the reaper covers that case.
 */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const destroyAll = () => {
    for (const destroy of [...live.values()]) destroy();
  };
  process.once('exit', () => {
    destroyAll();
    rmSync(processWorkDir(), { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      destroyAll();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
