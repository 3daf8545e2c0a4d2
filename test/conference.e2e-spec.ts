import { Browser, Page } from 'playwright-core';
import { io, Socket } from 'socket.io-client';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, receivedFrom } from './support/browser';
import { colorNear, dominantFrequency, Rgb, tonePower } from './support/media-analysis';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { publishTestStream, Publisher } from './support/media';
import { descendantPids, isRunning, waitFor } from '../bench/support/processes';

const SHOTS = join(__dirname, '..', 'test-output');

/** Waits until `page` has received from `userId` growing audio bytes, video bytes and decoded frames. */
async function expectFlowing(page: Page, userId: string): Promise<void> {
  const first = await waitFor(`media from ${userId}`, async () => {
    const r = await receivedFrom(page, userId);
    return r.framesDecoded > 0 && r.audioBytes > 0 ? r : undefined;
  }, 20000);
  const later = await waitFor(`more media from ${userId}`, async () => {
    const r = await receivedFrom(page, userId);
    return r.framesDecoded > first.framesDecoded + 10 && r.audioBytes > first.audioBytes && r.videoBytes > first.videoBytes ? r : undefined;
  }, 20000);
  expect(later.framesDecoded).toBeGreaterThan(first.framesDecoded);
}

/** Mean colour of the middle of `userId`'s tile as the page shows it: its received video drawn to a canvas. */
async function tileColor(page: Page, userId: string): Promise<Rgb | undefined> {
  return page.evaluate((user) => {
    const video = [...document.querySelectorAll<HTMLElement>('.tile')].find((t) => t.dataset.user === user)?.querySelector('video');
    if (!video || video.videoWidth === 0) return undefined;
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 36;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(video, 0, 0, 64, 36);
    const { data } = ctx.getImageData(16, 9, 32, 18);
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c += 1) sum[c] += data[i + c];
    return sum.map((v) => v / (data.length / 4)) as [number, number, number];
  }, userId);
}

/**
 * About 0.7 s of `userId`'s received audio track as the page decodes it (WebAudio: the
 * consumer's track into an AnalyserNode), with the context's sample rate.
 */
async function receivedAudio(page: Page, userId: string): Promise<{ sampleRate: number; samples: Float32Array }> {
  const { sampleRate, samples } = await page.evaluate(async (user) => {
    const consumer = [...window.conferenceClient!.consumers.values()].find((c) => c.appData.userId === user && c.kind === 'audio');
    if (!consumer) throw new Error(`no audio consumer for ${user}`);
    const context = new AudioContext();
    await context.resume();
    const analyser = context.createAnalyser();
    analyser.fftSize = 32768;
    context.createMediaStreamSource(new MediaStream([consumer.track])).connect(analyser);
    // Fill the analyser's window (32768 samples: 0.68 s at 48 kHz).
    await new Promise((resolve) => setTimeout(resolve, Math.ceil((analyser.fftSize / context.sampleRate) * 1000) + 300));
    const data = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(data);
    const rate = context.sampleRate;
    await context.close();
    return { sampleRate: rate, samples: Array.from(data) };
  }, userId);
  return { sampleRate, samples: Float32Array.from(samples) };
}

/**
 * Waits until `page` shows `userId`'s picture in `color` and plays `toneHz` from them: the
 * tone carries most of the received power and every other source's tone is at least 20x
 * weaker (so the right sender's media is checked, not just that bytes arrive).
 */
async function expectSeenAndHeard(page: Page, userId: string, color: Rgb, toneHz: number, otherTones: number[]): Promise<void> {
  let lastColor: Rgb | undefined;
  await waitFor(`${userId}'s picture in ${JSON.stringify(color)}`, async () => {
    lastColor = await tileColor(page, userId);
    return lastColor && colorNear(lastColor, color, 60) ? true : undefined;
  }, 20000).catch((error: Error) => {
    throw new Error(`${error.message}; last colour ${JSON.stringify(lastColor?.map(Math.round))}`);
  });
  let last = '';
  await waitFor(`${userId}'s ${toneHz} Hz tone`, async () => {
    const { sampleRate, samples } = await receivedAudio(page, userId);
    const meanSquare = samples.reduce((a, x) => a + x * x, 0) / samples.length;
    const wanted = tonePower(samples, sampleRate, toneHz);
    // A pure tone's Goertzel power is N/2 times the signal's mean square (up to ~40 % less off the bin
    // centre). Concealed or dropped packets smear it: RTMP audio with millisecond RTP steps read 0.01-0.07.
    const share = wanted / ((samples.length / 2) * meanSquare || 1);
    const others = otherTones.map((f) => tonePower(samples, sampleRate, f));
    last = JSON.stringify({ dominantHz: dominantFrequency(samples, sampleRate), sampleRate, rms: Math.sqrt(meanSquare).toFixed(4), share: share.toFixed(3), ratios: others.map((p) => (wanted / (p || 1e-12)).toFixed(1)) });
    return Math.sqrt(meanSquare) > 0.003 && share > 0.25 && others.every((p) => wanted > 20 * p) ? true : undefined;
  }, 20000).catch((error: Error) => {
    throw new Error(`${error.message}; last reading ${last}`);
  });
}

function connect(gw: RunningGateway, token?: string): Promise<Socket> {
  const socket = io(gw.baseUrl, { auth: token ? { token } : {}, transports: ['websocket'], reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (e) => {
      socket.close();
      reject(e);
    });
  });
}

// Each source has its own colour and tone, so a page that shows and plays the wrong one fails.
const ALICE = { color: [0, 0, 255] as Rgb, hex: '0x0000ff', toneHz: 440 };
const BOB = { color: [0, 255, 0] as Rgb, hex: '0x00ff00', toneHz: 1000 };
const OBS = { color: [255, 0, 0] as Rgb, hex: '0xff0000', toneHz: 660 };

describe('conferences with real Chromium, mediasoup and ffmpeg', () => {
  let gw: RunningGateway;
  let media = '';
  const browsers: Record<'alice' | 'bob', Browser | undefined> = { alice: undefined, bob: undefined };
  const token = async (userId: string, role: 'host' | 'guest' | 'viewer' = 'guest') =>
    (await gw.admin('POST', '/api/v1/tokens', { userId, role })).body.token as string;

  beforeAll(async () => {
    gw = await startGateway({ env: { CONFERENCE_IDLE_SECONDS: '2' } });
    // One browser per person: Chromium's fake camera and microphone are per process (blue + 440 Hz, green + 1 kHz).
    media = mkdtempSync(join(tmpdir(), 'fake-media-'));
    for (const [name, source] of [['alice', ALICE], ['bob', BOB]] as const) {
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `color=c=${source.hex}:size=640x360:rate=25`, '-t', '2', '-pix_fmt', 'yuv420p', join(media, `${name}.y4m`)]);
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=${source.toneHz}:sample_rate=48000`, '-t', '4', join(media, `${name}.wav`)]);
      browsers[name] = await launchChromium([`--use-file-for-fake-video-capture=${join(media, `${name}.y4m`)}`, `--use-file-for-fake-audio-capture=${join(media, `${name}.wav`)}`]);
    }
  });
  afterAll(async () => {
    await browsers.alice?.close();
    await browsers.bob?.close();
    if (media) removeDir(media);
    await gw?.stop();
    if (gw) removeDir(gw.dataDir);
  });

  async function openPage(conferenceId: string, userId: 'alice' | 'bob'): Promise<Page> {
    const page = await browsers[userId]!.newPage();
    await page.goto(`${gw.baseUrl}/#/conference?id=${conferenceId}&token=${await token(userId)}&p2p=off`); // the SFU path (test/ladder covers the direct one)
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 20000 });
    return page;
  }

  it('two browsers exchange audio and video; an RTMP participant is seen and heard; all cleaned up after', async () => {
    const hostToken = await token('host1', 'host');
    const created = await gw.request('POST', '/api/v1/conferences', { body: { title: 'Talk' }, headers: { authorization: `Bearer ${hostToken}` } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (const userId of ['alice', 'bob', 'obs']) {
      expect((await gw.request('POST', `/api/v1/conferences/${id}/members`, { body: { userId }, headers: { authorization: `Bearer ${hostToken}` } })).status).toBe(200);
    }

    const alice = await openPage(id, 'alice');
    const bob = await openPage(id, 'bob');
    await expectFlowing(alice, 'bob');
    await expectFlowing(bob, 'alice');
    // What each page decodes is the other's camera and microphone.
    await expectSeenAndHeard(alice, 'bob', BOB.color, BOB.toneHz, [ALICE.toneHz, OBS.toneHz]);
    await expectSeenAndHeard(bob, 'alice', ALICE.color, ALICE.toneHz, [BOB.toneHz, OBS.toneHz]);
    await alice.screenshot({ path: join(SHOTS, 'conference-alice.png') });
    await bob.screenshot({ path: join(SHOTS, 'conference-bob.png') });

    // An RTMP participant (ffmpeg standing in for OBS) joins by pushing to its ingest URL.
    const ingest = await gw.request('POST', `/api/v1/conferences/${id}/ingest`, { body: { userId: 'obs' }, headers: { authorization: `Bearer ${await token('obs')}` } });
    expect(ingest.status).toBe(201);
    expect(ingest.body.url).toMatch(/^rtmp:\/\/127\.0\.0\.1:\d+\/ingest\/in-[0-9a-f]+\?key=/);
    let obs: Publisher | undefined = publishTestStream(ingest.body.url, { color: OBS.hex, toneHz: OBS.toneHz });
    try {
      await expectFlowing(alice, 'obs');
      const view = await gw.admin('GET', `/api/v1/conferences/${id}`);
      expect(view.body.participants).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ userId: 'alice', audio: true, video: true, via: 'webrtc' }),
          expect.objectContaining({ userId: 'bob', audio: true, video: true, via: 'webrtc' }),
          expect.objectContaining({ userId: 'obs', audio: true, video: true, via: 'rtmp' }),
        ]),
      );
      await alice.waitForFunction(() => document.querySelectorAll('#people li').length === 3);
      await alice.screenshot({ path: join(SHOTS, 'conference-with-rtmp.png') });
      // The RTMP participant's picture is red and its tone 660 Hz in Alice's page; Bob's are still his own.
      await expectSeenAndHeard(alice, 'obs', OBS.color, OBS.toneHz, [ALICE.toneHz, BOB.toneHz]);
      await expectSeenAndHeard(alice, 'bob', BOB.color, BOB.toneHz, [ALICE.toneHz, OBS.toneHz]);

      // Stopping the push removes the participant and its ffmpeg (workers + origin processes + ffmpeg before).
      const base = 2 + (await gw.admin('GET', '/api/v1/admin/origin')).body.processes.length;
      expect(descendantPids(gw.pid).filter(isRunning)).toHaveLength(base + 1);
      await obs.stop();
      obs = undefined;
      await waitFor('obs gone', async () => {
        const { body } = await gw.admin('GET', `/api/v1/conferences/${id}`);
        return body.participants.some((p: { userId: string }) => p.userId === 'obs') ? undefined : true;
      });
      await waitFor('ingest ffmpeg ended', () => (descendantPids(gw.pid).filter(isRunning).length === base ? true : undefined));
    } finally {
      await obs?.stop();
    }

    // Everyone leaves: nothing of the conference remains in mediasoup, then it ends when idle.
    await alice.close();
    await bob.close();
    await waitFor('participants gone', async () => ((await gw.admin('GET', `/api/v1/conferences/${id}`)).body.participants.length === 0 ? true : undefined));
    await waitFor('conference ended when idle', async () => ((await gw.admin('GET', `/api/v1/conferences/${id}`)).status === 404 ? true : undefined));
    const workers = (await gw.admin('GET', '/api/v1/admin/sfu')).body as { load: number; routers: number }[];
    expect(workers.map((w) => [w.load, w.routers])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    // Only the two workers and the origin's processes (one per core by default) remain as children.
    expect(descendantPids(gw.pid).filter(isRunning)).toHaveLength(2 + (await gw.admin('GET', '/api/v1/admin/origin')).body.processes.length);
  });

  describe('bad requests get typed errors and the server keeps serving', () => {
    let id: string;
    beforeAll(async () => {
      id = (await gw.admin('POST', '/api/v1/conferences', { title: 'neg' })).body.id;
      await gw.admin('POST', `/api/v1/conferences/${id}/members`, { userId: 'carol' });
    });

    it('refuses a socket without a valid token at the handshake', async () => {
      await expect(connect(gw)).rejects.toMatchObject({ data: { code: 'UNAUTHENTICATED' } });
      await expect(connect(gw, 'not.a.token')).rejects.toMatchObject({ data: { code: 'TOKEN_INVALID' } });
    });

    it('refuses joining a wrong or foreign conference', async () => {
      const stranger = await connect(gw, await token('mallory'));
      try {
        expect(await stranger.emitWithAck('media:join', { conferenceId: 'conf_nope' })).toMatchObject({ ok: false, error: { code: 'CONFERENCE_NOT_FOUND' } });
        expect(await stranger.emitWithAck('media:join', { conferenceId: id })).toMatchObject({ ok: false, error: { code: 'NOT_A_MEMBER' } });
        expect(await stranger.emitWithAck('media:createTransport', { direction: 'send' })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
      } finally {
        stranger.close();
      }
    });

    it('answers malformed media:* payloads and incompatible capabilities with typed errors', async () => {
      const carol = await connect(gw, await token('carol'));
      const other = await connect(gw, await token('carol2'));
      try {
        const joined = await carol.emitWithAck('media:join', { conferenceId: id });
        expect(joined.ok).toBe(true);
        const bad: [string, unknown][] = [
          ['media:join', 'just a string'],
          ['media:join', { conferenceId: { $gt: '' } }],
          ['media:join', { conferenceId: 'x'.repeat(5000) }],
          ['media:createTransport', { direction: 'sideways' }],
          ['media:connectTransport', { transportId: 'nope', dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } }],
          ['media:produce', { transportId: 't', kind: 'smell', rtpParameters: { codecs: [] } }],
          ['media:consume', { producerId: 42, rtpCapabilities: null }],
          ['media:resumeConsumer', { consumerId: 'nope', __proto__: { polluted: true } }],
          ['media:closeProducer', {}],
          ['media:restartIce', { transportId: 'nope' }],
          ['media:restartIce', { transportId: 7 }],
          ['p2p:signal', { conferenceId: id, toUserId: 'carol2', description: { type: 'pranswer', sdp: 'v=0' } }],
          ['p2p:signal', { conferenceId: id, toUserId: 'carol2', candidate: { candidate: 'x'.repeat(5000) } }],
        ];
        for (const [event, payload] of bad) {
          const ack = await carol.emitWithAck(event, payload);
          expect(ack).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^(VALIDATION_FAILED|TRANSPORT_NOT_FOUND|CONSUMER_NOT_FOUND)$/) } });
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        // A direct path only between the two participants of a conference that allows one (carol is alone here).
        expect(await carol.emitWithAck('p2p:signal', { conferenceId: id, toUserId: 'carol2', candidate: null })).toMatchObject({ ok: false, error: { code: 'P2P_NOT_ALLOWED' } });
        expect(await other.emitWithAck('p2p:signal', { conferenceId: id, toUserId: 'carol', candidate: null })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });

        // ICE restart: new credentials for the caller's own transport; nothing for a socket not in the conference.
        const created = await carol.emitWithAck('media:createTransport', { direction: 'send' });
        const restarted = await carol.emitWithAck('media:restartIce', { transportId: created.id });
        expect(restarted).toMatchObject({ ok: true, iceParameters: { usernameFragment: expect.any(String), password: expect.any(String) } });
        expect(restarted.iceParameters.usernameFragment).not.toBe(created.iceParameters.usernameFragment);
        expect(await other.emitWithAck('media:restartIce', { transportId: created.id })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });

        // A real producer from an RTMP participant, consumed with capabilities that cannot decode it.
        await gw.admin('POST', `/api/v1/conferences/${id}/members`, { userId: 'pusher' });
        const url = (await gw.admin('POST', `/api/v1/conferences/${id}/ingest`, { userId: 'pusher' })).body.url;
        const pusher = publishTestStream(url, { seconds: 30 });
        try {
          const producerId = await waitFor('ingest producer', async () => {
            const ack = await carol.emitWithAck('media:join', { conferenceId: id });
            return ack.producers?.find((p: { kind: string }) => p.kind === 'video')?.producerId as string | undefined;
          }, 20000);
          await carol.emitWithAck('media:createTransport', { direction: 'recv' });
          const vp8Only = { codecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 96 }], headerExtensions: [] };
          expect(await carol.emitWithAck('media:consume', { producerId, rtpCapabilities: vp8Only })).toMatchObject({ ok: false, error: { code: 'CANNOT_CONSUME' } });
        } finally {
          await pusher.stop();
        }

        // Another client is still served normally.
        expect(await other.emitWithAck('media:join', { conferenceId: 'conf_nope' })).toMatchObject({ ok: false, error: { code: 'CONFERENCE_NOT_FOUND' } });
        expect((await gw.request('GET', '/healthz')).status).toBe(200);
      } finally {
        carol.close();
        other.close();
      }
    });
  });
});

describe('placement over workers (forced tiny per-worker limit)', () => {
  let gw: RunningGateway;
  let browser: Browser;
  beforeAll(async () => {
    // Each worker may carry 2 streams: one RTMP participant (audio + video) fills a worker.
    gw = await startGateway({ env: { SFU_WORKER_MAX_LOAD: '2' } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('spans two workers through a pipe and media still flows end to end', async () => {
    const id = (await gw.admin('POST', '/api/v1/conferences', { title: 'spread' })).body.id;
    await gw.admin('POST', `/api/v1/conferences/${id}/members`, { userId: 'obs' });
    await gw.admin('POST', `/api/v1/conferences/${id}/members`, { userId: 'watcher' });
    const url = (await gw.admin('POST', `/api/v1/conferences/${id}/ingest`, { userId: 'obs' })).body.url;
    const obs = publishTestStream(url, { color: '0x0000ff', toneHz: 880 });
    try {
      await waitFor('obs producing', async () => {
        const { body } = await gw.admin('GET', `/api/v1/conferences/${id}`);
        return body.participants.some((p: { userId: string; video: boolean }) => p.userId === 'obs' && p.video) ? true : undefined;
      }, 20000);
      const sfuBefore = (await gw.admin('GET', '/api/v1/admin/sfu')).body as { load: number }[];
      expect(sfuBefore.map((w) => w.load).sort()).toEqual([0, 2]);

      const token = (await gw.admin('POST', '/api/v1/tokens', { userId: 'watcher', role: 'guest' })).body.token;
      const page = await browser.newPage();
      await page.goto(`${gw.baseUrl}/#/conference?id=${id}&token=${token}&p2p=off`);
      await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'joined', undefined, { timeout: 20000 });
      await expectFlowing(page, 'obs');
      await page.screenshot({ path: join(SHOTS, 'conference-piped.png') });

      const view = await gw.admin('GET', `/api/v1/conferences/${id}`);
      expect(view.body.workerSlots.sort()).toEqual([0, 1]);
      const sfu = (await gw.admin('GET', '/api/v1/admin/sfu')).body as { load: number; routers: number }[];
      expect(sfu.map((w) => w.routers)).toEqual([1, 1]);
      // Both workers now carry streams: the pipe and the watcher's producers/consumers.
      expect(sfu.every((w) => w.load > 0)).toBe(true);
      await page.close();
    } finally {
      await obs.stop();
    }
    await gw.admin('DELETE', `/api/v1/conferences/${id}`);
    const after = (await gw.admin('GET', '/api/v1/admin/sfu')).body as { load: number; routers: number }[];
    expect(after.map((w) => [w.load, w.routers])).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });
});
