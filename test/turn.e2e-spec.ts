import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { io, Socket } from 'socket.io-client';
import { launchChromium, receivedFrom } from './support/browser';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { waitForBytesFlowing } from '../bench/support/producer-bytes';
import { descendantPids, freeTcpUdpPort, isRunning, waitFor } from '../bench/support/processes';

function connect(gw: RunningGateway, token: string): Promise<Socket> {
  const socket = io(gw.baseUrl, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (e) => {
      socket.close();
      reject(e);
    });
  });
}

const ask = (socket: Socket, event: string, payload: unknown) => socket.timeout(10000).emitWithAck(event, payload) as Promise<any>;

/**
 * The embedded TURN server end to end, on the built gateway: ICE servers with
 * credentials coturn accepts, and Chromium participants that may only use relay
 * candidates (iceTransportPolicy 'relay', TURN over UDP for one, over TCP for
 * the other) exchanging media with the SFU through it.
 */
describe('TURN: ICE servers and relayed participants (real coturn, Chromium, mediasoup)', () => {
  let gw: RunningGateway;
  let turnPort: number;
  let media = '';
  const browsers: Browser[] = [];
  const sockets: Socket[] = [];
  const token = async (userId: string, role: 'host' | 'guest' | 'viewer' = 'guest', ttlSeconds?: number) =>
    (await gw.admin('POST', '/api/v1/tokens', { userId, role, ...(ttlSeconds ? { ttlSeconds } : {}) })).body.token as string;

  beforeAll(async () => {
    turnPort = await freeTcpUdpPort();
    gw = await startGateway({ env: { TURN: 'embedded', TURN_PORT: String(turnPort), TURN_TTL_SECONDS: '900' } });
    media = mkdtempSync(join(tmpdir(), 'turn-media-'));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const browser of browsers) await browser.close();
    if (media) removeDir(media);
    await gw?.stop();
    if (gw) removeDir(gw.dataDir);
  });

  it('GET /ice-servers: 401 without a token; STUN + TURN udp/tcp with REST credentials signed by the data dir secret', async () => {
    expect(gw.output()).toMatch(new RegExp(`turn\\s+embedded coturn \\(udp\\+tcp :${turnPort}\\)`));
    const none = await gw.request('GET', '/api/v1/ice-servers');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHENTICATED');
    expect((await gw.request('GET', '/api/v1/ice-servers', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);

    const secret = readFileSync(join(gw.dataDir, 'turn-secret'), 'utf8').trim();
    const before = Math.floor(Date.now() / 1000);
    const { status, body } = await gw.request('GET', '/api/v1/ice-servers', { headers: { authorization: `Bearer ${await token('alice')}` } });
    expect(status).toBe(200);
    expect(body).toEqual({
      iceServers: [
        {
          urls: [`stun:127.0.0.1:${turnPort}`, `turn:127.0.0.1:${turnPort}?transport=udp`, `turn:127.0.0.1:${turnPort}?transport=tcp`],
          username: expect.stringMatching(/^\d+:alice$/),
          credential: expect.any(String),
        },
      ],
      ttlSeconds: expect.any(Number),
    });
    const [server] = body.iceServers;
    const expiry = Number(server.username.split(':')[0]);
    expect(expiry).toBeGreaterThanOrEqual(before + 900);
    expect(expiry).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 900);
    expect(body.ttlSeconds).toBeGreaterThan(895);
    expect(body.ttlSeconds).toBeLessThanOrEqual(900);
    expect(server.credential).toBe(createHmac('sha1', secret).update(server.username).digest('base64'));

    // A token that ends sooner ends its credentials with it.
    const short = await gw.request('GET', '/api/v1/ice-servers', { headers: { authorization: `Bearer ${await token('bob', 'guest', 60)}` } });
    expect(short.body.ttlSeconds).toBeLessThanOrEqual(60);
    expect(Number(short.body.iceServers[0].username.split(':')[0])).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 60);
  });

  it('media:join carries the ICE servers; media:path is validated', async () => {
    const host = await token('host1', 'host');
    const { body } = await gw.request('POST', '/api/v1/conferences', { body: { title: 'relay check' }, headers: { authorization: `Bearer ${host}` } });
    const socket = await connect(gw, host);
    sockets.push(socket);
    expect(await ask(socket, 'media:path', { conferenceId: body.id, path: 'turn-udp' })).toEqual({ ok: false, error: expect.objectContaining({ code: 'NOT_JOINED' }) });
    const joined = await ask(socket, 'media:join', { conferenceId: body.id });
    expect(joined).toMatchObject({ ok: true, conferenceId: body.id, userId: 'host1', rtpCapabilities: expect.any(Object) });
    expect(joined.iceServers).toEqual([expect.objectContaining({ urls: expect.arrayContaining([`turn:127.0.0.1:${turnPort}?transport=udp`]), username: expect.stringMatching(/:host1$/) })]);
    expect(joined.ttlSeconds).toBeGreaterThan(0);
    expect(await ask(socket, 'media:path', { conferenceId: body.id, path: 'carrier-pigeon' })).toEqual({ ok: false, error: expect.objectContaining({ code: 'VALIDATION_FAILED' }) });
    expect(await ask(socket, 'media:path', { conferenceId: 'other', path: 'sfu-udp' })).toEqual({ ok: false, error: expect.objectContaining({ code: 'NOT_JOINED' }) });
    expect(await ask(socket, 'media:path', { conferenceId: body.id, path: 'p2p' })).toEqual({ ok: true });
    const view = await gw.admin('GET', `/api/v1/conferences/${body.id}`);
    expect(view.body.participants).toEqual([expect.objectContaining({ userId: 'host1', path: 'p2p', pathSource: 'client' })]);
    await ask(socket, 'media:leave', {});
    await gw.admin('DELETE', `/api/v1/conferences/${body.id}`);
  });

  /**
   * Opens the conference page in its own Chromium (its own fake camera colour),
   * allowed only relay candidates through the TURN URL of `transport`. With
   * `dropReports` the page's own `media:path` reports never reach the gateway,
   * so what it shows is the SFU's view alone; otherwise they are recorded in `reports`.
   */
  async function openRelayedPage(conferenceId: string, userId: string, color: string, transport: 'udp' | 'tcp', dropReports: boolean, reports: string[] = []): Promise<Page> {
    const camera = join(media, `${userId}.y4m`);
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `color=c=${color}:size=640x360:rate=25`, '-t', '2', '-pix_fmt', 'yuv420p', camera]);
    const browser = await launchChromium([`--use-file-for-fake-video-capture=${camera}`]);
    browsers.push(browser);
    const page = await browser.newPage();
    await page.addInitScript((leg) => {
      const Native = window.RTCPeerConnection;
      // Every peer connection the page makes (mediasoup-client's transports) may use only TURN over `leg`.
      class RelayOnly extends Native {
        constructor(config: RTCConfiguration = {}) {
          const iceServers = (config.iceServers ?? [])
            .map((s) => ({ ...s, urls: ([] as string[]).concat(s.urls).filter((u) => u.startsWith('turn:') && u.endsWith(`?transport=${leg}`)) }))
            .filter((s) => s.urls.length > 0);
          super({ ...config, iceServers, iceTransportPolicy: 'relay' });
        }
      }
      window.RTCPeerConnection = RelayOnly as typeof RTCPeerConnection;
    }, transport);
    await page.routeWebSocket(/socket\.io/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((message) => {
        if (typeof message === 'string' && message.includes('"media:path"')) {
          if (dropReports) return;
          reports.push(message);
        }
        server.send(message);
      });
    });
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    await page.goto(`${gw.baseUrl}/#/conference?id=${conferenceId}&token=${await token(userId)}&p2p=off`); // the SFU rungs are under test, not the direct path
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 20000 }).catch(async (error: Error) => {
      const status = await page.evaluate(() => document.querySelector('#status')?.textContent);
      throw new Error(`${userId} did not join (${status}): ${error.message}\n${consoleLines.join('\n')}`);
    });
    return page;
  }

  /** The local candidate types of the page's connected transports (all must be relays). */
  const localCandidateTypes = (page: Page) =>
    page.evaluate(async () => {
      const client = window.conferenceClient!;
      const types: { type?: string; relayProtocol?: string }[] = [];
      for (const transport of [client.sendTransport, client.recvTransport]) {
        if (!transport) continue;
        const report = await transport.getStats();
        const byId = new Map<string, any>();
        report.forEach((s: any) => byId.set(s.id, s));
        for (const s of byId.values()) {
          if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
          const local = byId.get(byId.get(s.selectedCandidatePairId)?.localCandidateId);
          types.push({ type: local?.candidateType, relayProtocol: local?.relayProtocol });
        }
      }
      return types;
    });

  it('participants reach the SFU only through the embedded TURN, over UDP and over TCP: media flows, paths are turn-udp and turn-tcp', async () => {
    const host = await token('host2', 'host');
    const created = await gw.request('POST', '/api/v1/conferences', { body: { title: 'relayed' }, headers: { authorization: `Bearer ${host}` } });
    const id = created.body.id as string;
    for (const userId of ['alice', 'bob']) await gw.request('POST', `/api/v1/conferences/${id}/members`, { body: { userId }, headers: { authorization: `Bearer ${host}` } });

    // Alice: TURN over UDP, her page's reports dropped (the SFU's view); Bob: TURN over TCP, reporting.
    const alice = await openRelayedPage(id, 'alice', '0x0000ff', 'udp', true);
    const bobReports: string[] = [];
    const bob = await openRelayedPage(id, 'bob', '0x00ff00', 'tcp', false, bobReports);

    // Each decodes the other's video, so media went both ways through the relay.
    for (const [page, from] of [[alice, 'bob'], [bob, 'alice']] as const) {
      const first = await waitFor(`${from}'s video decoded`, async () => {
        const r = await receivedFrom(page, from);
        return r.framesDecoded > 0 ? r : undefined;
      }, 30000);
      await waitFor(`more of ${from}'s video`, async () => ((await receivedFrom(page, from)).framesDecoded > first.framesDecoded + 10 ? true : undefined), 20000);
    }
    // The routers' producers get RTP from both, and it keeps coming (grows from one scrape to the next).
    await waitForBytesFlowing(gw, id, ['alice', 'bob']);

    // Chromium used relay candidates only, over the leg it was given.
    expect(await localCandidateTypes(alice)).toEqual([expect.objectContaining({ type: 'relay' }), expect.objectContaining({ type: 'relay' })]);
    expect(await localCandidateTypes(bob)).toEqual([expect.objectContaining({ type: 'relay' }), expect.objectContaining({ type: 'relay' })]);

    let seen: unknown;
    const participants = await waitFor('both paths known', async () => {
      const { body } = await gw.admin('GET', `/api/v1/conferences/${id}`);
      seen = body.participants;
      const byUser = Object.fromEntries(body.participants.map((p: { userId: string }) => [p.userId, p]));
      return byUser.alice?.path && byUser.bob?.path && bobReports.length > 0 ? byUser : undefined;
    }, 15000).catch((error: Error) => {
      throw new Error(`${error.message}; participants ${JSON.stringify(seen)}`);
    });
    // Alice's path is what the SFU tells from her selected tuple (a relay of our coturn, whose session says UDP).
    expect(participants.alice).toMatchObject({ path: 'turn-udp', pathSource: 'server' });
    // Bob's page reported its own rung from its selected candidate pair; the gateway shows the latest of that
    // and its own view of his tuples (Chromium may switch to another relayed pair later), which agree.
    expect(await bob.evaluate(() => window.conferenceClient!.path)).toBe('turn-tcp');
    expect(bobReports.every((m) => m.includes('"path":"turn-tcp"'))).toBe(true);
    expect(participants.bob).toMatchObject({ path: 'turn-tcp' });
    expect(['client', 'server']).toContain(participants.bob.pathSource);

    const metrics = await gw.request('GET', '/metrics');
    expect(metrics.body).toMatch(/^gateway_participants_by_path\{path="turn-udp"\} 1$/m);
    expect(metrics.body).toMatch(/^gateway_participants_by_path\{path="turn-tcp"\} 1$/m);
    expect(metrics.body).toMatch(/^gateway_participants_by_path\{path="sfu-udp"\} 0$/m);

    // The gateway supervises one turnserver, its own child.
    const turnservers = descendantPids(gw.pid).filter((pid) => isRunning(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('turnserver'));
    expect(turnservers).toHaveLength(1);
    await alice.close();
    await bob.close();
    await gw.admin('DELETE', `/api/v1/conferences/${id}`);
  });
});
