import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Browser, Page } from 'playwright-core';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { waitFor } from '../bench/support/processes';
import { launchChromium } from './support/browser';
import { probe, publishTestStream, Publisher } from './support/media';
import { colorNear, Rgb } from './support/media-analysis';
import { BLUE, RED, tonePowers, waitForColors } from './support/mix-checks';
import { PlayerState, playerState, readPlaylist, startPlayer } from './support/hls-player';

const run = promisify(execFile);

const W = 640;
const H = 360;

/**
 * A channel's program as HLS and LL-HLS, served by the gateway: a host pushes
 * red 640x360 with a 440 Hz tone; ffmpeg reads the plain playlist and decodes
 * the right pictures and the tone; the LL-HLS playlist has parts, a blocking
 * reload returns only once the part asked for exists, bad directives are 400,
 * unknown channels a typed 404, and the playlist never goes backwards;
 * hls.js in Chromium plays it, also when the host's encoder is replaced by one
 * with other settings (a new init after a discontinuity, as when a mix with
 * other encoder settings is spliced in).
 */
describe('HLS and LL-HLS of a channel', () => {
  let gw: RunningGateway;
  let host: Publisher | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const playlistRequests: string[] = [];
  let hlsUrl: string;
  let publishUrl: string;
  const plainUrl = () => hlsUrl.replace(/index\.m3u8$/, 'plain.m3u8');
  const get = (url: string) => fetch(url);

  beforeAll(async () => {
    gw = await startGateway();
  }, 60000);

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('names playUrls.hls on the gateway and answers a typed 404 before the channel is on air and for unknown channels', async () => {
    const created = await gw.admin('POST', '/api/v1/channels', { id: 'hlsshow' });
    expect(created.status).toBe(201);
    hlsUrl = created.body.playUrls.hls;
    publishUrl = created.body.publishUrl;
    expect(hlsUrl).toBe(`${gw.baseUrl}/hls/hlsshow/index.m3u8`);
    expect((await gw.admin('GET', '/api/v1/channels/hlsshow')).body.playUrls).toMatchObject({ hls: hlsUrl, flv: expect.stringMatching(/\.flv$/) });

    const unknown = await gw.request('GET', '/hls/nosuch/index.m3u8');
    expect(unknown).toEqual({ status: 404, body: { error: { code: 'CHANNEL_NOT_FOUND', message: expect.any(String) } } });
    const idle = await gw.request('GET', '/hls/hlsshow/plain.m3u8');
    expect(idle).toEqual({ status: 404, body: { error: { code: 'CHANNEL_NOT_LIVE', message: expect.any(String) } } });
  });

  it('plays the host as plain HLS in ffmpeg: red 640x360 pictures and the 440 Hz tone', async () => {
    host = publishTestStream(publishUrl, { color: '0xff0000', toneHz: 440, counter: true, seconds: 300 });
    await waitFor('host on air', async () => ((await gw.admin('GET', '/api/v1/channels/hlsshow')).body.source === 'host' ? true : undefined), 20000);
    await waitFor('a first segment', async () => ((await get(plainUrl())).status === 200 ? true : undefined), 15000);

    const response = await get(plainUrl());
    expect(response.headers.get('content-type')).toMatch(/^application\/vnd\.apple\.mpegurl/);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const text = await response.text();
    expect(text).not.toContain('#EXT-X-PART');
    expect(text).toContain('#EXT-X-MAP:URI="init-0.mp4"');

    const streams = await probe(plainUrl());
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: W, height: H });
    expect(streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac', sample_rate: '48000' });
    await waitForColors(plainUrl(), W, H, [{ region: { x: 40, y: 120, w: 200, h: 120 }, color: RED }]);
    const [tone, other] = await tonePowers(plainUrl(), [440, 1000]);
    expect(tone).toBeGreaterThan(0.5);
    expect(other).toBeLessThan(0.05);
  }, 90000);

  it('LL-HLS: parts of about 300 ms, independent at keyframes, media with their content types', async () => {
    const response = await get(hlsUrl);
    const text = await response.text();
    expect(text).toMatch(/#EXT-X-VERSION:9/);
    expect(text).toMatch(/#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0\.900/);
    expect(text).toMatch(/#EXT-X-PART-INF:PART-TARGET=0\.300/);
    const playlist = readPlaylist(text);
    expect(playlist.parts.length).toBeGreaterThan(3);
    expect(playlist.parts.every((p) => p.duration > 0 && p.duration <= 0.3)).toBe(true);
    expect(playlist.parts.some((p) => p.independent && p.index === 0)).toBe(true);
    expect(playlist.hint).toBeDefined();

    const init = await get(new URL('init-0.mp4', hlsUrl).href);
    expect(init.status).toBe(200);
    expect(init.headers.get('content-type')).toBe('video/mp4');
    expect(init.headers.get('access-control-allow-origin')).toBe('*');
    expect(init.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const seg = playlist.segments.at(-1)!;
    const segment = Buffer.from(await (await get(new URL(`seg-${seg}.m4s`, hlsUrl).href)).arrayBuffer());
    expect(segment.toString('latin1', 4, 8)).toBe('moof');
    expect((await get(new URL('seg-99999.m4s', hlsUrl).href)).status).toBe(404);
    expect((await gw.request('GET', '/hls/hlsshow/nothing.txt')).body).toEqual({ error: { code: 'HLS_NOT_FOUND', message: expect.any(String) } });
  });

  it('a blocking reload returns only once the part asked for exists; bad directives are 400', async () => {
    const before = readPlaylist(await (await get(hlsUrl)).text());
    const next = before.hint!;
    expect(before.parts.some((p) => p.msn === next.msn && p.index === next.index)).toBe(false);
    const started = Date.now();
    const held = await get(`${hlsUrl}?_HLS_msn=${next.msn}&_HLS_part=${next.index}`);
    const waitedMs = Date.now() - started;
    expect(held.status).toBe(200);
    const after = readPlaylist(await held.text());
    expect(after.parts.some((p) => p.msn === next.msn && p.index === next.index)).toBe(true);
    // It was held for the part (at most a part target and a frame or two), not answered at once with the old playlist.
    expect(waitedMs).toBeLessThan(3000);

    // The hinted part itself is held until it is cut, then served.
    const hinted = after.hint!;
    const part = await get(new URL(`part-${hinted.msn}.${hinted.index}.m4s`, hlsUrl).href);
    expect(part.status).toBe(200);
    expect(Buffer.from(await part.arrayBuffer()).toString('latin1', 4, 8)).toBe('moof');

    const newest = after.hint!.msn;
    expect((await gw.request('GET', `/hls/hlsshow/index.m3u8?_HLS_msn=${newest + 3}`)).body).toEqual({ error: { code: 'HLS_BAD_DIRECTIVE', message: expect.any(String) } });
    expect((await gw.request('GET', '/hls/hlsshow/index.m3u8?_HLS_part=1')).status).toBe(400);
    expect((await gw.request('GET', '/hls/hlsshow/index.m3u8?_HLS_msn=x')).status).toBe(400);
  });

  it('the playlist only moves forward, segment by segment', async () => {
    let last = readPlaylist(await (await get(hlsUrl)).text());
    const seen = new Set<number>(last.segments);
    for (let i = 0; i < 6; i++) {
      const next = readPlaylist(await (await get(`${hlsUrl}?_HLS_msn=${last.segments.at(-1)! + 1}`)).text());
      expect(next.mediaSequence).toBeGreaterThanOrEqual(last.mediaSequence);
      expect(next.segments.at(-1)).toBe(last.segments.at(-1)! + 1);
      expect(next.segments).toEqual(Array.from({ length: next.segments.length }, (_, k) => next.mediaSequence + k));
      next.segments.forEach((s) => seen.add(s));
      last = next;
    }
    expect(seen.size).toBeGreaterThanOrEqual(7);
  }, 30000);

  it('plays LL-HLS in Chromium with hls.js: red 640x360 with audio, from parts, close to the live edge', async () => {
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('request', (r) => {
      if (r.url().includes('index.m3u8')) playlistRequests.push(r.url());
    });
    await page.goto(`${gw.baseUrl}/healthz`);
    await page.addScriptTag({ path: require.resolve('hls.js/dist/hls.min.js') });
    await startPlayer(page, hlsUrl);
    let last: PlayerState | undefined;
    let startedAt: number | undefined;
    // Playing for 2 s of media time (the first picture drawn may still be black).
    const playing = await waitFor(
      'hls.js playing',
      async () => {
        last = await playerState(page);
        if (last.time > 0) startedAt ??= last.time;
        return startedAt !== undefined && last.time > startedAt + 2 && last.color ? last : undefined;
      },
      30000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last state ${JSON.stringify(last)}`);
    });
    expect(playing).toMatchObject({ width: W, height: H, fatal: [] });
    expect(playing.codecs).toMatch(/avc1\.[0-9a-f]{6}/i);
    expect(playing.codecs).toMatch(/mp4a\.40\.2/);
    expect(playing.parts).toBeGreaterThan(0);
    expect(colorNear(playing.color!, RED, 60)).toBe(true);
    // hls.js follows the parts with blocking reloads, close to the live edge.
    expect(playlistRequests.some((u) => /_HLS_msn=\d+&_HLS_part=\d+/.test(u))).toBe(true);
    expect(playing.latency).toBeLessThan(2.5);
  }, 60000);

  it('across a switch to another encoder (blue 320x180): a discontinuity with a new init, the playlist never goes back, ffmpeg and hls.js play on', async () => {
    const polls: { mediaSequence: number; newest: number; discontinuities: number; maps: number }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        // A failed poll (the gateway busy, or gone once a failed test tears it down) is skipped, not thrown out of the loop.
        const text = await get(plainUrl())
          .then((r) => r.text())
          .catch(() => '');
        const p = readPlaylist(text);
        if (p.segments.length) polls.push({ mediaSequence: p.mediaSequence, newest: p.segments.at(-1)!, discontinuities: text.split('#EXT-X-DISCONTINUITY\n').length - 1, maps: text.split('#EXT-X-MAP').length - 1 });
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    // A plain HLS reader that started before the switch and reads on through it.
    const reader = run('ffmpeg', ['-hide_banner', '-i', plainUrl(), '-t', '14', '-vf', 'showinfo', '-f', 'null', '-'], { timeout: 60000 });
    await new Promise((r) => setTimeout(r, 3000));
    await host!.stop();
    host = publishTestStream(publishUrl, { color: '0x0000ff', toneHz: 880, size: '320x180', counter: true, seconds: 300 });

    let last: PlayerState | undefined;
    await waitFor(
      'hls.js showing the new encoder',
      async () => {
        last = await playerState(page);
        return last.width === 320 && last.color && colorNear(last.color, BLUE, 60) ? last : undefined;
      },
      30000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last state ${JSON.stringify(last)}`);
    });
    expect(last!.fatal).toEqual([]);

    const { stderr } = await reader;
    const pictures = [...stderr.matchAll(/ s:(\d+x\d+) .*? mean:\[(\d+) (\d+) (\d+)\]/g)].map((m) => ({ size: m[1], u: Number(m[3]), v: Number(m[4]) }));
    const firstBlue = pictures.findIndex((p) => p.size === '320x180');
    expect(firstBlue).toBeGreaterThan(10);
    // Red (V high) at 640x360 before, blue (U high) at 320x180 after, nothing else in between.
    expect(pictures.slice(0, firstBlue).every((p) => p.size === '640x360' && p.v > 200)).toBe(true);
    expect(pictures.length - firstBlue).toBeGreaterThan(25);
    expect(pictures.slice(firstBlue).every((p) => p.size === '320x180' && p.u > 200)).toBe(true);

    // The discontinuity may have left the live window again by now (the reader took 14 s): any poll that held it.
    await waitFor('the playlist past the switch', async () => (polls.some((p) => p.discontinuities) ? true : undefined), 10000);
    polling = false;
    await poller;
    for (let i = 1; i < polls.length; i++) {
      expect(polls[i].mediaSequence).toBeGreaterThanOrEqual(polls[i - 1].mediaSequence);
      expect(polls[i].newest).toBeGreaterThanOrEqual(polls[i - 1].newest);
    }
    expect(polls.some((p) => p.discontinuities === 1 && p.maps === 2)).toBe(true);
    const [tone] = await tonePowers(plainUrl(), [880]);
    expect(tone).toBeGreaterThan(0.5);
  }, 90000);

  it('drops the channel\'s HLS when its program ends', async () => {
    await host!.stop();
    host = undefined;
    await waitFor('HLS gone', async () => ((await gw.request('GET', '/hls/hlsshow/plain.m3u8')).body?.error?.code === 'CHANNEL_NOT_LIVE' ? true : undefined), 20000);
  }, 30000);
});
