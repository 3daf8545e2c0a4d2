import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { io, Socket } from 'socket.io-client';
import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { probe, publishTestStream, Publisher } from './support/media';
import { probeMix, tilesOf, tonePowers, waitForColors } from './support/mix-checks';
import { PictureProbe } from '../bench/support/picture-probe';
import { descendantPids, isRunning, waitFor } from '../bench/support/processes';

const RED: [number, number, number] = [255, 0, 0];
const GREEN: [number, number, number] = [0, 255, 0];
const BLUE: [number, number, number] = [0, 0, 255];
const W = 640;
const H = 360;
const LEFT = { x: 40, y: 100, w: 200, h: 160 };
const RIGHT = { x: 400, y: 100, w: 200, h: 160 };
const COLORS = { red: RED, green: GREEN, blue: BLUE };

/**
 * Mix tasks end to end: RTMP participants (real ffmpeg pushes through the real
 * origin and ingest into mediasoup), the real mixer processes, and the mix
 * decoded back from the origin's HTTP-FLV output.
 */
describe('mix tasks (real mediasoup, ffmpeg and origin)', () => {
  let gw: RunningGateway;
  let conferenceId: string;
  let out1: { publishUrl: string; playUrls: { flv: string } };
  let out2: { publishUrl: string; playUrls: { flv: string } };
  const pushes = new Map<string, Publisher>();
  let taskId: string;
  let sequence = 0;
  let webhook: Server;
  const webhookEvents: { state: string; taskId: string }[] = [];
  const socketEvents: { state: string; taskId: string }[] = [];
  let hostSocket: Socket;

  const task = async () => (await gw.admin('GET', `/api/v1/mix-tasks/${taskId}`)).body;
  const probes: PictureProbe[] = [];
  /** A viewer-side probe on the first output, looking for the participants in the task's current cells. */
  const watch = async () => {
    const p = probeMix(out1.playUrls.flv, W, H, (await task()).layout.cells, COLORS);
    probes.push(p);
    return p;
  };
  /** Distinct pictures at the viewer over `seconds`, from the first picture showing `ids` on. */
  const rateAtViewer = async (p: PictureProbe, ids: string[], seconds: number) => {
    const first = await p.waitForShowing(ids, { timeoutMs: 15000 });
    const from = first.at + 300;
    await p.waitUntilArrived(from + seconds * 1000, seconds * 1000 + 10000);
    return p.rate(from, from + seconds * 1000);
  };
  const patch = async (body: object) => gw.admin('PATCH', `/api/v1/mix-tasks/${taskId}`, { sequence: ++sequence, ...body });

  async function join(userId: string, color: string, toneHz: number): Promise<void> {
    await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
    const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId })).body.url;
    // Sources at 25 fps with a frame counter: a 15 fps mix that is on time shows a new picture of each in every frame.
    pushes.set(userId, publishTestStream(url, { color, toneHz, size: '640x360', fps: 25, seconds: 300, counter: true }));
    await waitFor(`${userId} producing`, async () => {
      const { body } = await gw.admin('GET', `/api/v1/conferences/${conferenceId}`);
      return body.participants.some((p: { userId: string; video: boolean; audio: boolean }) => p.userId === userId && p.video && p.audio) ? true : undefined;
    }, 20000);
  }

  beforeAll(async () => {
    // A webhook receiver on loopback records every state change the gateway posts.
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        webhookEvents.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const hookPort = (webhook.address() as { port: number }).port;
    gw = await startGateway({
      env: {
        MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100),
        MIX_RTP_MAX_PORT: '59999',
        MIX_WEBHOOK_URL: `http://127.0.0.1:${hookPort}/hooks/mix`,
      },
    });
    out1 = (await gw.admin('POST', '/api/v1/channels', { id: 'mix1' })).body;
    out2 = (await gw.admin('POST', '/api/v1/channels', { id: 'mix2' })).body;
    const hostToken = (await gw.admin('POST', '/api/v1/tokens', { userId: 'anchor', role: 'host' })).body.token;
    conferenceId = (await gw.request('POST', '/api/v1/conferences', { body: { title: 'mix' }, headers: { authorization: `Bearer ${hostToken}` } })).body.id;
    hostSocket = io(gw.baseUrl, { auth: { token: hostToken }, transports: ['websocket'] });
    hostSocket.on('mix:state', (e) => socketEvents.push(e));
    await new Promise((resolve) => hostSocket.once('connect', resolve));
    await join('red', '0xff0000', 440);
    await join('green', '0x00ff00', 1000);
  }, 60000);

  afterEach(() => {
    for (const p of probes.splice(0)) p.close();
  });

  afterAll(async () => {
    hostSocket?.close();
    webhook?.close();
    for (const p of pushes.values()) {
      p.child.kill('SIGCONT');
      await p.stop();
    }
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('refuses outputs outside MIX_OUTPUT_ALLOW', async () => {
    const res = await gw.admin('POST', '/api/v1/mix-tasks', { conferenceId, outputs: [{ url: 'rtmp://evil.example/live/x' }] });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'OUTPUT_NOT_ALLOWED' } } });
    // Only this conference's host (or an admin) may mix it or change its members.
    const stranger = (await gw.admin('POST', '/api/v1/tokens', { userId: 'other-host', role: 'host' })).body.token;
    const auth = { authorization: `Bearer ${stranger}` };
    expect(await gw.request('POST', '/api/v1/mix-tasks', { body: { conferenceId, outputs: [{ url: out1.publishUrl }] }, headers: auth })).toMatchObject({
      status: 403,
      body: { error: { code: 'NOT_CONFERENCE_HOST' } },
    });
    expect(await gw.request('POST', `/api/v1/conferences/${conferenceId}/members`, { body: { userId: 'x' }, headers: auth })).toMatchObject({
      status: 403,
      body: { error: { code: 'NOT_CONFERENCE_HOST' } },
    });
  });

  it('mixes two participants: colours in their cells, both tones, frame size and rate', async () => {
    const res = await gw.admin('POST', '/api/v1/mix-tasks', {
      conferenceId,
      outputs: [{ url: out1.publishUrl }],
      layout: { mode: 'grid' },
      video: { width: W, height: H, fps: 15, bitrateKbps: 800, gopSeconds: 1 },
      audio: { sampleRate: 48000, channels: 2, bitrateKbps: 96 },
    });
    expect(res.status).toBe(201);
    taskId = res.body.id;
    expect((await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.mixTaskIds).toEqual([taskId]);
    await waitFor('task active', async () => ((await task()).state === 'active' ? true : undefined), 15000);
    const view = await task();
    expect(view.outputs).toEqual([{ url: expect.stringContaining('key=***'), state: 'live', retries: 0 }]);
    expect(JSON.stringify(view)).not.toContain(new URL(out1.publishUrl).searchParams.get('key'));

    await waitForColors(out1.playUrls.flv, W, H, [
      { region: LEFT, color: RED },
      { region: RIGHT, color: GREEN },
    ]);
    const streams = await probe(out1.playUrls.flv);
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: W, height: H });
    expect(streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac', sample_rate: '48000' });
    // The rate a viewer sees: distinct pictures per wall-clock second, each showing both participants.
    const viewer = await watch();
    const rate = await rateAtViewer(viewer, ['red', 'green'], 3);
    expect(rate.distinctPerSecond).toBeGreaterThanOrEqual(0.95 * 15);
    expect(rate.distinctPerSecond).toBeLessThan(16.5);
    expect(rate.maxDistinctGapMs).toBeLessThan(250);
    const shown = viewer.frames.filter((f) => f.at >= viewer.frames.at(-1)!.at - 3000);
    expect(shown.filter((f) => f.showing.length === 2).length).toBeGreaterThanOrEqual(shown.length - 1);
    const [p440, p1000, p700] = await tonePowers(out1.playUrls.flv, [440, 1000, 700]);
    expect(p440).toBeGreaterThan(50 * p700);
    expect(p1000).toBeGreaterThan(50 * p700);
  });

  it('moves colours on a layout change and keeps the output connection', async () => {
    const before = await task();
    const res = await patch({
      layout: {
        mode: 'custom',
        cells: [
          { userId: 'green', x: 0, y: 0, width: 320, height: 360 },
          { userId: 'red', x: 320, y: 0, width: 320, height: 360 },
        ],
      },
    });
    expect(res.status).toBe(200);
    await waitForColors(out1.playUrls.flv, W, H, [
      { region: LEFT, color: GREEN },
      { region: RIGHT, color: RED },
    ]);
    const after = await task();
    expect(after.processes.outputs).toEqual(before.processes.outputs);
    expect(after.outputs[0]).toMatchObject({ state: 'live', retries: 0 });
    // An old sequence is refused.
    expect(await gw.admin('PATCH', `/api/v1/mix-tasks/${taskId}`, { sequence, layout: { mode: 'grid' } })).toMatchObject({
      status: 409,
      body: { error: { code: 'SEQUENCE_OUT_OF_ORDER' } },
    });
  });

  it('silences a participant with volume 0', async () => {
    expect((await patch({ volumes: { red: 0 } })).status).toBe(200);
    await waitFor('red silenced', async () => {
      const [p440, p1000] = await tonePowers(out1.playUrls.flv, [440, 1000]);
      return p1000 > 100 * p440 ? true : undefined;
    }, 20000);
    expect((await patch({ volumes: { red: 100 } })).status).toBe(200);
  });

  it('adds a second output and removes it without touching the first', async () => {
    const before = await task();
    expect((await patch({ addOutputs: [{ url: out2.publishUrl }] })).status).toBe(200);
    await waitForColors(out2.playUrls.flv, W, H, [{ region: LEFT, color: GREEN }]);
    const both = await task();
    expect(both.outputs).toHaveLength(2);
    expect(both.processes.outputs[0]).toBe(before.processes.outputs[0]);
    expect((await patch({ removeOutputs: [{ url: out2.publishUrl }] })).status).toBe(200);
    const after = await task();
    expect(after.outputs).toEqual([{ url: expect.any(String), state: 'live', retries: 0 }]);
    expect(after.processes.outputs).toEqual(before.processes.outputs);
    await waitFor('second channel idle', async () => ((await gw.admin('GET', '/api/v1/channels/mix2')).body.state === 'idle' ? true : undefined));
    expect((await gw.admin('GET', '/api/v1/channels/mix1')).body).toMatchObject({ state: 'live', source: 'host' });
  });

  it('keeps its frame rate while a sender stalls, and recovers when it returns', async () => {
    const red = pushes.get('red')!;
    const viewer = await watch();
    await viewer.waitForShowing(['red', 'green']);
    red.child.kill('SIGSTOP');
    try {
      // Green's pictures keep coming at the full rate while red is stalled.
      const stalledAt = Date.now();
      const rate = await rateAtViewer(viewer, ['green'], 5);
      expect(rate.distinctPerSecond).toBeGreaterThanOrEqual(0.95 * 15);
      expect(rate.maxDistinctGapMs).toBeLessThan(250);
      expect(viewer.frames.filter((f) => f.at > stalledAt + 3000).every((f) => f.counters.green !== undefined)).toBe(true);
      // The stalled cell shows the placeholder (grey card), not red.
      await waitForColors(out1.playUrls.flv, W, H, [
        { region: { x: 330, y: 20, w: 60, h: 40 }, color: [48, 48, 48] },
        { region: LEFT, color: GREEN },
      ]);
    } finally {
      red.child.kill('SIGCONT');
    }
    await waitForColors(out1.playUrls.flv, W, H, [{ region: RIGHT, color: RED }], 20000);
  });

  it('a new participant appears and a leaving one disappears without the output reconnecting', async () => {
    const before = await task();
    expect((await patch({ layout: { mode: 'grid' } })).status).toBe(200);
    await join('blue', '0x0000ff', 660);
    // Grid of 3: red, green on top; blue centred below.
    await waitForColors(out1.playUrls.flv, W, H, [
      { region: { x: 40, y: 40, w: 200, h: 100 }, color: RED },
      { region: { x: 360, y: 40, w: 200, h: 100 }, color: GREEN },
      { region: { x: 200, y: 220, w: 200, h: 100 }, color: BLUE },
    ], 20000);
    await pushes.get('blue')!.stop();
    pushes.delete('blue');
    await waitForColors(out1.playUrls.flv, W, H, [
      { region: LEFT, color: RED },
      { region: RIGHT, color: GREEN },
    ], 20000);
    const after = await task();
    expect(after.processes.outputs).toEqual(before.processes.outputs);
    expect(after.outputs[0].retries).toBe(0);
  });

  it('a viewer sees both participants again within 2 s when the encoder process is killed', async () => {
    const before = await task();
    const viewer = await watch();
    await viewer.waitForShowing(['red', 'green']);
    await new Promise((r) => setTimeout(r, 500));
    process.kill(before.processes.encoder, 'SIGKILL');
    const killedAt = Date.now();
    // Measured at the viewer, on the same HTTP-FLV connection: the largest gap between new pictures showing
    // both participants around the kill, and the first such picture that arrived after the gap.
    await viewer.waitUntilArrived(killedAt + 4000, 15000);
    const both = viewer.frames.filter((f) => f.distinct && f.showing.length === 2 && f.at >= killedAt - 500);
    expect(both.some((f) => f.at > killedAt + 1000)).toBe(true);
    const gaps = both.slice(1).map((f, i) => f.at - both[i].at);
    const maxGap = Math.max(...gaps);
    expect(maxGap).toBeLessThan(2000);
    expect(viewer.endedAt).toBeUndefined();
    expect(viewer.rate(killedAt + 2500, killedAt + 4000).distinctPerSecond).toBeGreaterThanOrEqual(0.9 * 15);
    const restored = await task();
    expect(restored.stats.encoderRestarts).toBe(1);
    expect(restored.processes.encoder).not.toBe(before.processes.encoder);
    expect(restored.processes.outputs).toEqual(before.processes.outputs);
  });

  it('reconnects its output after the origin restarts, counting retries', async () => {
    const origin = descendantPids(gw.pid).find((pid) => isRunning(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('origin-process'));
    expect(origin).toBeDefined();
    process.kill(origin!, 'SIGKILL');
    const view = await waitFor('output back', async () => {
      const t = await task();
      return t.outputs[0].state === 'live' && t.outputs[0].retries > 0 ? t : undefined;
    }, 30000);
    expect(view.outputs[0].retries).toBeGreaterThan(0);
    // The ingest pushes must reconnect too; the output shows the mix again once they do.
    for (const [userId, push] of pushes) {
      await push.stop();
      const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId })).body.url;
      pushes.set(userId, publishTestStream(url, { color: userId === 'red' ? '0xff0000' : '0x00ff00', toneHz: userId === 'red' ? 440 : 1000, size: '640x360', fps: 25, seconds: 300, counter: true }));
    }
    // Both are back in the picture, in the cells the task gives them now (grid order follows who joined first,
    // which depends on which push reconnected first).
    const viewer = await watch();
    await waitFor('both in the cells of the current layout', async () => {
      viewer.retile(tilesOf((await task()).layout.cells, COLORS));
      return viewer.firstShowing(['red', 'green'], Date.now() - 1000) ? true : undefined;
    }, 30000);
  });

  it('stops cleanly, leaving no process behind', async () => {
    const pids = (await task()).processes;
    const stranger = (await gw.admin('POST', '/api/v1/tokens', { userId: 'other-host', role: 'host' })).body.token;
    expect(await gw.request('DELETE', `/api/v1/mix-tasks/${taskId}`, { headers: { authorization: `Bearer ${stranger}` } })).toMatchObject({
      status: 403,
      body: { error: { code: 'NOT_CONFERENCE_HOST' } },
    });
    const res = await gw.admin('DELETE', `/api/v1/mix-tasks/${taskId}`);
    expect(res.body.state).toBe('stopped');
    expect(Object.values(pids.audioDecoders).filter(Boolean).length).toBeGreaterThan(0);
    for (const pid of [pids.encoder, ...Object.values(pids.decoders), ...Object.values(pids.audioDecoders), ...pids.outputs].filter(Boolean) as number[]) {
      await waitFor(`pid ${pid} gone`, () => (isRunning(pid) ? undefined : true), 5000);
    }
    expect((await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.mixTaskIds).toEqual([]);
    // Every state change reached the host's socket and the webhook.
    const expected = ['starting', 'active', 'stopping', 'stopped'];
    await waitFor('webhooks', () => (webhookEvents.filter((e) => e.taskId === taskId).length >= 4 ? true : undefined));
    expect(webhookEvents.filter((e) => e.taskId === taskId).map((e) => e.state)).toEqual(expected);
    expect(socketEvents.filter((e) => e.taskId === taskId).map((e) => e.state)).toEqual(expected);
  });
});

describe('speaker layout follows the active speaker (mediasoup observer)', () => {
  let gw: RunningGateway;
  const pushes: Publisher[] = [];
  afterAll(async () => {
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('puts the one who speaks large, even when another joined first', async () => {
    gw = await startGateway({ env: { MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
    const out = (await gw.admin('POST', '/api/v1/channels', { id: 'spk' })).body;
    const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: 'talk' })).body.id;
    for (const [userId, color, silent] of [['quiet', '0xff0000', true], ['talker', '0x0000ff', false]] as const) {
      await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId });
      const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId })).body.url;
      pushes.push(publishTestStream(url, { color, silent, toneHz: 700, size: '640x360', fps: 15, seconds: 120 }));
      await waitFor(`${userId} producing`, async () => {
        const { body } = await gw.admin('GET', `/api/v1/conferences/${conferenceId}`);
        return body.participants.some((p: { userId: string; video: boolean }) => p.userId === userId && p.video) ? true : undefined;
      }, 20000);
    }
    const res = await gw.admin('POST', '/api/v1/mix-tasks', {
      conferenceId,
      outputs: [{ url: out.publishUrl }],
      layout: { mode: 'speaker' },
      video: { width: W, height: H, fps: 15, bitrateKbps: 800, gopSeconds: 1 },
    });
    expect(res.status).toBe(201);
    // The speaker area is the top three quarters; the strip below holds the others.
    await waitForColors(out.playUrls.flv, W, H, [
      { region: { x: 220, y: 60, w: 200, h: 140 }, color: BLUE },
      { region: { x: 300, y: 290, w: 40, h: 50 }, color: RED },
    ], 20000);
    const view = (await gw.admin('GET', `/api/v1/mix-tasks/${res.body.id}`)).body;
    expect(view.layout.cells[0]).toMatchObject({ userId: 'talker', x: 0, y: 0, width: W });
  });
});

describe('background image and image placeholders', () => {
  let gw: RunningGateway;
  let images: Server;
  afterAll(async () => {
    images?.close();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('draws the background image and a missing participant as their image card', async () => {
    // A loopback image server; the pictures are PNGs made by ffmpeg.
    const png = async (color: string) =>
      new Promise<Buffer>((resolve, reject) =>
        require('node:child_process').execFile(
          'ffmpeg',
          ['-v', 'error', '-f', 'lavfi', '-i', `color=c=${color}:s=160x90`, '-frames:v', '1', '-f', 'image2', '-c:v', 'png', '-'],
          { encoding: 'buffer' },
          (error: Error | null, stdout: Buffer) => (error ? reject(error) : resolve(stdout)),
        ),
      );
    const pictures: Record<string, Buffer> = { '/bg.png': await png('0xffff00'), '/ghost.png': await png('0xff00ff') };
    images = createServer((req, res) => {
      const body = pictures[req.url ?? ''];
      res.writeHead(body ? 200 : 404, { 'content-type': 'image/png' }).end(body);
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(images.address() as { port: number }).port}`;

    gw = await startGateway();
    const out = (await gw.admin('POST', '/api/v1/channels', { id: 'img' })).body;
    const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: 'empty' })).body.id;
    const res = await gw.admin('POST', '/api/v1/mix-tasks', {
      conferenceId,
      outputs: [{ url: out.publishUrl }],
      layout: { mode: 'custom', cells: [{ userId: 'ghost', x: 0, y: 0, width: 320, height: 360 }] },
      video: { width: W, height: H, fps: 15, bitrateKbps: 600, gopSeconds: 1 },
      background: { imageUrl: `${base}/bg.png` },
      placeholders: { ghost: { imageUrl: `${base}/ghost.png` } },
    });
    expect(res.status).toBe(201);
    await waitForColors(out.playUrls.flv, W, H, [
      { region: LEFT, color: [255, 0, 255] },
      { region: RIGHT, color: [255, 255, 0] },
    ]);
    expect((await gw.admin('DELETE', `/api/v1/mix-tasks/${res.body.id}`)).body.state).toBe('stopped');
  });
});
