import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { removeDir, RunningGateway } from '../bench/support/gateway';
import { waitFor } from '../bench/support/processes';
import { colorNear, Rgb, tonePower } from './support/media-analysis';
import { Client, RouterSpec, TestNetwork } from './support/netns';

/**
 * The connectivity ladder (seed 003) on simulated networks (test/support/netns.ts):
 * the built gateway, its SFU and its embedded coturn in an "internet" namespace;
 * two Chromium conference pages, each in a client namespace behind a router of
 * its own kind. Each pair must settle on the rung its network allows, and the
 * media must be each other's (colour decoded from the received picture, tone
 * from the received audio):
 *  (a) both behind endpoint-independent NATs → a direct path (`p2p`), and the
 *      server carries none of their media;
 *  (b) both behind symmetric NATs → no direct path within P2P_TIMEOUT_MS, the
 *      SFU over UDP (`sfu-udp`);
 *  (c) one behind a firewall that lets only TCP to the TURN port (and the
 *      gateway's HTTP port, for the page and signalling) out → `turn-tcp`.
 * Needs root (as CI has), iproute2, nftables and Debian's coturn.
 */

const PEOPLE = {
  alice: { color: [0, 0, 255] as Rgb, hex: '0x0000ff', toneHz: 440 },
  bob: { color: [0, 255, 0] as Rgb, hex: '0x00ff00', toneHz: 1000 },
};
type Person = keyof typeof PEOPLE;
/** How long both paths (and what each sends to the SFU) must stay unchanged to count as settled: past the P2P timeout, plus the withdrawal of SFU producers. */
const P2P_TIMEOUT_MS = 2500;
const SETTLE_MS = P2P_TIMEOUT_MS + 2000;

/** The mean colour of the picture `page` receives from `userId`, from the remote stream whichever path it came by. */
async function receivedColor(page: Page, userId: string): Promise<Rgb | undefined> {
  return page.evaluate(async (user) => {
    const stream = window.conferenceClient!.remotes.get(user)?.stream;
    const track = stream?.getVideoTracks()[0];
    if (!track || track.readyState !== 'live') return undefined;
    const video = document.createElement('video');
    video.muted = true;
    video.srcObject = new MediaStream([track]);
    await video.play().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (!video.videoWidth) return undefined;
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 36;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(video, 0, 0, 64, 36);
    const data = ctx.getImageData(0, 0, 64, 36).data;
    video.srcObject = null;
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c += 1) sum[c] += data[i + c];
    return sum.map((v) => v / (data.length / 4)) as Rgb;
  }, userId);
}

/** About 0.7 s of the audio `page` receives from `userId` (WebAudio), with its sample rate. */
async function receivedAudio(page: Page, userId: string): Promise<{ sampleRate: number; samples: Float32Array } | undefined> {
  const got = await page.evaluate(async (user) => {
    const track = window.conferenceClient!.remotes.get(user)?.stream.getAudioTracks()[0];
    if (!track) return undefined;
    const context = new AudioContext();
    await context.resume();
    const analyser = context.createAnalyser();
    analyser.fftSize = 32768;
    context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    await new Promise((resolve) => setTimeout(resolve, Math.ceil((analyser.fftSize / context.sampleRate) * 1000) + 300));
    const data = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(data);
    const rate = context.sampleRate;
    await context.close();
    return { sampleRate: rate, samples: Array.from(data) };
  }, userId);
  return got && { sampleRate: got.sampleRate, samples: Float32Array.from(got.samples) };
}

/** Waits until `page` shows `from`'s colour and plays `from`'s tone, 20x above the other person's. */
async function expectSeenAndHeard(page: Page, from: Person, other: Person): Promise<void> {
  let lastColor: Rgb | undefined;
  await waitFor(`${from}'s picture`, async () => {
    lastColor = await receivedColor(page, from);
    return lastColor && colorNear(lastColor, PEOPLE[from].color, 60) ? true : undefined;
  }, 20000).catch((error: Error) => {
    throw new Error(`${error.message}; last colour ${JSON.stringify(lastColor?.map(Math.round))}`);
  });
  await waitFor(`${from}'s ${PEOPLE[from].toneHz} Hz tone`, async () => {
    const audio = await receivedAudio(page, from);
    if (!audio) return undefined;
    const wanted = tonePower(audio.samples, audio.sampleRate, PEOPLE[from].toneHz);
    const unwanted = tonePower(audio.samples, audio.sampleRate, PEOPLE[other].toneHz);
    const rms = Math.sqrt(audio.samples.reduce((a, x) => a + x * x, 0) / audio.samples.length);
    return rms > 0.003 && wanted > 20 * unwanted ? true : undefined;
  }, 20000);
}

describe('the connectivity ladder on simulated networks', () => {
  let net: TestNetwork;
  let gw: RunningGateway;
  let media = '';
  const browsers: Browser[] = [];

  beforeAll(async () => {
    media = mkdtempSync(join(tmpdir(), 'ladder-media-'));
    for (const [name, p] of Object.entries(PEOPLE)) {
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `color=c=${p.hex}:size=640x360:rate=25`, '-t', '2', '-pix_fmt', 'yuv420p', join(media, `${name}.y4m`)]);
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=${p.toneHz}:sample_rate=48000`, '-t', '4', join(media, `${name}.wav`)]);
    }
    // TURN over TLS with a self-signed certificate for the gateway's address (made here, removed with the media dir).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=ladder-turn', '-keyout', join(media, 'turn.key'), '-out', join(media, 'turn.crt')], { stdio: 'ignore' });
    net = await TestNetwork.create();
    gw = await net.startGateway({
      env: { TURN: 'embedded', TURN_TLS_CERT: join(media, 'turn.crt'), TURN_TLS_KEY: join(media, 'turn.key'), P2P_TIMEOUT_MS: String(P2P_TIMEOUT_MS), CONFERENCE_IDLE_SECONDS: '120' },
    });
  }, 60000);

  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => undefined);
    await net?.destroy();
    if (gw) removeDir(gw.dataDir);
    if (media) removeDir(media);
  });

  const token = async (userId: string) => (await gw.admin('POST', '/api/v1/tokens', { userId, role: 'guest' })).body.token as string;

  async function openPage(client: Client, conferenceId: string, who: Person, query = '', extraArgs: string[] = []): Promise<Page> {
    // The page is served over plain HTTP from a non-loopback address: let it count as secure (camera, WebRTC), as HTTPS would in production.
    const browser = await net.launchChromium(client, [...extraArgs, `--unsafely-treat-insecure-origin-as-secure=${gw.baseUrl}`, `--use-file-for-fake-video-capture=${join(media, `${who}.y4m`)}`, `--use-file-for-fake-audio-capture=${join(media, `${who}.wav`)}`]);
    browsers.push(browser);
    const page = await browser.newPage();
    const lines: string[] = [];
    page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) lines.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${gw.baseUrl}/#/conference?id=${conferenceId}&token=${await token(who)}${query}`);
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 30000 }).catch(async (error: Error) => {
      const status = await page
        .evaluate(() => {
          const c = window.conferenceClient;
          return JSON.stringify({ status: document.querySelector('#status')?.textContent, socket: c?.signalling.socket.connected, conferenceId: c?.conferenceId, userId: c?.userId, send: c?.sendTransport?.connectionState, recv: c?.recvTransport?.connectionState, producers: c?.producers.size, url: location.href });
        })
        .catch((e: Error) => e.message);
      throw new Error(`${who} did not join (${status}): ${error.message}\n${lines.join('\n')}`);
    });
    return page;
  }

  /**
   * The two in one conference, each behind its own router; resolves once both
   * report a path and neither path has changed for SETTLE_MS. Settled, not
   * first: the first to join is alone and reports the SFU's rung until the
   * second's direct path reaches it (a CI run read alice's `sfu-udp` of that
   * moment in (a)).
   */
  let pairs = 0;
  async function pair(tag: string, routers: Record<Person, RouterSpec>, query = '', args: Partial<Record<Person, string[]>> = {}) {
    const id = (await gw.admin('POST', '/api/v1/conferences', { title: `ladder ${tag}` })).body.id as string;
    for (const userId of Object.keys(PEOPLE)) await gw.admin('POST', `/api/v1/conferences/${id}/members`, { userId });
    // Numbered, so that jest's retry of a failed case gets clients of its own (names are unique per network).
    const n = ++pairs;
    const clients = { alice: net.addClient(`${tag}${n}a`, routers.alice), bob: net.addClient(`${tag}${n}b`, routers.bob) };
    const pages = { alice: await openPage(clients.alice, id, 'alice', query, args.alice), bob: await openPage(clients.bob, id, 'bob', query, args.bob) };
    let seen = '';
    let since = 0;
    const paths = await waitFor(
      'both paths, settled',
      async () => {
        const participants = (await gw.admin('GET', `/api/v1/conferences/${id}`)).body.participants as { userId: string; path?: string; audio: boolean; video: boolean }[];
        if (participants.length !== 2 || !participants.every((p) => p.path)) return undefined;
        const now = JSON.stringify(participants.map((p) => [p.userId, p.path, p.audio, p.video]));
        if (now !== seen) [seen, since] = [now, Date.now()];
        return Date.now() - since >= SETTLE_MS ? participants : undefined;
      },
      45000,
    );
    return { id, pages, paths, clients };
  }

  /** Waits until the conference lists the two on `want` (by user), e.g. after a path broke or healed. */
  async function pathsBecome(id: string, want: Record<Person, string>, timeoutMs: number): Promise<void> {
    let last = '';
    await waitFor(
      `paths ${JSON.stringify(want)}`,
      async () => {
        const participants = (await gw.admin('GET', `/api/v1/conferences/${id}`)).body.participants as { userId: Person; path?: string }[];
        last = JSON.stringify(participants.map((p) => [p.userId, p.path]));
        return participants.length === 2 && participants.every((p) => p.path === want[p.userId]) ? true : undefined;
      },
      timeoutMs,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last ${last}`);
    });
  }

  async function pagePath(page: Page): Promise<{ path?: string; p2pConnects: number; p2pFallbacks: number; p2pRetries: number }> {
    return page.evaluate(() => {
      const c = window.conferenceClient!;
      return { path: c.path, p2pConnects: c.p2pConnects, p2pFallbacks: c.p2pFallbacks, p2pRetries: c.p2pRetries };
    });
  }

  it('(a) behind endpoint-independent NATs: a direct path, and no media through the server', async () => {
    const { id, pages, paths } = await pair('e', { alice: { kind: 'eim' }, bob: { kind: 'eim' } });
    expect(paths.map((p) => p.path)).toEqual(['p2p', 'p2p']);
    await expectSeenAndHeard(pages.alice, 'bob', 'alice');
    await expectSeenAndHeard(pages.bob, 'alice', 'bob');
    for (const page of Object.values(pages)) expect(await pagePath(page)).toMatchObject({ path: 'p2p', p2pConnects: 1, p2pFallbacks: 0 });
    // The page shows the rung on the participant's own line.
    expect(await pages.alice.textContent('#people li .who')).toBe('alice (you) · p2p');
    // Neither sends anything to the SFU: no producers in the conference.
    const view = (await gw.admin('GET', `/api/v1/conferences/${id}`)).body;
    expect(view.participants.map((p: { audio: boolean; video: boolean }) => [p.audio, p.video])).toEqual([
      [false, false],
      [false, false],
    ]);
    expect((await gw.request('GET', '/metrics')).body).toMatch(/^gateway_participants_by_path\{path="p2p"\} 2$/m);
    for (const page of Object.values(pages)) await page.close();
  }, 120000);

  it('(d) a direct path that breaks falls back to the SFU without anyone doing anything, and moves back up once it heals', async () => {
    const { id, pages, paths, clients } = await pair('r', { alice: { kind: 'eim' }, bob: { kind: 'eim' } });
    expect(paths.map((p) => p.path)).toEqual(['p2p', 'p2p']);
    // Cut the two routers off from each other (the SFU stays reachable): the direct path drops.
    net.cut(clients.alice, [clients.bob.router.wanAddress]);
    const cutAt = Date.now();
    await pathsBecome(id, { alice: 'sfu-udp', bob: 'sfu-udp' }, 40000);
    process.stdout.write(`ladder: direct path cut, both on the SFU ${Date.now() - cutAt} ms later\n`);
    await expectSeenAndHeard(pages.alice, 'bob', 'alice');
    await expectSeenAndHeard(pages.bob, 'alice', 'bob');
    for (const page of Object.values(pages)) expect(await pagePath(page)).toMatchObject({ path: 'sfu-udp', p2pConnects: 1, p2pFallbacks: 1 });
    // Heal it: the offering side (alice) tries again after its back-off, and both move back up.
    net.uncut(clients.alice);
    const healedAt = Date.now();
    await pathsBecome(id, { alice: 'p2p', bob: 'p2p' }, 60000);
    process.stdout.write(`ladder: direct path healed, both back on p2p ${Date.now() - healedAt} ms later\n`);
    await expectSeenAndHeard(pages.alice, 'bob', 'alice');
    await expectSeenAndHeard(pages.bob, 'alice', 'bob');
    const alice = await pagePath(pages.alice);
    expect(alice).toMatchObject({ path: 'p2p', p2pConnects: 2, p2pFallbacks: 1 });
    expect(alice.p2pRetries).toBeGreaterThanOrEqual(1);
    expect(await pagePath(pages.bob)).toMatchObject({ path: 'p2p', p2pConnects: 2, p2pFallbacks: 1 });
    // Back on the direct path, neither sends to the SFU any more.
    await waitFor('no producers in the conference', async () => {
      const view = (await gw.admin('GET', `/api/v1/conferences/${id}`)).body;
      return view.participants.every((p: { audio: boolean; video: boolean }) => !p.audio && !p.video) ? true : undefined;
    }, 10000);
    for (const page of Object.values(pages)) await page.close();
  }, 200000);

  it('(f) behind a firewall that lets only TCP to the TURN TLS port out: TURN over TLS', async () => {
    const tlsPort = Number(gw.env.TURN_TLS_PORT ?? 5349);
    // The certificate is self-signed for no name (a deployment's names its TURN host): alice's Chromium
    // trusts that one key (its SPKI hash), nothing else. Chromium checks TURN servers' certificates: without it no relay is made.
    const spki = execFileSync('sh', ['-c', `openssl x509 -in '${join(media, 'turn.crt')}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`]).toString().trim();
    const { pages, paths } = await pair('t', { alice: { kind: 'firewall', allowTcpPorts: [tlsPort, Number(gw.env.PORT)] }, bob: { kind: 'eim' } }, '', { alice: [`--ignore-certificate-errors-spki-list=${spki}`] });
    const byUser = Object.fromEntries(paths.map((p) => [p.userId, p.path]));
    expect(byUser).toEqual({ alice: 'turn-tls', bob: 'sfu-udp' });
    await expectSeenAndHeard(pages.alice, 'bob', 'alice');
    await expectSeenAndHeard(pages.bob, 'alice', 'bob');
    expect(await pagePath(pages.alice)).toMatchObject({ path: 'turn-tls', p2pConnects: 0 });
    for (const page of Object.values(pages)) await page.close();
  }, 150000);

  it('(e) an SFU path that loses UDP to the SFU moves down to TURN by itself, and back up once UDP returns', async () => {
    const turnPort = Number(gw.env.TURN_PORT ?? 3478);
    // No direct path here (p2p=off): both use the SFU.
    const { id, pages, clients } = await pair('u', { alice: { kind: 'eim' }, bob: { kind: 'eim' } }, '&p2p=off');
    await pathsBecome(id, { alice: 'sfu-udp', bob: 'sfu-udp' }, 20000);
    // Everything from alice to the gateway's address is dropped but the TURN port and signalling.
    net.cut(clients.alice, [net.internet.address], { exceptUdpPorts: [turnPort], exceptTcpPorts: [turnPort, Number(gw.env.PORT)] });
    const cutAt = Date.now();
    await pathsBecome(id, { alice: 'turn-udp', bob: 'sfu-udp' }, 60000);
    process.stdout.write(`ladder: UDP to the SFU cut, alice on turn-udp ${Date.now() - cutAt} ms later\n`);
    await expectSeenAndHeard(pages.bob, 'alice', 'bob');
    await expectSeenAndHeard(pages.alice, 'bob', 'alice');
    net.uncut(clients.alice);
    const healedAt = Date.now();
    await pathsBecome(id, { alice: 'sfu-udp', bob: 'sfu-udp' }, 90000);
    // The page says so too (its own transport's selected pair, not only the SFU's tuple).
    await waitFor("alice's page back on sfu-udp", async () => ((await pagePath(pages.alice)).path === 'sfu-udp' ? true : undefined), 90000).catch(async (error: Error) => {
      const history = await pages.alice.evaluate(() => window.conferenceClient!.pathHistory);
      throw new Error(`${error.message}; alice's rungs ${history.map((h) => `${h.path}@${h.at - cutAt}`).join(', ')}`);
    });
    const history = await pages.alice.evaluate(() => window.conferenceClient!.pathHistory);
    process.stdout.write(`ladder: UDP to the SFU back, alice on sfu-udp ${Date.now() - healedAt} ms later; alice's rungs: ${history.map((h) => `${h.path}@${h.at - cutAt}`).join(', ')} (ms from the cut)\n`);
    await expectSeenAndHeard(pages.bob, 'alice', 'bob');
    await expectSeenAndHeard(pages.alice, 'bob', 'alice');
    for (const page of Object.values(pages)) await page.close();
  }, 240000);

  it('(b) behind symmetric NATs: no direct path in time, the SFU over UDP', async () => {
    const { pages, paths } = await pair('s', { alice: { kind: 'symmetric' }, bob: { kind: 'symmetric' } });
    expect(paths.map((p) => p.path)).toEqual(['sfu-udp', 'sfu-udp']);
    expect(paths.map((p) => [p.audio, p.video])).toEqual([
      [true, true],
      [true, true],
    ]);
    await expectSeenAndHeard(pages.alice, 'bob', 'alice');
    await expectSeenAndHeard(pages.bob, 'alice', 'bob');
    for (const page of Object.values(pages)) expect(await pagePath(page)).toMatchObject({ path: 'sfu-udp', p2pConnects: 0, p2pFallbacks: 1 });
    for (const page of Object.values(pages)) await page.close();
  }, 120000);

  it('(c) behind a firewall that lets only TCP to the TURN port out: TURN over TCP', async () => {
    const turnPort = Number(gw.env.TURN_PORT ?? 3478);
    const { pages, paths } = await pair('f', { alice: { kind: 'firewall', allowTcpPorts: [turnPort, Number(gw.env.PORT)] }, bob: { kind: 'eim' } });
    const byUser = Object.fromEntries(paths.map((p) => [p.userId, p.path]));
    expect(byUser.alice).toBe('turn-tcp');
    expect(byUser.bob).toBe('sfu-udp');
    await expectSeenAndHeard(pages.alice, 'bob', 'alice');
    await expectSeenAndHeard(pages.bob, 'alice', 'bob');
    expect(await pagePath(pages.alice)).toMatchObject({ path: 'turn-tcp', p2pConnects: 0 });
    expect(await pages.alice.textContent('#people li .who')).toBe('alice (you) · turn-tcp');
    for (const page of Object.values(pages)) await page.close();
  }, 150000);
});
