import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { removeDir, RunningGateway, startGateway, workerPids } from '../bench/support/gateway';
import { colorNear, dominantFrequency, meanColor, pcmToFloat } from './support/media-analysis';
import { grabAudio, grabFrames, probe, publishTestStream } from './support/media';
import { descendantPids, isRunning, waitFor } from '../bench/support/processes';

const run = promisify(execFile);
const MAIN = join(__dirname, '..', 'dist', 'apps', 'gateway', 'src', 'main.js');

/** Runs the gateway with a bad environment; it must refuse to start and name the keys. */
async function startWithEnv(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [MAIN], { env: { PATH: process.env.PATH, DATA_DIR: '/tmp/gw-config-test', ...env }, timeout: 20000 });
    return { code: 0, stderr: '' };
  } catch (error) {
    const e = error as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe('foundation (real gateway, real mediasoup workers, real origin, real ffmpeg)', () => {
  let gw: RunningGateway;
  let tokens: Record<'host' | 'viewer', string>;

  beforeAll(async () => {
    gw = await startGateway();
    const host = await gw.admin('POST', '/api/v1/tokens', { userId: 'alice', role: 'host', channelId: 'show' });
    const viewer = await gw.admin('POST', '/api/v1/tokens', { userId: 'bob', role: 'viewer' });
    tokens = { host: host.body.token, viewer: viewer.body.token };
  });

  afterAll(async () => {
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  describe('config errors stop start-up and name the key', () => {
    it('names every bad key and exits non-zero', async () => {
      const { code, stderr } = await startWithEnv({ PORT: 'abc', RTC_MIN_PORT: '50000', RTC_MAX_PORT: '40000', LIVE_ORIGIN: 'ftp://x' });
      expect(code).toBe(2);
      expect(stderr).toMatch(/configuration error/);
      expect(stderr).toMatch(/PORT:/);
      expect(stderr).toMatch(/LIVE_ORIGIN:/);
    });

    it('masks secret values', async () => {
      const { code, stderr } = await startWithEnv({ JWT_SECRET: 'too-short-secret' });
      expect(code).toBe(2);
      expect(stderr).toMatch(/JWT_SECRET: /);
      expect(stderr).not.toContain('too-short-secret');
    });
  });

  describe('auth and roles', () => {
    it.each([
      ['no credentials', {}, 401, 'UNAUTHENTICATED'],
      ['a wrong admin key', { 'x-api-key': 'wrong-key-wrong-key-wrong' }, 401, 'INVALID_API_KEY'],
      ['a garbage token', { authorization: 'Bearer abc.def.ghi' }, 401, 'TOKEN_INVALID'],
    ])('POST /channels with %s is refused', async (_label, headers, status, code) => {
      const res = await gw.request('POST', '/api/v1/channels', { body: { id: 'nope' }, headers: headers as Record<string, string> });
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
    });

    it('refuses host and viewer tokens on admin routes', async () => {
      for (const token of [tokens.host, tokens.viewer]) {
        const channel = await gw.request('POST', '/api/v1/channels', { body: {}, headers: { authorization: `Bearer ${token}` } });
        expect(channel).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
        const token2 = await gw.request('POST', '/api/v1/tokens', { body: { userId: 'x', role: 'host' }, headers: { authorization: `Bearer ${token}` } });
        expect(token2.status).toBe(403);
      }
    });

    it('refuses an expired token with TOKEN_EXPIRED', async () => {
      const secret = readFileSync(join(gw.dataDir, 'jwt-secret'), 'utf8').trim();
      const expired = jwt.sign({ sub: 'bob', role: 'viewer', exp: Math.floor(Date.now() / 1000) - 5 }, secret, { issuer: 'cohost-gateway' });
      const res = await gw.request('GET', '/api/v1/channels/whatever', { headers: { authorization: `Bearer ${expired}` } });
      expect(res).toMatchObject({ status: 401, body: { error: { code: 'TOKEN_EXPIRED' } } });
    });

    it('validates bodies with typed errors', async () => {
      expect(await gw.admin('POST', '/api/v1/tokens', { userId: 'a', role: 'emperor' })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
      expect(await gw.admin('POST', '/api/v1/channels', { id: '../etc/passwd' })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
      expect(await gw.admin('POST', '/api/v1/channels', { id: 'x', extra: 1 })).toMatchObject({ status: 400 });
      // `__host` is reserved for the host's source stream of a channel.
      expect(await gw.admin('POST', '/api/v1/channels', { id: 'show__host' })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
      const malformed = await gw.request('POST', '/api/v1/channels', { raw: '{"id":', headers: { 'x-api-key': gw.adminKey } });
      expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST_BODY' } } });
      expect(await gw.admin('GET', '/api/v1/channels/missing')).toMatchObject({ status: 404, body: { error: { code: 'CHANNEL_NOT_FOUND' } } });
      expect(await gw.admin('GET', '/api/v1/no-such-route')).toMatchObject({ status: 404, body: { error: { code: 'ROUTE_NOT_FOUND' } } });
    });
  });

  describe('channels on the real origin', () => {
    it('publishes with the key, plays over HTTP-FLV and RTMP, refuses a wrong key', async () => {
      const created = await gw.admin('POST', '/api/v1/channels', { id: 'show', title: 'The Show' });
      expect(created.status).toBe(201);
      const { publishUrl, playUrls } = created.body;
      // The host pushes a private source stream; the gateway's program publishes the channel viewers play.
      expect(publishUrl).toMatch(new RegExp(`^rtmp://127\\.0\\.0\\.1:${gw.rtmpPort}/live/show__host\\?key=[A-Za-z0-9_-]{20,}$`));
      expect(playUrls).toMatchObject({ rtmp: `rtmp://127.0.0.1:${gw.rtmpPort}/live/show`, flv: `http://127.0.0.1:${gw.httpPort}/live/show.flv`, hls: `${gw.baseUrl}/hls/show/index.m3u8` });
      const key = new URL(publishUrl).searchParams.get('key')!;
      expect(JSON.stringify(playUrls)).not.toContain(key);
      expect(await gw.admin('POST', '/api/v1/channels', { id: 'show' })).toMatchObject({ status: 409, body: { error: { code: 'CHANNEL_EXISTS' } } });

      // A viewer token may read the state; nothing is live yet.
      const idle = await gw.request('GET', '/api/v1/channels/show', { headers: { authorization: `Bearer ${tokens.viewer}` } });
      expect(idle.body).toMatchObject({ id: 'show', state: 'idle', source: 'none' });
      expect(JSON.stringify(idle.body)).not.toContain(key);

      // A wrong key is refused by the origin, and the channel stays idle.
      const intruder = publishTestStream(publishUrl.replace(key, 'wrong-key'), { seconds: 5 });
      const refused = await intruder.exited;
      expect(refused.code).not.toBe(0);
      // Nobody but the gateway publishes the channel itself, not even with the host's key.
      const direct = publishTestStream(`rtmp://127.0.0.1:${gw.rtmpPort}/live/show?key=${key}`, { seconds: 5 });
      expect((await direct.exited).code).not.toBe(0);
      expect((await gw.admin('GET', '/api/v1/channels/show')).body.state).toBe('idle');

      // The host's push: green picture, 440 Hz tone.
      const host = publishTestStream(publishUrl, { color: '0x00ff00', toneHz: 440 });
      try {
        await waitFor('channel live', async () => {
          const { body } = await gw.admin('GET', '/api/v1/channels/show');
          return body.state === 'live' && body.source === 'host' ? body : undefined;
        });

        const streams = await probe(playUrls.flv);
        expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
        expect(streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac' });

        const frames = await grabFrames(playUrls.flv, 5, 640, 360);
        expect(frames).toHaveLength(5);
        for (const frame of frames) {
          expect(colorNear(meanColor(frame, 640, { x: 100, y: 100, w: 200, h: 100 }), [0, 255, 0])).toBe(true);
        }
        const tone = dominantFrequency(pcmToFloat(await grabAudio(playUrls.flv, 1)), 48000);
        expect(Math.abs(tone - 440)).toBeLessThanOrEqual(10);

        // RTMP play works too, and a second push while live is also refused with a wrong key.
        const rtmpFrames = await grabFrames(playUrls.rtmp, 2, 640, 360);
        expect(rtmpFrames).toHaveLength(2);
      } finally {
        await host.stop();
      }
      await waitFor('channel idle', async () => {
        const { body } = await gw.admin('GET', '/api/v1/channels/show');
        return body.state === 'idle' && body.source === 'none' ? true : undefined;
      });
    });
  });

  describe('supervision', () => {
    const slotPids = async () => [...(await workerPids(gw))].map(([slot, pid]) => ({ slot, pid }));

    it('replaces a mediasoup worker that dies', async () => {
      const before = await slotPids();
      expect(before).toHaveLength(2);
      process.kill(before[0].pid, 'SIGKILL');
      const after = await waitFor('worker replaced', async () => {
        const rows = await slotPids();
        return rows.length === 2 && !rows.some((r) => r.pid === before[0].pid) ? rows : undefined;
      });
      expect(after.find((r) => r.slot === before[0].slot)!.pid).not.toBe(before[0].pid);
      const metrics = (await gw.request('GET', '/metrics')).body as string;
      expect(metrics).toContain(`gateway_sfu_worker_deaths{slot="${before[0].slot}"} 1`);
      expect(gw.output()).toMatch(/mediasoup worker \d \(pid \d+\) died/);
      expect((await gw.request('GET', '/healthz')).body).toMatchObject({ status: 'ok', sfu: { workers: 2 } });
    });

    it('serves health, metrics and OpenAPI', async () => {
      expect((await gw.request('GET', '/healthz')).status).toBe(200);
      const metrics = await gw.request('GET', '/metrics');
      expect(metrics.body).toMatch(/gateway_channels\{state="idle"\} 1/);
      expect(metrics.body).toMatch(/gateway_live_origin_up 1/);
      const docs = await gw.request('GET', '/api/docs-json');
      expect(Object.keys(docs.body.paths)).toEqual(expect.arrayContaining(['/api/v1/tokens', '/api/v1/channels', '/api/v1/channels/{id}']));
    });
  });
});

describe('restart and shutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('keeps channels and tokens across a restart, and %s leaves no process behind', async (signal) => {
    const first = await startGateway();
    try {
      const created = await first.admin('POST', '/api/v1/channels', { id: 'persist', title: 'Kept' });
      const { body: token } = await first.admin('POST', '/api/v1/tokens', { userId: 'v', role: 'viewer', ttlSeconds: 600 });
      // Start a push so the origin has work in flight when the signal arrives.
      const pub = publishTestStream(created.body.publishUrl, { seconds: 30 });
      await waitFor('live', async () => ((await first.admin('GET', '/api/v1/channels/persist')).body.state === 'live' ? true : undefined));
      const children = descendantPids(first.pid);
      expect(children.length).toBeGreaterThanOrEqual(3); // 2 workers + origin
      const exit = await first.stop(signal);
      // Nest re-raises the signal after its shutdown hooks ran: exit by that signal, or 0.
      expect(exit.code === 0 || exit.signal === signal).toBe(true);
      for (const pid of children) expect(isRunning(pid)).toBe(false);
      await pub.stop();

      const second = await startGateway({ dataDir: first.dataDir });
      try {
        const again = await second.request('GET', '/api/v1/channels/persist', { headers: { authorization: `Bearer ${token.token}` } });
        expect(again).toMatchObject({ status: 200, body: { id: 'persist', title: 'Kept', state: 'idle' } });
        // The same publish key still works on the new origin.
        const url = created.body.publishUrl.replace(`:${first.rtmpPort}/`, `:${second.rtmpPort}/`);
        const pub2 = publishTestStream(url, { seconds: 30 });
        await waitFor('live again', async () => ((await second.admin('GET', '/api/v1/channels/persist')).body.state === 'live' ? true : undefined));
        await pub2.stop();
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
      removeDir(first.dataDir);
    }
  });
});
