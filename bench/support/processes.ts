import { createSocket as createDgramSocket } from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** All live descendants of `root` (children, grandchildren…), read from /proc. */
export function descendantPids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    for (const child of children.get(stack.pop()!) ?? []) {
      out.push(child);
      stack.push(child);
    }
  }
  return out;
}

/** True if the pid exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Ports tests hand out: below the kernel's ephemeral range, above well-known services. */
const TEST_PORT_MIN = 20000;
const TEST_PORT_MAX = 32767;

/**
 * A TCP port free now on loopback, outside the kernel's ephemeral range
 * (32768-60999). A port the kernel itself picked (listen on 0) is an
 * ephemeral one, so between our pick and the gateway's listen the same port
 * could be taken as the source port of any outgoing connection (the gateway
 * connecting to its origin processes, coturn's CLI, Redis): a CI run's
 * gateway failed with EADDRINUSE on its HTTP port that way. The ephemeral
 * range also overlaps the ranges test gateways hand to mediasoup (from
 * 42000), TURN relays (49152-49999) and the mixer (from 50000). So: a random
 * port below it, checked free by binding it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = TEST_PORT_MIN + Math.floor(Math.random() * (TEST_PORT_MAX - TEST_PORT_MIN + 1));
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) {
      // Not handed out twice in one process, even when the first taker has not listened yet.
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${TEST_PORT_MIN}-${TEST_PORT_MAX}`);
}
const taken = new Set<number>();

/** A free UDP port from the same range as freePort (clear of the ranges test gateways give media), checked by binding it. */
export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = TEST_PORT_MIN + Math.floor(Math.random() * (TEST_PORT_MAX - TEST_PORT_MIN + 1));
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const socket = createDgramSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free UDP port in ${TEST_PORT_MIN}-${TEST_PORT_MAX}`);
}

/** A port free on loopback for both TCP and UDP (a TURN server listens on both). */
export async function freeTcpUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    const free = await new Promise<boolean>((resolve) => {
      const socket = createDgramSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

/** Polls `check` until it returns a value other than undefined, or throws after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** CPU seconds (user + system) a process has used, from /proc; 0 once it has gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The inodes of a process's sockets (its /proc/<pid>/fd links), to match against /proc/net/{tcp,udp} rows. */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // The fd closed meanwhile.
    }
  }
  return inodes;
}

/** The TCP ports a process listens on (IPv4): /proc/net/tcp's LISTEN rows of its sockets. */
export function listeningPorts(pid: number): { address: string; port: number }[] {
  const inodes = socketInodes(pid);
  const out: { address: string; port: number }[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || cols[3] !== '0A' || !inodes.has(cols[9])) continue;
    const [hexIp, hexPort] = cols[1].split(':');
    const ip = [3, 2, 1, 0].map((i) => parseInt(hexIp.slice(i * 2, i * 2 + 2), 16)).join('.');
    out.push({ address: ip, port: parseInt(hexPort, 16) });
  }
  return out;
}
