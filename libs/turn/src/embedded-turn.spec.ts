import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { SupervisedProcess } from '@gw/common';
import { launchChromium } from '../../../bench/support/chromium';
import { descendantPids, freePort, isRunning, waitFor } from '../../../bench/support/processes';
import { turnCredentials } from './credentials';
import { EmbeddedTurnServer } from './embedded-turn';
import { TurnStartError } from './errors';
import { stunAnswers } from './stun-probe';

const SECRET = 'spec-turn-secret-0123456789';
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

interface Gathered {
  relay: { address: string; port: number; protocol: string; relayProtocol?: string }[];
  errors: { errorCode: number; url: string }[];
}

/**
 * Gathers ICE candidates in Chromium with only relay candidates allowed: each one
 * is a real TURN allocation Chromium made with these credentials (and each
 * failed one an icecandidateerror, 401 for bad credentials).
 */
async function gatherRelay(page: Page, url: string, username: string, credential: string): Promise<Gathered> {
  return page.evaluate(
    async ({ url, username, credential }) => {
      const pc = new RTCPeerConnection({ iceServers: [{ urls: [url], username, credential }], iceTransportPolicy: 'relay' });
      const out: Gathered = { relay: [], errors: [] };
      pc.onicecandidateerror = (e) => out.errors.push({ errorCode: (e as RTCPeerConnectionIceErrorEvent).errorCode, url: (e as RTCPeerConnectionIceErrorEvent).url });
      const done = new Promise<void>((resolve) => {
        pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
        setTimeout(resolve, 8000);
      });
      pc.onicecandidate = (e) => {
        const c = e.candidate;
        if (c && c.type === 'relay') out.relay.push({ address: c.address!, port: c.port!, protocol: c.protocol!, relayProtocol: (c as RTCIceCandidate & { relayProtocol?: string }).relayProtocol });
      };
      pc.createDataChannel('probe');
      await pc.setLocalDescription(await pc.createOffer());
      await done;
      // Kept open until the next gathering, so its allocations (a TCP one ends with its connection) can be looked at.
      const w = window as unknown as { lastPc?: RTCPeerConnection };
      w.lastPc?.close();
      w.lastPc = pc;
      return out;
    },
    { url, username, credential },
  );
}

/** A port free on loopback for both TCP and UDP. */
async function freeTurnPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const dgram = await import('node:dgram');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

/**
 * Whether a pid is a turnserver. Other children of this jest process (a browser's helpers, an ffmpeg of
 * an earlier suite) may exit between the listing and the read: gone is not a turnserver (a CI run read
 * the cmdline of one that had just exited and failed with ENOENT).
 */
function isTurnserver(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('turnserver');
  } catch {
    return false;
  }
}

describe('EmbeddedTurnServer (real coturn turnserver, real Chromium)', () => {
  let dataDir: string;
  let browser: Browser;
  let page: Page;
  let port: number;
  let server: EmbeddedTurnServer;
  const pids = new Set<number>();

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'gw-turn-'));
    port = await freeTurnPort();
    server = new EmbeddedTurnServer({ listenIp: '127.0.0.1', port, secret: SECRET, allowedPeerIps: ['127.0.0.1'], dataDir, restartDelayMs: 100, logger: quiet });
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await server?.stop();
    await browser?.close();
    for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts on its port, answering STUN over UDP and TCP, with its own config file (mode 0600, secret not on the command line)', async () => {
    await server.start();
    expect(server.running).toBe(true);
    pids.add(server.pid!);
    expect(await stunAnswers('127.0.0.1', port, 'udp')).toBe(true);
    expect(await stunAnswers('127.0.0.1', port, 'tcp')).toBe(true);
    const configFile = join(dataDir, 'turn', 'turnserver.conf');
    expect(readFileSync(configFile, 'utf8')).toContain(`static-auth-secret=${SECRET}`);
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    const cmdline = readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(cmdline).toEqual(['turnserver', '-c', configFile]);
    await server.start(); // idempotent: still the one process
    expect(descendantPids(process.pid).filter(isTurnserver)).toEqual([server.pid]);
  });

  it.each(['udp', 'tcp'] as const)('allocates a relay for generated credentials over %s, and the CLI names the client leg', async (transport) => {
    const c = turnCredentials({ secret: SECRET, userId: 'alice', ttlSeconds: 600, nowMs: Date.now() });
    const gathered = await gatherRelay(page, `turn:127.0.0.1:${port}?transport=${transport}`, c.username, c.credential);
    expect(gathered.relay.length).toBeGreaterThan(0);
    const relay = gathered.relay[0];
    expect(relay.address).toBe('127.0.0.1');
    expect(relay.port).toBeGreaterThanOrEqual(49152);
    expect(relay.port).toBeLessThanOrEqual(49999);
    // Chromium fills relayProtocol only sometimes; coturn's own account is the one that counts.
    expect([transport, null, undefined]).toContain(relay.relayProtocol);
    // The allocation outlives the closed peer connection for a while (coturn keeps it until its lifetime or a refresh of 0).
    const session = await server.relaySession(relay.address, relay.port);
    expect(session).toMatchObject({ username: c.username, clientProtocol: transport, relayAddress: `127.0.0.1:${relay.port}` });
  });

  it('refuses wrong, expired and foreign-secret credentials (401, no relay)', async () => {
    const now = Date.now();
    const good = turnCredentials({ secret: SECRET, userId: 'bob', ttlSeconds: 600, nowMs: now });
    const expired = turnCredentials({ secret: SECRET, userId: 'bob', ttlSeconds: 600, nowMs: now - 3_600_000 });
    const foreign = turnCredentials({ secret: 'some-other-secret-000000', userId: 'bob', ttlSeconds: 600, nowMs: now });
    for (const [username, credential] of [
      [good.username, `${good.credential.slice(0, -4)}AAA=`],
      [expired.username, expired.credential],
      [foreign.username, foreign.credential],
    ]) {
      const gathered = await gatherRelay(page, `turn:127.0.0.1:${port}?transport=udp`, username, credential);
      expect(gathered.relay).toEqual([]);
      expect(gathered.errors.map((e) => e.errorCode)).toContain(401);
    }
  });

  it('refuses a second server on a taken port, leaving no process', async () => {
    const before = SupervisedProcess.runningCount;
    const second = new EmbeddedTurnServer({ listenIp: '127.0.0.1', port, secret: SECRET, allowedPeerIps: ['127.0.0.1'], dataDir: join(dataDir, 'second'), logger: quiet });
    await expect(second.start()).rejects.toThrow(TurnStartError);
    await expect(second.start()).rejects.toThrow(/already in use/);
    expect(second.running).toBe(false);
    expect(SupervisedProcess.runningCount).toBe(before);
    await second.stop();
  });

  it('is restarted when it dies, and serves again', async () => {
    const first = server.pid!;
    const up = new Promise<{ pid: number }>((resolve) => server.once('up', resolve));
    process.kill(first, 'SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    const { pid } = await Promise.race([up, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('not restarted within 10 s')), 10000)))]).finally(() => clearTimeout(timer));
    pids.add(pid);
    expect(pid).not.toBe(first);
    expect(isRunning(first)).toBe(false);
    expect(server.pid).toBe(pid);
    const c = turnCredentials({ secret: SECRET, userId: 'carol', ttlSeconds: 600, nowMs: Date.now() });
    expect((await gatherRelay(page, `turn:127.0.0.1:${port}?transport=udp`, c.username, c.credential)).relay.length).toBeGreaterThan(0);
  });

  it('stops with no process left, twice over, and is not restarted', async () => {
    const pid = server.pid!;
    await server.stop();
    await server.stop();
    expect(isRunning(pid)).toBe(false);
    expect(server.running).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(descendantPids(process.pid).filter(isTurnserver)).toEqual([]);
    expect(await stunAnswers('127.0.0.1', port, 'udp')).toBe(false);
    await waitFor('port released', async () => ((await stunAnswers('127.0.0.1', port, 'tcp')) ? undefined : true), 3000);
  });

  it('listens for TLS on its TLS port with the given certificate (STUN over TLS answers)', async () => {
    const certFile = join(dataDir, 'cert.pem');
    const keyFile = join(dataDir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const [plain, tls] = [await freeTurnPort(), await freeTurnPort()];
    const secure = new EmbeddedTurnServer({ listenIp: '127.0.0.1', port: plain, tls: { port: tls, certFile, keyFile }, secret: SECRET, allowedPeerIps: ['127.0.0.1'], dataDir: join(dataDir, 'tls'), logger: quiet });
    try {
      await secure.start();
      pids.add(secure.pid!);
      const transactionId = randomBytes(12);
      const request = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), transactionId]);
      const answer = await new Promise<{ subject: string; response: Buffer }>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: tls, rejectUnauthorized: false }, () => socket.write(request));
        const timer = setTimeout(() => (socket.destroy(), reject(new Error('no STUN answer over TLS'))), 3000);
        socket.once('error', (e) => (clearTimeout(timer), reject(e)));
        socket.once('data', (data: Buffer) => {
          clearTimeout(timer);
          const subject = String(socket.getPeerCertificate().subject?.CN);
          socket.destroy();
          resolve({ subject, response: data });
        });
      });
      expect(answer.subject).toBe('127.0.0.1');
      expect(answer.response.readUInt16BE(0)).toBe(0x0101);
      expect(answer.response.subarray(8, 20).equals(transactionId)).toBe(true);
    } finally {
      await secure.stop();
    }
    expect(secure.running).toBe(false);
  });
});
