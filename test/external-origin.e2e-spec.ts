import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';

/**
 * An external origin (SRS / nginx-rtmp) cannot run on this machine, so its HTTP
 * callbacks are played by this test with the exact bodies those servers send.
 * Everything on the gateway side is real.
 */
describe('external origin callbacks', () => {
  let gw: RunningGateway;
  const hookSecret = 'hook-secret-0123456789';
  beforeAll(async () => {
    gw = await startGateway({ env: { LIVE_ORIGIN: 'rtmp://127.0.0.1:19350/live', LIVE_PLAY_URL: 'http://127.0.0.1:18080/live', LIVE_HOOK_SECRET: hookSecret } });
  });
  afterAll(async () => {
    await gw.stop();
    removeDir(gw.dataDir);
  });

  it('builds URLs on the external origin and follows SRS and nginx-rtmp callbacks', async () => {
    const created = await gw.admin('POST', '/api/v1/channels', { id: 'ext' });
    expect(created.body.publishUrl).toMatch(/^rtmp:\/\/127\.0\.0\.1:19350\/live\/ext\?key=/);
    expect(created.body.playUrls).toEqual({ rtmp: 'rtmp://127.0.0.1:19350/live/ext', flv: 'http://127.0.0.1:18080/live/ext.flv' });
    const key = new URL(created.body.publishUrl).searchParams.get('key')!;
    const hook = (event: string, body: object, secret = hookSecret) =>
      gw.request('POST', `/api/v1/live/hooks/${event}?secret=${secret}`, { body });

    expect((await hook('on_publish', { action: 'on_publish', app: 'live', stream: 'ext', param: '?key=wrong', client_id: 1 })).status).toBe(403);
    expect((await hook('on_publish', { stream: 'ext', param: `?key=${key}`, client_id: 1 }, 'wrong-secret-000000')).status).toBe(403);
    expect((await gw.admin('GET', '/api/v1/channels/ext')).body.state).toBe('idle');

    // SRS style (JSON, key in `param`).
    const ok = await hook('on_publish', { action: 'on_publish', app: 'live', stream: 'ext', param: `?key=${key}`, client_id: 7 });
    expect(ok).toMatchObject({ status: 200, body: { code: 0 } });
    expect((await gw.admin('GET', '/api/v1/channels/ext')).body).toMatchObject({ state: 'live', source: 'host' });
    await hook('on_unpublish', { action: 'on_unpublish', stream: 'ext', client_id: 7 });
    expect((await gw.admin('GET', '/api/v1/channels/ext')).body.state).toBe('idle');

    // nginx-rtmp style (form fields, key as its own field).
    const form = await gw.request('POST', `/api/v1/live/hooks/on_publish?secret=${hookSecret}`, {
      raw: new URLSearchParams({ call: 'publish', app: 'live', name: 'ext', key, clientid: '9' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(200);
    expect((await gw.admin('GET', '/api/v1/channels/ext')).body.state).toBe('live');
  });
});
