import { Socket } from 'socket.io-client';
import { connectAs, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { RunningNginx, startNginx } from '../bench/support/nginx';
import { freePort, waitFor } from '../bench/support/processes';
import { RtmpWatcher } from '../bench/support/viewer';
import { publishTestStream, Publisher } from './support/media';
import { colorsAt } from './support/mix-checks';
import { colorNear } from './support/media-analysis';

describe('external origin callbacks (bodies as SRS and nginx-rtmp send them)', () => {
  let gw: RunningGateway;
  const hookSecret = 'hook-secret-0123456789';
  beforeAll(async () => {
    gw = await startGateway({ env: { LIVE_ORIGIN: 'rtmp://127.0.0.1:19350/live', LIVE_PLAY_URL: 'http://127.0.0.1:18080/live', LIVE_HOOK_SECRET: hookSecret } });
  });
  afterAll(async () => {
    await gw.stop();
    removeDir(gw.dataDir);
  });

  it('builds URLs on the external origin and decides publishes by key and stream', async () => {
    const created = await gw.admin('POST', '/api/v1/channels', { id: 'ext' });
    // The host pushes the channel's source stream; the gateway's program publishes the channel.
    expect(created.body.publishUrl).toMatch(/^rtmp:\/\/127\.0\.0\.1:19350\/live\/ext__host\?key=/);
    expect(created.body.playUrls).toEqual({ rtmp: 'rtmp://127.0.0.1:19350/live/ext', flv: 'http://127.0.0.1:18080/live/ext.flv' });
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

/** A real external origin: Debian's nginx with libnginx-mod-rtmp on loopback, its publish callbacks pointed at the gateway. */
describe('nginx-rtmp as LIVE_ORIGIN', () => {
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
      env: { LIVE_ORIGIN: nginx.liveBase, LIVE_PLAY_URL: `http://127.0.0.1:${nginx.rtmpPort}/no-http-flv`, LIVE_HOOK_SECRET: secret, MIX_RTP_MIN_PORT: '55000', MIX_RTP_MAX_PORT: '56999' },
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
      // The host has not joined the conference: the guest (blue), pushed through nginx's ingest app, fills the mix.
      await waitFor('guest in the mix', async () => {
        const [main] = await colorsAt(channel.playUrls.rtmp, 640, 360, [{ x: 40, y: 40, w: 200, h: 120 }]);
        return colorNear(main, [0, 0, 255]) ? true : undefined;
      }, 30000);
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
