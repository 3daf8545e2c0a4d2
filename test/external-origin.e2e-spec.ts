import { Socket } from 'socket.io-client';
import { connectAs, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { RunningNginx, startNginx, startNginxRtmp } from '../bench/support/nginx';
import { freePort, waitFor } from '../bench/support/processes';
import { RtmpWatcher } from '../bench/support/viewer';
import { publishTestStream, Publisher } from './support/media';
import { BLUE, colorsAt, floatRegions, tonePowers, waitForColors } from './support/mix-checks';
import { colorNear, Rgb } from './support/media-analysis';

const GREEN: Rgb = [0, 255, 0];
const mixRtpPorts = () => ({ MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' });
/** A 640x360 grid mix of a conference out to `url`. */
const gridMix = (conferenceId: string, url: string) => ({
  conferenceId,
  outputs: [{ url }],
  layout: { mode: 'grid' },
  video: { width: 640, height: 360, fps: 15, bitrateKbps: 800, gopSeconds: 1 },
  audio: { sampleRate: 48000, channels: 2, bitrateKbps: 96 },
});

describe('external origin callbacks (bodies as SRS and nginx-rtmp send them), origin-side ingest', () => {
  let gw: RunningGateway;
  const hookSecret = 'hook-secret-0123456789';
  beforeAll(async () => {
    gw = await startGateway({
      env: { LIVE_ORIGIN: 'rtmp://127.0.0.1:19350/live', LIVE_INGEST: 'origin', LIVE_PLAY_URL: 'http://127.0.0.1:18080/live', LIVE_HOOK_SECRET: hookSecret },
    });
  });
  afterAll(async () => {
    await gw.stop();
    removeDir(gw.dataDir);
  });

  it('builds URLs on the external origin and decides publishes by key and stream', async () => {
    const created = await gw.admin('POST', '/api/v1/channels', { id: 'ext' });
    // The host pushes the channel's source stream; the gateway's program publishes the channel.
    expect(created.body.publishUrl).toMatch(/^rtmp:\/\/127\.0\.0\.1:19350\/live\/ext__host\?key=/);
    // HLS is the gateway's own on any origin.
    expect(created.body.playUrls).toMatchObject({ rtmp: 'rtmp://127.0.0.1:19350/live/ext', flv: 'http://127.0.0.1:18080/live/ext.flv', hls: `${gw.baseUrl}/hls/ext/index.m3u8` });
    const key = new URL(created.body.publishUrl).searchParams.get('key')!;
    const hook = (event: string, body: object, secret = hookSecret) =>
      gw.request('POST', `/api/v1/live/hooks/${event}?secret=${secret}`, { body });

    expect((await hook('on_publish', { action: 'on_publish', app: 'live', stream: 'ext__host', param: '?key=wrong', client_id: 1 })).status).toBe(403);
    expect((await hook('on_publish', { stream: 'ext__host', param: `?key=${key}`, client_id: 1 }, 'wrong-secret-000000')).status).toBe(403);
    // Nobody but the gateway publishes the channel itself, not even with the host's key.
    expect((await hook('on_publish', { action: 'on_publish', app: 'live', stream: 'ext', param: `?key=${key}`, client_id: 2 })).status).toBe(403);

    // SRS style (JSON, key in `param`).
    const ok = await hook('on_publish', { action: 'on_publish', app: 'live', stream: 'ext__host', param: `?key=${key}`, client_id: 7 });
    expect(ok).toMatchObject({ status: 200, body: { code: 0 } });
    await waitFor('host push noticed', () => (gw.output().includes('channel ext: host started publishing the source') ? true : undefined));
    expect((await hook('on_unpublish', { action: 'on_unpublish', stream: 'ext__host', client_id: 7 })).status).toBe(200);

    // nginx-rtmp style (form fields, key as its own field).
    const form = await gw.request('POST', `/api/v1/live/hooks/on_publish?secret=${hookSecret}`, {
      raw: new URLSearchParams({ call: 'publish', app: 'live', name: 'ext__host', key, clientid: '9' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(200);
  });
});

/**
 * What an operator gets by setting only LIVE_ORIGIN, against nginx-rtmp's stock
 * configuration: one `live` application, no hooks, anyone may publish and play.
 * Hosts and RTMP participants push to the gateway's own RTMP ingest; only channel
 * programs and mix outputs go to nginx, where viewers play them.
 */
describe('a stock nginx-rtmp (one `live` application, no hooks) as LIVE_ORIGIN', () => {
  let gw: RunningGateway;
  let nginx: RunningNginx;
  const pushes: Publisher[] = [];

  beforeAll(async () => {
    nginx = await startNginxRtmp();
    gw = await startGateway({ env: { LIVE_ORIGIN: nginx.liveBase, ...mixRtpPorts() } });
  });
  afterAll(async () => {
    for (const p of pushes) await p.stop();
    try {
      await gw?.stop();
    } finally {
      if (gw) removeDir(gw.dataDir);
      await nginx?.stop();
    }
  });

  const channelView = async (id: string) => (await gw.admin('GET', `/api/v1/channels/${id}`)).body;

  it("puts the host's push on air at <LIVE_ORIGIN>/<channelId>", async () => {
    const created = await gw.admin('POST', '/api/v1/channels', { id: 'stock' });
    expect(created.status).toBe(201);
    const channel = created.body;
    // The host pushes to the gateway's own ingest; viewers play the channel on nginx.
    expect(channel.publishUrl).toMatch(new RegExp(`^rtmp://127\\.0\\.0\\.1:${gw.rtmpPort}/live/stock__host\\?key=`));
    expect(channel.playUrls.rtmp).toBe(`${nginx.liveBase}/stock`);
    pushes.push(publishTestStream(channel.publishUrl, { color: '0x00ff00', toneHz: 440, seconds: 300 }));
    await waitFor('channel live', async () => ((await channelView('stock')).state === 'live' ? true : undefined), 20000);
    expect(await channelView('stock')).toMatchObject({ state: 'live', source: 'host' });

    await waitForColors(`${nginx.liveBase}/stock`, 640, 360, [{ region: { x: 100, y: 100, w: 200, h: 100 }, color: GREEN }], 20000);
    const [p440, p1000] = await tonePowers(`${nginx.liveBase}/stock`, [440, 1000]);
    expect(p440).toBeGreaterThan(20 * p1000);
  }, 60000);

  it('takes an RTMP participant from POST /conferences/:id/ingest and mixes them into the channel and to another stream on nginx', async () => {
    const token = (await gw.admin('POST', '/api/v1/tokens', { userId: 'anchor', role: 'host', channelId: 'stock' })).body.token;
    const headers = { authorization: `Bearer ${token}` };
    const conference = await gw.request('POST', '/api/v1/conferences', { body: { title: 'stock origin' }, headers });
    expect(conference.status).toBe(201);
    const conferenceId = conference.body.id;
    // The host is the conference's first member, and asks for their own push URL ("that member").
    const ingest = await gw.request('POST', `/api/v1/conferences/${conferenceId}/ingest`, { body: { userId: 'anchor' }, headers });
    expect(ingest.status).toBe(201);
    // The gateway's own ingest, not an `ingest` application nginx does not have.
    expect(ingest.body.url).toMatch(new RegExp(`^rtmp://127\\.0\\.0\\.1:${gw.rtmpPort}/ingest/`));
    pushes.push(publishTestStream(ingest.body.url, { color: '0x0000ff', toneHz: 1000, seconds: 300 }));
    await waitFor('RTMP participant appears', async () => {
      const view = await gw.request('GET', `/api/v1/conferences/${conferenceId}`, { headers });
      return view.body.participants?.some((p: { userId: string; via: string; video: boolean }) => p.userId === 'anchor' && p.via === 'rtmp' && p.video) ? true : undefined;
    }, 20000);

    // Mixed into the channel (bypass live): the program on nginx switches to the mix.
    expect(await gw.admin('PUT', `/api/v1/conferences/${conferenceId}/live`, { channelId: 'stock', onDemand: false })).toMatchObject({ status: 200 });
    await waitFor('mix on air', async () => ((await channelView('stock')).source === 'mix' ? true : undefined), 30000);
    await waitForColors(`${nginx.liveBase}/stock`, 1280, 720, [{ region: { x: 400, y: 200, w: 400, h: 200 }, color: BLUE }], 30000);
    await waitFor('the participant\'s tone', async () => {
      const [p440, p1000] = await tonePowers(`${nginx.liveBase}/stock`, [440, 1000]);
      return p1000 > 20 * p440 ? true : undefined;
    }, 20000);

    // A mix task's output straight to nginx (MIX_OUTPUT_ALLOW defaults to the live origin).
    const task = await gw.request('POST', '/api/v1/mix-tasks', { body: gridMix(conferenceId, `${nginx.liveBase}/stock-mix`), headers });
    expect(task.status).toBe(201);
    await waitFor('output live', async () => {
      const view = (await gw.request('GET', `/api/v1/mix-tasks/${task.body.id}`, { headers })).body;
      return view.state === 'active' && view.outputs[0]?.state === 'live' ? true : undefined;
    }, 20000);
    await waitForColors(`${nginx.liveBase}/stock-mix`, 640, 360, [{ region: { x: 220, y: 130, w: 200, h: 100 }, color: BLUE }], 20000);
  }, 120000);
});

/**
 * The same stock setup with nginx's publish and play callbacks pointed at the
 * gateway (LIVE_HOOK_SECRET), ingest still at the gateway: every publish the
 * gateway makes itself passes its own hook, strangers do not.
 */
describe('nginx-rtmp with hooks at the gateway, gateway-side ingest (the default)', () => {
  let gw: RunningGateway;
  let nginx: RunningNginx;
  const pushes: Publisher[] = [];
  const secret = 'nginx-hook-secret-0123456789';

  beforeAll(async () => {
    const port = await freePort();
    nginx = await startNginxRtmp({ hooks: { gatewayPort: port, secret }, apps: ['live'] });
    gw = await startGateway({ port, env: { LIVE_ORIGIN: nginx.liveBase, LIVE_HOOK_SECRET: secret, ...mixRtpPorts() } });
  });
  afterAll(async () => {
    for (const p of pushes) await p.stop();
    try {
      await gw?.stop();
    } finally {
      if (gw) removeDir(gw.dataDir);
      await nginx?.stop();
    }
  });

  it('accepts the channel program and a mix output by their gateway keys, and counts viewers from on_play', async () => {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'hk' })).body;
    pushes.push(publishTestStream(channel.publishUrl, { color: '0x00ff00', toneHz: 440, seconds: 300 }));
    await waitFor('host on air through nginx', async () => ((await gw.admin('GET', '/api/v1/channels/hk')).body.source === 'host' ? true : undefined), 20000);
    await waitForColors(channel.playUrls.rtmp, 640, 360, [{ region: { x: 100, y: 100, w: 200, h: 100 }, color: GREEN }], 20000);

    // Strangers are refused by the hook: no key, and the host's key on the channel itself.
    const key = new URL(channel.publishUrl).searchParams.get('key');
    for (const url of [`${nginx.liveBase}/stray`, `${nginx.liveBase}/hk?key=${key}`]) {
      const intruder = publishTestStream(url, { seconds: 5 });
      expect((await intruder.exited).code).not.toBe(0);
    }

    const viewer = new RtmpWatcher(channel.playUrls.rtmp);
    try {
      await waitFor('viewer counted', async () => ((await gw.admin('GET', '/api/v1/channels/hk')).body.viewers >= 1 ? true : undefined), 20000);
    } finally {
      viewer.stop();
    }

    const token = (await gw.admin('POST', '/api/v1/tokens', { userId: 'anchor', role: 'host', channelId: 'hk' })).body.token;
    const headers = { authorization: `Bearer ${token}` };
    const conferenceId = (await gw.request('POST', '/api/v1/conferences', { body: {}, headers })).body.id;
    const ingest = (await gw.request('POST', `/api/v1/conferences/${conferenceId}/ingest`, { body: { userId: 'anchor' }, headers })).body.url;
    expect(ingest.startsWith(`rtmp://127.0.0.1:${gw.rtmpPort}/ingest/`)).toBe(true);
    pushes.push(publishTestStream(ingest, { color: '0x0000ff', toneHz: 1000, seconds: 300 }));
    await waitFor('RTMP participant appears', async () => {
      const view = await gw.request('GET', `/api/v1/conferences/${conferenceId}`, { headers });
      return view.body.participants?.some((p: { via: string; video: boolean }) => p.via === 'rtmp' && p.video) ? true : undefined;
    }, 20000);

    // The output URL names no key: the gateway signs it, and its hook lets it through.
    const task = await gw.request('POST', '/api/v1/mix-tasks', { body: gridMix(conferenceId, `${nginx.liveBase}/hk-mix`), headers });
    expect(task.status).toBe(201);
    await waitFor('output live', async () => {
      const view = (await gw.request('GET', `/api/v1/mix-tasks/${task.body.id}`, { headers })).body;
      return view.state === 'active' && view.outputs[0]?.state === 'live' ? true : undefined;
    }, 20000);
    // The task shows the URL it was given, not the signed one.
    expect((await gw.request('GET', `/api/v1/mix-tasks/${task.body.id}`, { headers })).body.outputs[0].url).toBe(`${nginx.liveBase}/hk-mix`);
    await waitForColors(`${nginx.liveBase}/hk-mix`, 640, 360, [{ region: { x: 220, y: 130, w: 200, h: 100 }, color: BLUE }], 20000);
    expect(gw.output()).not.toMatch(/publish to \/live\/hk-mix refused/);
  }, 120000);
});

/**
 * Origin-side ingest (LIVE_INGEST=origin): Debian's nginx with libnginx-mod-rtmp on
 * loopback, `live` and `ingest` applications whose publish callbacks point at the gateway.
 */
describe('nginx-rtmp as LIVE_ORIGIN with LIVE_INGEST=origin', () => {
  let gw: RunningGateway;
  let nginx: RunningNginx;
  const pushes: Publisher[] = [];
  const sockets: Socket[] = [];
  const secret = 'nginx-hook-secret-0123456789';

  beforeAll(async () => {
    const port = await freePort();
    nginx = await startNginx(port, secret);
    gw = await startGateway({
      port,
      env: {
        LIVE_ORIGIN: nginx.liveBase,
        LIVE_INGEST: 'origin',
        LIVE_PLAY_URL: `http://127.0.0.1:${nginx.rtmpPort}/no-http-flv`,
        LIVE_HOOK_SECRET: secret,
        MIX_RTP_MIN_PORT: '55000',
        MIX_RTP_MAX_PORT: '56999',
      },
    });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const p of pushes) await p.stop();
    try {
      await gw?.stop();
    } finally {
      if (process.env.DEBUG_GW) require('node:fs').writeFileSync('/tmp/gw-ext.log', gw.output());
      removeDir(gw.dataDir);
      await nginx?.stop();
    }
  });

  it('airs the host, refuses other publishers, and co-hosts with one continuous timeline at a viewer', async () => {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'nx' })).body;
    const source = async () => (await gw.admin('GET', '/api/v1/channels/nx')).body.source;
    pushes.push(publishTestStream(channel.publishUrl, { color: '0x00ff00', toneHz: 440, seconds: 300 }));
    await waitFor('host on air through nginx', async () => ((await source()) === 'host' ? true : undefined), 20000);
    const [green] = await colorsAt(channel.playUrls.rtmp, 640, 360, [{ x: 100, y: 100, w: 200, h: 100 }]);
    expect(colorNear(green, [0, 255, 0])).toBe(true);

    // The host's key does not open the channel itself (nginx asks the gateway, which refuses).
    const key = new URL(channel.publishUrl).searchParams.get('key');
    const intruder = publishTestStream(`${nginx.liveBase}/nx?key=${key}`, { seconds: 5 });
    expect((await intruder.exited).code).not.toBe(0);

    const viewer = new RtmpWatcher(channel.playUrls.rtmp);
    try {
      await waitFor('viewer playing', () => (viewer.frames.length > 25 ? true : undefined), 20000);
      const connect = async (userId: string, role: string) => {
        const socket = await connectAs(gw, userId, role, 'nx');
        sockets.push(socket);
        return socket;
      };
      const host = await connect('anchor', 'host');
      const guest = await connect('guest', 'viewer');
      const invited = await host.emitWithAck('cohost:invite', { channelId: 'nx', userId: 'guest' });
      const accepted = await guest.emitWithAck('cohost:accept', { invitationId: invited.invitationId });
      expect(accepted).toMatchObject({ ok: true });
      // RTMP participants push into nginx's `ingest` app; the gateway learns of them by the same hooks.
      const ingest = (await gw.admin('POST', `/api/v1/conferences/${accepted.conferenceId}/ingest`, { userId: 'guest' })).body.url;
      expect(ingest.startsWith(`rtmp://127.0.0.1:${nginx.rtmpPort}/ingest/`)).toBe(true);
      pushes.push(publishTestStream(ingest, { color: '0x0000ff', toneHz: 1000, seconds: 300 }));
      await waitFor('mix on air', async () => ((await source()) === 'mix' ? true : undefined), 20000);
      // The host's own push (green, on nginx's live app) is the host's picture, filling the float layout;
      // the guest (blue), pushed through nginx's ingest app, sits in its window.
      const { main: MAIN, guestWindow: WINDOW } = floatRegions(640, 360, 'anchor', 'guest');
      await waitFor('host and guest in the mix', async () => {
        const [main, window] = await colorsAt(channel.playUrls.rtmp, 640, 360, [MAIN, WINDOW]);
        return colorNear(main, [0, 255, 0]) && colorNear(window, [0, 0, 255]) ? true : undefined;
      }, 30000);
      // The gateway's own mix output to nginx passes its own on_publish hook (signed with its key).
      const task = await gw.admin('POST', '/api/v1/mix-tasks', gridMix(accepted.conferenceId, `${nginx.liveBase}/nx-out`));
      expect(task.status).toBe(201);
      await waitFor('extra output live', async () => ((await gw.admin('GET', `/api/v1/mix-tasks/${task.body.id}`)).body.outputs[0]?.state === 'live' ? true : undefined), 20000);
      // Grid of two: the host on the left, the guest on the right.
      await waitForColors(`${nginx.liveBase}/nx-out`, 640, 360, [{ region: { x: 60, y: 130, w: 200, h: 100 }, color: [0, 255, 0] }, { region: { x: 380, y: 130, w: 200, h: 100 }, color: BLUE }], 20000);
      expect((await gw.admin('DELETE', `/api/v1/mix-tasks/${task.body.id}`)).status).toBe(200);
      expect(await host.emitWithAck('cohost:end', { channelId: 'nx' })).toEqual({ ok: true });
      await waitFor('host back on air', async () => ((await source()) === 'host' ? true : undefined), 20000);
      await new Promise((r) => setTimeout(r, 2000));
      const seen = viewer.stats();
      expect(seen.connectionKept).toBe(true);
      expect(seen.maxBackwardMs).toBe(0);
      expect(seen.maxTsStepMs).toBeLessThanOrEqual(500);
      expect(seen.maxGapMs).toBeLessThan(1000);
    } finally {
      viewer.stop();
    }
  }, 120000);
});
