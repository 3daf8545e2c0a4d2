import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { isRunning, waitFor } from '../bench/support/processes';
import { Client, leftovers, NetnsError, NetnsProcess, sweepStale, TestNetwork } from './support/netns';

/**
 * The simulated networks of test/support/netns.ts behave as named, proven
 * with real traffic: a UDP "what is my address" echo (a tiny STUN) and TCP
 * and HTTP servers in the internet namespace, probes and Chromium in the
 * client namespaces. Needs root (as CI has), iproute2 and nftables.
 */

/** Servers in the internet namespace: UDP echo of the sender's address, TCP that answers the same, HTTP that says who asked, a TCP sink that counts. */
const SERVERS = `
const dgram = require('dgram'), net = require('net'), http = require('http');
const cfg = JSON.parse(process.argv[1]);
let pending = 0;
const bound = () => { if (--pending === 0) console.log('ready'); };
for (const [host, port] of cfg.udp) {
  pending++;
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => s.send(r.address + ':' + r.port, r.port, r.address));
  s.bind(port, host, bound);
}
for (const [host, port] of cfg.tcp) {
  pending++;
  net.createServer((c) => c.end(c.remoteAddress + ':' + c.remotePort)).listen(port, host, bound);
}
for (const [host, port] of cfg.http) {
  pending++;
  http.createServer((q, r) => r.end('<title>internet</title><p id="seen">' + q.socket.remoteAddress + '</p>')).listen(port, host, bound);
}
for (const [host, port] of cfg.sink) {
  pending++;
  net.createServer((c) => { let n = 0; c.on('data', (d) => (n += d.length)); c.on('end', () => c.end(String(n))); }).listen(port, host, bound);
}
`;

/** From one local UDP port, asks each target (5 times) what address it sees; prints {target: [distinct answers]}. */
const UDP_PROBE = `
const dgram = require('dgram');
const cfg = JSON.parse(process.argv[1]);
const s = dgram.createSocket('udp4');
const seen = Object.fromEntries(cfg.targets.map((t) => [t, []]));
s.on('message', (m, r) => { const list = seen[r.address + ':' + r.port]; if (list && !list.includes(String(m))) list.push(String(m)); });
s.bind(cfg.localPort, () => {
  let round = 0;
  const tick = setInterval(() => {
    for (const t of cfg.targets) { const [h, p] = t.split(':'); s.send('who', Number(p), h); }
    if (++round === 5) clearInterval(tick);
  }, 100);
  setTimeout(() => { console.log(JSON.stringify(seen)); process.exit(0); }, cfg.timeoutMs);
});
`;

/** Sends `count` datagrams to one echo target, prints how many answers came back. */
const UDP_COUNT = `
const dgram = require('dgram');
const cfg = JSON.parse(process.argv[1]);
const s = dgram.createSocket('udp4');
let answers = 0;
s.on('message', () => answers++);
const [h, p] = cfg.target.split(':');
let sent = 0;
const tick = setInterval(() => { s.send('n' + sent, Number(p), h); if (++sent === cfg.count) clearInterval(tick); }, 5);
setTimeout(() => { console.log(JSON.stringify({ sent, answers })); process.exit(0); }, cfg.count * 5 + 1000);
`;

/** Connects over TCP; prints {ok, reply} or {ok: false, error}. With `upload`, sends that many bytes first and times it. */
const TCP_PROBE = `
const net = require('net');
const cfg = JSON.parse(process.argv[1]);
const [h, p] = cfg.target.split(':');
const started = Date.now();
const c = net.connect(Number(p), h);
let reply = '';
const fail = (error) => { console.log(JSON.stringify({ ok: false, error })); process.exit(0); };
const timer = setTimeout(() => fail('timeout'), cfg.timeoutMs);
c.on('connect', () => { if (cfg.upload) c.end(Buffer.alloc(cfg.upload)); });
c.on('data', (d) => (reply += d));
c.on('end', () => { clearTimeout(timer); console.log(JSON.stringify({ ok: true, reply, ms: Date.now() - started })); process.exit(0); });
c.on('error', (e) => fail(e.code));
`;

/**
 * One side of a hole punch: learns its public address from the echo (STUN),
 * prints it, reads the peer's public address on stdin, then sends to it every
 * 50 ms for `durationMs`; prints how many of the peer's datagrams arrived and from where.
 */
const PUNCH = `
const dgram = require('dgram');
const cfg = JSON.parse(process.argv[1]);
const s = dgram.createSocket('udp4');
const [sh, sp] = cfg.stun.split(':');
let mapped, peer, asking;
const from = [];
s.on('message', (m, r) => {
  const source = r.address + ':' + r.port;
  if (source === cfg.stun) { if (!mapped) { mapped = String(m); clearInterval(asking); console.log(JSON.stringify({ mapped })); } return; }
  from.push(source);
});
s.bind(cfg.localPort, () => { asking = setInterval(() => s.send('who', Number(sp), sh), 100); });
process.stdin.once('data', (d) => {
  peer = String(d).trim();
  const [ph, pp] = peer.split(':');
  const tick = setInterval(() => s.send('hello', Number(pp), ph), 50);
  setTimeout(() => { clearInterval(tick); console.log(JSON.stringify({ received: from.length, from: [...new Set(from)] })); process.exit(0); }, cfg.durationMs);
});
`;

const lastJson = (text: string) => JSON.parse(text.trim().split('\n').pop()!);

/** The host's own IPv4 addresses, loopback included: none of them may be reachable from a client. */
function hostAddresses(): string[] {
  const links = JSON.parse(spawnSync('ip', ['-j', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout) as { addr_info: { local: string }[] }[];
  return links.flatMap((l) => l.addr_info.map((a) => a.local));
}

describe('simulated networks: namespaces, NAT and firewalls behave as named', () => {
  let net: TestNetwork;
  let servers: NetnsProcess;
  let browser: Browser | undefined;
  let hostServer: Server;
  let s1: string;
  let s2: string;
  const clients: Record<'eim1' | 'eim2' | 'sym1' | 'sym2' | 'fw', Client> = {} as never;

  const udpProbe = async (client: Client, targets: string[], localPort = 40000) =>
    lastJson((await net.run(client.namespace, process.execPath, ['-e', UDP_PROBE, JSON.stringify({ localPort, targets, timeoutMs: 1500 })])).stdout) as Record<string, string[]>;
  const tcpProbe = async (client: Client, target: string, upload = 0) =>
    lastJson((await net.run(client.namespace, process.execPath, ['-e', TCP_PROBE, JSON.stringify({ target, timeoutMs: 2000, upload })])).stdout) as { ok: boolean; reply?: string; error?: string; ms?: number };
  const udpCount = async (client: Client, count: number) =>
    lastJson((await net.run(client.namespace, process.execPath, ['-e', UDP_COUNT, JSON.stringify({ target: `${s1}:3479`, count })])).stdout) as { sent: number; answers: number };

  /** Runs PUNCH on both clients at once and exchanges their public addresses as a signalling server would. */
  async function holePunch(a: Client, b: Client) {
    const stun = `${s1}:3479`;
    const sides = [a, b].map((c) => net.exec(c.namespace, process.execPath, ['-e', PUNCH, JSON.stringify({ localPort: 41000, stun, durationMs: 1500 })]));
    const mapped = await Promise.all(sides.map((p) => waitFor('public address from the echo', () => (p.stdout().includes('mapped') ? JSON.parse(p.stdout().split('\n')[0]).mapped as string : undefined), 5000)));
    sides[0].child.stdin!.write(`${mapped[1]}\n`);
    sides[1].child.stdin!.write(`${mapped[0]}\n`);
    await Promise.all(sides.map((p) => p.exited));
    return { mapped, results: sides.map((p) => lastJson(p.stdout()) as { received: number; from: string[] }) };
  }

  beforeAll(async () => {
    net = await TestNetwork.create();
    [s1, s2] = net.internet.addresses;
    clients.eim1 = net.addClient('eim1', { kind: 'eim' });
    clients.eim2 = net.addClient('eim2', { kind: 'eim' });
    clients.sym1 = net.addClient('sym1', { kind: 'symmetric' });
    clients.sym2 = net.addClient('sym2', { kind: 'symmetric' });
    clients.fw = net.addClient('fw', { kind: 'firewall', allowTcpPorts: [3478] });
    const config = {
      udp: [[s1, 3479], [s1, 3480], [s2, 3479]],
      tcp: [[s1, 3478], [s1, 8080]],
      http: [[s1, 8000]],
      sink: [[s1, 9000]],
    };
    servers = net.exec(net.internet.name, process.execPath, ['-e', SERVERS, JSON.stringify(config)]);
    await waitFor('servers in the internet namespace', () => (servers.stdout().includes('ready') ? true : undefined), 5000);
    hostServer = createServer((_, res) => res.end('host')).listen(0, '0.0.0.0');
    await new Promise((r) => hostServer.once('listening', r));
  }, 30000);

  afterAll(async () => {
    await browser?.close();
    hostServer?.close();
    await net?.destroy();
  });

  it('an EIM NAT shows one public address and port to every destination, its own WAN address', async () => {
    const targets = [`${s1}:3479`, `${s1}:3480`, `${s2}:3479`];
    const seen = await udpProbe(clients.eim1, targets);
    const answers = targets.flatMap((t) => seen[t]);
    expect(answers).toHaveLength(3);
    expect(new Set(answers)).toEqual(new Set([`${clients.eim1.router.wanAddress}:40000`]));
  });

  it('a symmetric NAT maps each destination (address or port) to a new public port, stable per destination', async () => {
    const targets = [`${s1}:3479`, `${s1}:3480`, `${s2}:3479`];
    const seen = await udpProbe(clients.sym1, targets);
    for (const t of targets) expect(seen[t]).toHaveLength(1); // five asks, one mapping
    const answers = targets.map((t) => seen[t][0]);
    expect(answers.every((a) => a.startsWith(`${clients.sym1.router.wanAddress}:`))).toBe(true);
    expect(new Set(answers.map((a) => a.split(':')[1])).size).toBe(3);
  });

  it('hole punching works between two clients behind EIM NATs', async () => {
    const { mapped, results } = await holePunch(clients.eim1, clients.eim2);
    expect(mapped).toEqual([`${clients.eim1.router.wanAddress}:41000`, `${clients.eim2.router.wanAddress}:41000`]);
    expect(results[0].received).toBeGreaterThan(5);
    expect(results[1].received).toBeGreaterThan(5);
    // Each heard the other from exactly the address the echo told it: the mapping did not depend on the destination.
    expect(results[0].from).toEqual([mapped[1]]);
    expect(results[1].from).toEqual([mapped[0]]);
  });

  it('hole punching fails between two clients behind symmetric NATs', async () => {
    const { results } = await holePunch(clients.sym1, clients.sym2);
    expect(results.map((r) => r.received)).toEqual([0, 0]);
  });

  it('the firewall drops all UDP and TCP except to the allowed TCP port, which is NATed', async () => {
    const seen = await udpProbe(clients.fw, [`${s1}:3479`, `${s2}:3479`]);
    expect(Object.values(seen).flat()).toEqual([]);
    expect(await tcpProbe(clients.fw, `${s1}:8080`)).toEqual({ ok: false, error: 'timeout' });
    const allowed = await tcpProbe(clients.fw, `${s1}:3478`);
    expect(allowed.ok).toBe(true);
    expect(allowed.reply).toMatch(new RegExp(`^${clients.fw.router.wanAddress.replace(/\./g, '\\.')}:\\d+$`));
    // The same ports from an unfiltered client: the servers were there all along.
    expect((await tcpProbe(clients.eim1, `${s1}:8080`)).ok).toBe(true);
    expect((await udpProbe(clients.eim1, [`${s1}:3479`]))[`${s1}:3479`]).toHaveLength(1);
  });

  it('the host reaches the servers through the host link; clients reach neither the host nor each other’s private addresses', async () => {
    const page = await (await fetch(`http://${s1}:8000/`)).text();
    expect(page).toContain(`10.${net.block}.255.1`);
    const host = (hostServer.address() as AddressInfo).port;
    expect(await (await fetch(`http://127.0.0.1:${host}/`)).text()).toBe('host');
    for (const address of [...hostAddresses(), `10.${net.block}.255.1`]) {
      expect(await tcpProbe(clients.eim1, `${address}:${host}`)).toMatchObject({ ok: false });
    }
    expect((await udpProbe(clients.eim1, [`${clients.eim2.address}:41000`]))[`${clients.eim2.address}:41000`]).toEqual([]);
  });

  it('Chromium inside a client namespace loads a page from the internet, through the NAT, and cannot reach the host', async () => {
    browser = await net.launchChromium(clients.eim1);
    const page = await browser.newPage();
    await page.goto(`http://${s1}:8000/`, { timeout: 10000 });
    expect(await page.title()).toBe('internet');
    expect(await page.textContent('#seen')).toBe(clients.eim1.router.wanAddress);
    const host = (hostServer.address() as AddressInfo).port;
    for (const address of ['127.0.0.1', ...hostAddresses().filter((a) => a !== '127.0.0.1')]) {
      await expect(page.goto(`http://${address}:${host}/`, { timeout: 3000 })).rejects.toThrow();
    }
    await browser.close();
    browser = undefined;
  });

  it('shape: loss drops packets in both directions and rate limits throughput; removed by unshape', async () => {
    const clean = await udpCount(clients.eim2, 200);
    expect(clean.answers).toBeGreaterThanOrEqual(195);
    net.shape(clients.eim2, { lossPercent: 50 });
    const lossy = await udpCount(clients.eim2, 200);
    // 50 % each way: a quarter of the round trips survive.
    expect(lossy.answers).toBeGreaterThan(20);
    expect(lossy.answers).toBeLessThan(90);
    net.shape(clients.eim2, { rateKbit: 2000 });
    const slow = await tcpProbe(clients.eim2, `${s1}:9000`, 250_000);
    expect(slow).toMatchObject({ ok: true, reply: '250000' });
    expect(slow.ms).toBeGreaterThan(700); // 2 Mbit at 2000 kbit/s: about a second
    net.unshape(clients.eim2);
    const fast = await tcpProbe(clients.eim2, `${s1}:9000`, 250_000);
    expect(fast.ms).toBeLessThan(400);
    expect((await udpCount(clients.eim2, 200)).answers).toBeGreaterThanOrEqual(195);
    let delay: unknown;
    try {
      net.shape(clients.eim2, { delayMs: 50 });
      delay = 'applied';
    } catch (error) {
      delay = error;
    }
    net.unshape(clients.eim2);
    const netem = spawnSync('tc', ['-n', net.internet.name, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem']).status === 0;
    spawnSync('tc', ['-n', net.internet.name, 'qdisc', 'del', 'dev', 'lo', 'root']);
    if (netem) expect(delay).toBe('applied');
    else expect(delay).toMatchObject({ code: 'NETEM_UNAVAILABLE' });
  });

  const worker = process.env.MEDIASOUP_WORKER_BIN;
  const built = existsSync(join(__dirname, '..', 'dist', 'apps', 'gateway', 'src', 'main.js'));
  (worker && existsSync(worker) && built ? it : it.skip)(
    'the built gateway runs in the internet namespace: the host reaches its API, a client’s Chromium its web app',
    async () => {
      const gw = await net.startGateway({ env: { SFU_WORKERS: '1', EMBEDDED_ORIGIN_PROCESSES: '1' } });
      try {
        expect(gw.baseUrl).toBe(`http://${s1}:${gw.env.PORT}`);
        const health = await gw.request('GET', '/healthz');
        expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
        browser = await net.launchChromium(clients.sym1);
        const page = await browser.newPage();
        await page.goto(gw.baseUrl, { timeout: 15000 });
        expect(await page.title()).toBe('Co-hosting live gateway');
        await browser.close();
        browser = undefined;
      } finally {
        await gw.stop();
      }
    },
    60000,
  );

  it('sweepStale removes a dead run’s namespaces (and what runs in them) and host links, and nothing live', async () => {
    const dead = spawnSync('true').pid!;
    const ns = `gwnet-${dead}-1-inet`;
    const link = `gwn-${dead.toString(36)}-1`;
    for (const args of [
      ['netns', 'add', ns],
      ['-n', ns, 'link', 'add', 'name', 'x0', 'type', 'veth', 'peer', 'name', 'x1'],
      ['link', 'add', 'name', link, 'type', 'veth', 'peer', 'name', `${link}p`],
    ]) {
      expect(spawnSync('ip', args).status).toBe(0);
    }
    expect(spawnSync('ip', ['netns', 'exec', ns, 'nft', 'add', 'table', 'ip', 'gwnet']).status).toBe(0);
    const sleeper = spawn('ip', ['netns', 'exec', ns, 'sleep', '300'], { stdio: 'ignore' });
    await waitFor('sleeper in the stale namespace', () => (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.trim() ? true : undefined));
    const removed = sweepStale();
    expect(removed).toEqual(expect.arrayContaining([ns, link]));
    expect(leftovers().namespaces).not.toContain(ns);
    expect(leftovers().hostLinks).not.toContain(link);
    await waitFor('the sleeper killed', () => (isRunning(sleeper.pid!) ? undefined : true), 3000);
    // This run's network is alive and untouched.
    expect(leftovers().namespaces.filter((n) => n.startsWith(`${net.id}-`)).sort()).toEqual([...net.namespaces].sort());
    expect((await udpProbe(clients.eim1, [`${s1}:3479`]))[`${s1}:3479`]).toHaveLength(1);
  });

  it('destroy() removes every namespace, host link, route and table, and is idempotent; the network refuses further use', async () => {
    const inRouter = spawnSync('ip', ['netns', 'exec', clients.eim1.router.namespace, 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout;
    expect(inRouter).toContain('table ip gwnet');
    const link = net.hostLink!;
    await Promise.all([net.destroy(), net.destroy()]);
    await net.destroy();
    expect(servers.child.exitCode !== null || servers.child.signalCode !== null).toBe(true);
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(netns).not.toContain(net.id);
    expect(spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout).not.toContain('gwnet');
    expect(spawnSync('ip', ['link', 'show'], { encoding: 'utf8' }).stdout).not.toContain(link);
    expect(spawnSync('ip', ['route', 'show'], { encoding: 'utf8' }).stdout).not.toContain(`10.${net.block}.`);
    expect(() => net.addClient('late', { kind: 'eim' })).toThrow(NetnsError);
  });
});

/** A node process (not Jest) that builds a network, for the exit paths Jest cannot show. */
const CHILD = `
const fs = require('fs');
const ts = require(${JSON.stringify(require.resolve('typescript'))});
require.extensions['.ts'] = (m, f) => m._compile(ts.transpileModule(fs.readFileSync(f, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText, f);
const { TestNetwork } = require(${JSON.stringify(join(__dirname, 'support', 'netns.ts'))});
TestNetwork.create().then((net) => {
  const client = net.addClient('alice', { kind: 'eim' });
  const sleeper = net.exec(client.namespace, 'sleep', ['300']);
  console.log(JSON.stringify({ id: net.id, sleeper: sleeper.pid }));
  setInterval(() => {}, 1000);
});
`;

describe('a network is removed however its process ends', () => {
  async function startChild() {
    const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.once('exit', r));
    const info = await waitFor('the child’s network', () => (out.includes('sleeper') ? (JSON.parse(out) as { id: string; sleeper: number }) : undefined), 15000);
    expect(leftovers().namespaces.filter((n) => n.startsWith(`${info.id}-`))).toHaveLength(3);
    return { child, exited, info };
  }
  const ours = (id: string) => leftovers().namespaces.filter((n) => n.startsWith(`${id}-`));

  it.each(['SIGTERM', 'SIGINT'] as const)('%s: the process removes it before it ends', async (signal) => {
    const { child, exited, info } = await startChild();
    child.kill(signal);
    await exited;
    expect(child.signalCode).toBe(signal);
    expect(ours(info.id)).toEqual([]);
    expect(isRunning(info.sleeper)).toBe(false);
  }, 30000);

  it('SIGKILL: the reaper removes it within seconds', async () => {
    const { child, exited, info } = await startChild();
    child.kill('SIGKILL');
    await exited;
    await waitFor('the reaper', () => (ours(info.id).length === 0 ? true : undefined), 8000);
    expect(isRunning(info.sleeper)).toBe(false);
    expect(leftovers().hostLinks.filter((l) => l.startsWith(`gwn-${child.pid!.toString(36)}-`))).toEqual([]);
  }, 30000);
});
