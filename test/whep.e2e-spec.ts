import { Browser, Page } from 'playwright-core';
import { Socket } from 'socket.io-client';
import { ask, connectAs, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { isRunning, waitFor } from '../bench/support/processes';
import { launchChromium } from './support/browser';
import { publishTestStream, Publisher } from './support/media';

declare global {
  interface Window {
    whep?: { pc: RTCPeerConnection; video: HTMLVideoElement; location: string; status: number };
    /** The web app's viewer page (apps/web/src/pages/viewer.ts). */
    viewerPlayer?: { video: HTMLVideoElement; errors: string[]; whep?: { peerConnection?: RTCPeerConnection } };
  }
}

/** A WHEP player in the page (no library: what any WHEP player does): recvonly offer, POST, answer, <video>. */
async function playWhep(page: Page, url: string, token: string): Promise<{ status: number; location: string | null; body: string }> {
  return page.evaluate(
    async ({ url, token }) => {
      const pc = new RTCPeerConnection();
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      video.playsInline = true;
      document.body.append(video);
      const stream = new MediaStream();
      video.srcObject = stream;
      pc.ontrack = (e) => stream.addTrack(e.track);
      await pc.setLocalDescription(await pc.createOffer());
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: pc.localDescription!.sdp });
      const body = await response.text();
      const location = response.headers.get('location');
      if (response.status === 201) {
        await pc.setRemoteDescription({ type: 'answer', sdp: body });
        window.whep = { pc, video, location: new URL(location!, url).href, status: response.status };
      }
      return { status: response.status, location, body };
    },
    { url, token },
  );
}

/** Mean colour above the frame counter, the picture size, and a fingerprint of the counter band (differs frame to frame). */
async function grab(page: Page): Promise<{ width: number; height: number; color: number[]; band: string } | undefined> {
  return page.evaluate(() => {
    const video = window.whep?.video;
    if (!video || video.videoWidth === 0) return undefined;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(video, 0, 0);
    const h = canvas.height;
    const w = canvas.width;
    const top = ctx.getImageData(Math.round(w * 0.3), Math.round(h * 0.2), Math.round(w * 0.4), Math.round(h * 0.3)).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < top.length; i += 4) for (let c = 0; c < 3; c += 1) sum[c] += top[i + c];
    const band = ctx.getImageData(Math.round(w * 0.3), Math.round(h * 0.8), Math.round(w * 0.4), Math.round(h * 0.1)).data;
    let bits = '';
    for (let k = 0; k < 8; k += 1) {
      // The middle pixel of bit box k: white for 1, black for 0.
      const x = Math.round(((k + 0.5) / 8) * w * 0.4);
      const y = Math.round(h * 0.05);
      const i = (y * Math.round(w * 0.4) + x) * 4;
      bits += band[i] > 128 ? '1' : '0';
    }
    return { width: w, height: h, color: sum.map((v) => Math.round(v / (top.length / 4))), band: bits };
  });
}

async function inboundAudio(page: Page): Promise<{ packets: number; bytes: number }> {
  return page.evaluate(async () => {
    const report = await window.whep!.pc.getStats();
    let out = { packets: 0, bytes: 0 };
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') out = { packets: s.packetsReceived, bytes: s.bytesReceived };
    });
    return out;
  });
}

/** The loudest frequency of the received audio track and its level (WebAudio analyser on the track). */
async function audioPeak(page: Page): Promise<{ hz: number; db: number }> {
  return page.evaluate(async () => {
    const track = window.whep!.pc.getReceivers().find((r) => r.track.kind === 'audio')!.track;
    const context = new AudioContext();
    await context.resume();
    const analyser = context.createAnalyser();
    analyser.fftSize = 4096;
    context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i += 1) if (bins[i] > bins[best]) best = i;
    const out = { hz: (best * context.sampleRate) / analyser.fftSize, db: bins[best] };
    await context.close();
    return out;
  });
}

/**
 * WHEP against the built gateway: a host pushes a red picture with a 440 Hz
 * tone and a frame counter; a WHEP player in Debian's Chromium (from another
 * origin: CORS) plays the channel's program through the channel's viewing
 * room; DELETE ends the session and the room closes when idle; typed errors.
 */
describe('WHEP playback of a channel', () => {
  let gw: RunningGateway;
  let browser: Browser;
  const pushes: Publisher[] = [];
  let viewerToken: string;
  let whepUrl: string;

  beforeAll(async () => {
    gw = await startGateway();
    browser = await launchChromium();
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'wh' })).body;
    whepUrl = channel.playUrls.whep;
    viewerToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'fan', role: 'viewer', channelId: 'wh' })).body.token;
    pushes.push(publishTestStream(channel.publishUrl, { color: '0xff0000', toneHz: 440, counter: true, seconds: 300 }));
  });
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const p of pushes) await p.stop();
    await browser?.close();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('lists playUrls.whep beside the others', async () => {
    expect(whepUrl).toBe(`${gw.baseUrl}/api/v1/whep/wh`);
    const status = await gw.request('GET', '/api/v1/channels/wh', { headers: { authorization: `Bearer ${viewerToken}` } });
    expect(status.body.playUrls).toEqual(expect.objectContaining({ flv: expect.any(String), rtmp: expect.any(String), whep: whepUrl }));
  });

  it('answers a CORS preflight', async () => {
    const r = await fetch(whepUrl, { method: 'OPTIONS', headers: { origin: 'http://player.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('access-control-allow-methods')).toContain('POST');
    expect(r.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    expect(r.headers.get('access-control-expose-headers')).toBe('Location');
  });

  it('answers bad requests with typed errors', async () => {
    const sdp = { 'content-type': 'application/sdp' };
    const bearer = { authorization: `Bearer ${viewerToken}` };
    const offer = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
    const expectError = async (path: string, headers: Record<string, string>, status: number, code: string, raw = offer) => {
      const r = await gw.request('POST', path, { headers, raw });
      expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
    };
    await expectError('/api/v1/whep/wh', sdp, 401, 'UNAUTHENTICATED');
    await expectError('/api/v1/whep/wh', { ...sdp, authorization: 'Bearer nonsense' }, 401, 'TOKEN_INVALID');
    await expectError('/api/v1/whep/nope', { ...sdp, ...bearer }, 404, 'CHANNEL_NOT_FOUND');
    await expectError('/api/v1/whep/wh', { 'content-type': 'application/json', ...bearer }, 415, 'UNSUPPORTED_MEDIA_TYPE', '{}');
    const other = (await gw.admin('POST', '/api/v1/tokens', { userId: 'fan2', role: 'viewer', channelId: 'elsewhere' })).body.token;
    await expectError('/api/v1/whep/wh', { ...sdp, authorization: `Bearer ${other}` }, 403, 'NOT_CHANNEL_VIEWER');
    await gw.admin('POST', '/api/v1/channels', { id: 'quiet' });
    await expectError('/api/v1/whep/quiet', { ...sdp, 'x-api-key': gw.adminKey }, 409, 'CHANNEL_NOT_LIVE');
    // Once the channel is live, the offer itself is judged.
    await waitFor('on air', async () => ((await gw.admin('GET', '/api/v1/channels/wh')).body.source === 'host' ? true : undefined), 20000);
    await expectError('/api/v1/whep/wh', { ...sdp, ...bearer }, 400, 'WHEP_BAD_OFFER', 'hello');
    await expectError('/api/v1/whep/wh', { ...sdp, ...bearer }, 400, 'WHEP_BAD_OFFER');
    const page = await browser.newPage();
    const real = await page.evaluate(async () => {
      const pc = new RTCPeerConnection();
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      const o = await pc.createOffer();
      pc.close();
      return o.sdp!;
    });
    await page.close();
    await expectError('/api/v1/whep/wh', { ...sdp, ...bearer }, 400, 'WHEP_NOT_RECVONLY', real.replace(/a=recvonly/g, 'a=sendonly'));
    await expectError('/api/v1/whep/wh', { ...sdp, ...bearer }, 400, 'WHEP_NO_H264', real.replace(/H264/g, 'H265'));
    // None of these left anything in the viewing room.
    const room = (await gw.admin('GET', '/api/v1/whep/wh')).body;
    expect(room.sessions).toEqual([]);
  }, 60000);

  it('plays the program in Chromium: the red picture at 640x360, moving, with audio; DELETE ends it and the room closes', async () => {
    await waitFor('on air', async () => ((await gw.admin('GET', '/api/v1/channels/wh')).body.source === 'host' ? true : undefined), 20000);
    const page = await browser.newPage();
    // A page of no origin of the gateway's: the POST goes through CORS (preflight for the Authorization header).
    const posted = Date.now();
    const started = await playWhep(page, whepUrl, viewerToken);
    expect(started.status).toBe(201);
    expect(started.location).toMatch(/^\/api\/v1\/whep\/wh\/whep_[A-Za-z0-9_-]+$/);

    let seen: Awaited<ReturnType<typeof grab>>;
    await waitFor('the red picture', async () => {
      seen = await grab(page);
      return seen && seen.color[0] > 180 && seen.color[1] < 80 && seen.color[2] < 80 ? true : undefined;
    }, 15000).catch(async (error: Error) => {
      const state = await page.evaluate(() => ({ ice: window.whep?.pc.iceConnectionState, conn: window.whep?.pc.connectionState }));
      throw new Error(`${error.message}: saw ${JSON.stringify(seen)}, peer ${JSON.stringify(state)}\n${gw.output().slice(-3000)}`);
    });
    const firstPictureMs = Date.now() - posted;
    expect(seen!).toMatchObject({ width: 640, height: 360 });

    // It keeps moving: the frame counter differs from grab to grab.
    const bands = new Set<string>();
    for (let i = 0; i < 8; i += 1) {
      bands.add((await grab(page))!.band);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(bands.size).toBeGreaterThanOrEqual(6);

    // Audio arrives and keeps arriving, with a level (the tone, not silence).
    const a1 = await inboundAudio(page);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const a2 = await inboundAudio(page);
    expect(a2.packets - a1.packets).toBeGreaterThan(30);
    expect(a2.bytes).toBeGreaterThan(a1.bytes);
    // And it is the host's 440 Hz tone.
    const peak = await audioPeak(page);
    expect(Math.abs(peak.hz - 440)).toBeLessThan(25);
    expect(peak.db).toBeGreaterThan(-60);

    const during = (await gw.admin('GET', '/api/v1/whep/wh')).body;
    // Source router (2 producers) and one delivery router for Chromium's payload types (2 piped producers).
    expect(during).toMatchObject({ open: true, feed: { passthrough: true }, media: { routers: 2, producers: 4, consumers: 2, pipeConsumers: 2 } });
    expect(during.sessions).toEqual([expect.objectContaining({ userId: 'fan', connected: true, consumers: [{ kind: 'audio', paused: false }, { kind: 'video', paused: false }] })]);
    const feedPid: number = during.feed.pid;
    expect(isRunning(feedPid)).toBe(true);

    // DELETE on the Location (another user may not).
    const other = (await gw.admin('POST', '/api/v1/tokens', { userId: 'intruder', role: 'viewer', channelId: 'wh' })).body.token;
    expect((await gw.request('DELETE', started.location!, { headers: { authorization: `Bearer ${other}` } })).status).toBe(403);
    expect((await gw.request('DELETE', started.location!, { headers: { authorization: `Bearer ${viewerToken}` } })).status).toBe(200);
    const after = (await gw.admin('GET', '/api/v1/whep/wh')).body;
    expect(after.sessions).toEqual([]);
    // The player's transport and consumers are gone; the feed's plain transports and the pipe stay until idle.
    expect(after.media).toMatchObject({ consumers: 0, transports: 4 });
    expect((await gw.request('DELETE', started.location!, { headers: { authorization: `Bearer ${viewerToken}` } })).body.error.code).toBe('WHEP_SESSION_NOT_FOUND');
    // Nobody watches over WHEP any more: after the idle time the room and its ffmpeg are gone.
    await waitFor('room closed', async () => ((await gw.admin('GET', '/api/v1/whep/wh')).body.open === false ? true : undefined), 15000);
    await waitFor('its ffmpeg gone', () => (isRunning(feedPid) ? undefined : true), 3000);
    await page.close();
    process.stdout.write(`WHEP first picture ${firstPictureMs} ms after the POST\n`);
  }, 90000);

  it('ends the session when the player closes its peer connection', async () => {
    await waitFor('on air', async () => ((await gw.admin('GET', '/api/v1/channels/wh')).body.source === 'host' ? true : undefined), 20000);
    const page = await browser.newPage();
    const started = await playWhep(page, whepUrl, viewerToken);
    expect(started.status).toBe(201);
    await waitFor('playing', async () => ((await grab(page))?.width ? true : undefined), 15000).catch(async (error: Error) => {
      const state = await page.evaluate(async () => {
        const stats: unknown[] = [];
        (await window.whep!.pc.getStats()).forEach((s) => stats.push(s));
        return { ice: window.whep?.pc.iceConnectionState, conn: window.whep?.pc.connectionState, remote: window.whep?.pc.remoteDescription?.sdp, stats: stats.filter((s: any) => ['inbound-rtp', 'candidate-pair', 'transport'].includes(s.type)) };
      });
      throw new Error(`${error.message}: peer ${JSON.stringify(state, null, 1)}\n${gw.output().slice(-5000)}`);
    });
    expect((await gw.admin('GET', '/api/v1/whep/wh')).body.sessions).toHaveLength(1);
    await page.evaluate(() => window.whep!.pc.close());
    await waitFor('session gone', async () => ((await gw.admin('GET', '/api/v1/whep/wh')).body.sessions?.length === 0 ? true : undefined), 15000);
    await page.close();
  }, 60000);

  it('plays on the viewer page in low-latency mode, and stops its session when the page leaves', async () => {
    await waitFor('on air', async () => ((await gw.admin('GET', '/api/v1/channels/wh')).body.source === 'host' ? true : undefined), 20000);
    const page = await browser.newPage();
    await page.goto(`${gw.baseUrl}/#/viewer?channel=wh&token=${viewerToken}&mode=whep`);
    await page.waitForFunction(() => window.viewerPlayer?.whep?.peerConnection?.connectionState === 'connected', undefined, { timeout: 15000 });
    // grab() reads window.whep: point it at the page's own player.
    await page.evaluate(() => (window.whep = { pc: window.viewerPlayer!.whep!.peerConnection!, video: window.viewerPlayer!.video, location: '', status: 201 }));
    await waitFor('red on the viewer page', async () => ((await grab(page))?.color[0] ?? 0) > 180 ? true : undefined, 15000);
    expect(await page.textContent('#latency-mode')).toMatch(/Standard latency/);
    expect((await gw.admin('GET', '/api/v1/whep/wh')).body.sessions).toHaveLength(1);
    // Back to the standard player: the page DELETEs its WHEP session.
    await page.click('#latency-mode');
    await waitFor('session deleted', async () => ((await gw.admin('GET', '/api/v1/whep/wh')).body.sessions?.length === 0 ? true : undefined), 10000);
    await page.close();
  }, 60000);

  it('keeps the picture going across a co-hosting switch and back (passthrough → transcoded mix → passthrough)', async () => {
    await waitFor('on air', async () => ((await gw.admin('GET', '/api/v1/channels/wh')).body.source === 'host' ? true : undefined), 20000);
    const page = await browser.newPage();
    expect((await playWhep(page, whepUrl, viewerToken)).status).toBe(201);
    await waitFor('red', async () => ((await grab(page))?.color[0] ?? 0) > 180 ? true : undefined, 15000);
    // Every 100 ms: what the page shows. A frozen picture shows the same counter band.
    const samples: { at: number; band: string; color: number[] }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const g = await grab(page);
        if (g) samples.push({ at: Date.now(), band: g.band, color: g.color });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const longestFreeze = (from: number) => {
      let longest = 0;
      let since = from;
      let last = '';
      for (const x of samples.filter((x) => x.at >= from)) {
        if (x.band !== last) {
          longest = Math.max(longest, x.at - since);
          since = x.at;
          last = x.band;
        }
      }
      return Math.max(longest, (samples.at(-1)?.at ?? from) - since);
    };

    const host = await connectAs(gw, 'anchor', 'host', 'wh');
    const guest = await connectAs(gw, 'rg', 'viewer', 'wh');
    sockets.push(host, guest);
    const switchAt = Date.now();
    const { invitationId } = await ask(host, 'cohost:invite', { channelId: 'wh', userId: 'rg' });
    const { conferenceId } = await ask(guest, 'cohost:accept', { invitationId });
    const rgToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'rg', role: 'viewer', channelId: 'wh' })).body.token;
    const ingest = await gw.request('POST', `/api/v1/conferences/${conferenceId}/ingest`, { body: { userId: 'rg' }, headers: { authorization: `Bearer ${rgToken}` } });
    expect(ingest.status).toBe(201);
    const blue = publishTestStream(ingest.body.url, { color: '0x0000ff', toneHz: 1000, seconds: 300, counter: true });
    pushes.push(blue);
    await waitFor('the mix on air', async () => ((await gw.admin('GET', '/api/v1/channels/wh')).body.source === 'mix' ? true : undefined), 30000);
    // The mix (x264 High profile) is transcoded: the feed started again in the other mode, same producers.
    const mixed = await waitFor('the feed transcoding', async () => {
      const room = (await gw.admin('GET', '/api/v1/whep/wh')).body;
      return room.feed.passthrough === false && room.feed.pid ? room : undefined;
    }, 15000);
    expect(mixed.sessions).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const mixFreeze = longestFreeze(switchAt);

    const endAt = Date.now();
    expect(await ask(host, 'cohost:end', { channelId: 'wh' })).toMatchObject({ ok: true });
    await waitFor('host again', async () => ((await gw.admin('GET', '/api/v1/channels/wh')).body.source === 'host' ? true : undefined), 20000);
    const back = await waitFor('the feed passing through again', async () => {
      const room = (await gw.admin('GET', '/api/v1/whep/wh')).body;
      return room.feed.passthrough === true && room.feed.pid ? room : undefined;
    }, 15000);
    await waitFor('red again', async () => ((await grab(page))?.color[0] ?? 0) > 180 && ((await grab(page))?.color[2] ?? 255) < 80 ? true : undefined, 15000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    sampling = false;
    await sampler;
    const endFreeze = longestFreeze(endAt);
    await blue.stop();
    // Each new ffmpeg's RTP continues the last one's numbering (RtpRelay): the player saw no jump, so nothing it took for lost.
    const received = await page.evaluate(async () => {
      let lost = -1;
      (await window.whep!.pc.getStats()).forEach((x: { type: string; kind?: string; packetsLost?: number }) => {
        if (x.type === 'inbound-rtp' && x.kind === 'video') lost = x.packetsLost ?? -1;
      });
      return { lost };
    });
    process.stdout.write(`WHEP across co-hosting: longest frozen picture ${mixFreeze} ms into the mix, ${endFreeze} ms back to the host; feed started ${back.feed.starts} times; video packets lost at the player ${received.lost}\n`);
    expect(received.lost).toBe(0);
    // The session lived through both switches; the picture froze at most for a restart and a keyframe.
    expect(back.sessions).toHaveLength(1);
    expect(back.feed.starts).toBeGreaterThanOrEqual(3);
    expect(mixFreeze).toBeLessThan(1500);
    expect(endFreeze).toBeLessThan(1500);
    await page.close();
  }, 120000);

  it('ends the sessions and the room when the channel goes off air', async () => {
    await waitFor('on air', async () => ((await gw.admin('GET', '/api/v1/channels/wh')).body.source === 'host' ? true : undefined), 20000);
    const page = await browser.newPage();
    expect((await playWhep(page, whepUrl, viewerToken)).status).toBe(201);
    await waitFor('playing', async () => ((await grab(page))?.width ? true : undefined), 15000);
    const feedPid = (await gw.admin('GET', '/api/v1/whep/wh')).body.feed.pid as number;
    await pushes[0].stop();
    await waitFor('idle', async () => ((await gw.admin('GET', '/api/v1/channels/wh')).body.state === 'idle' ? true : undefined), 20000);
    await waitFor('room closed', async () => ((await gw.admin('GET', '/api/v1/whep/wh')).body.open === false ? true : undefined), 10000);
    await waitFor('its ffmpeg gone', () => (isRunning(feedPid) ? undefined : true), 3000);
    // The player hears of it (its DTLS was closed).
    await waitFor('player disconnected', async () => (['disconnected', 'failed', 'closed'].includes(await page.evaluate(() => window.whep!.pc.connectionState)) ? true : undefined), 20000);
    await page.close();
  }, 60000);
});
