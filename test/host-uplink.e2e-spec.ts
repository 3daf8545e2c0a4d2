import type { Socket } from 'socket.io-client';
import { connectAs, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { waitFor } from '../bench/support/processes';
import { publishTestStream, Publisher } from './support/media';

/**
 * A host's RTMP uplink gets a quality score too (seed 000; libs/live/src/
 * program/uplink-meter.ts), from how its push arrives: the built gateway,
 * a real ffmpeg push. A weak uplink is simulated by stopping the pushing
 * ffmpeg (SIGSTOP) for 1.2 s in every 2 s: its frames then stall and come
 * bunched, as they do over a congested TCP uplink.
 */
describe("a host's uplink quality", () => {
  let gw: RunningGateway;
  let push: Publisher | undefined;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    gw = await startGateway({ env: { SFU_WORKERS: '1' } });
  }, 60000);

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    push?.child.kill('SIGCONT');
    await push?.stop();
    await gw?.stop();
    if (gw) removeDir(gw.dataDir);
  });

  it('is high while the push arrives in time, and falls when it stalls', async () => {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'uplink' })).body;
    type U = { score: number; fps: number; kbps: number; jitterMs: number; longestGapMs: number };
    // The channel's host hears its uplink's score move (channel:uplink); its viewers do not.
    const host = await connectAs(gw, 'anchor', 'host', 'uplink');
    const viewer = await connectAs(gw, 'fan', 'viewer', 'uplink');
    sockets.push(host, viewer);
    const heard: { host: U[]; viewer: U[] } = { host: [], viewer: [] };
    host.on('channel:uplink', (e: { channelId: string; quality: U }) => e.channelId === 'uplink' && heard.host.push(e.quality));
    viewer.on('channel:uplink', (e: { quality: U }) => heard.viewer.push(e.quality));
    push = publishTestStream(channel.publishUrl, { fps: 25, seconds: 120 });
    const uplink = async () => (await gw.admin('GET', '/api/v1/channels/uplink')).body.hostUplink as U | undefined;
    await waitFor('a first uplink score', async () => ((await uplink()) ? true : undefined), 20000);
    await new Promise((r) => setTimeout(r, 6000));
    const good = (await uplink())!;
    expect(good.fps).toBeGreaterThan(20);
    expect(good.kbps).toBeGreaterThan(0);
    expect(good.score).toBeGreaterThanOrEqual(90);

    // The weak uplink: 1.2 s stopped in every 2 s, for 10 s.
    const until = Date.now() + 10000;
    while (Date.now() < until) {
      push.child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 1200));
      push.child.kill('SIGCONT');
      await new Promise((r) => setTimeout(r, 800));
    }
    const weak = (await uplink())!;
    process.stdout.write(`host uplink: good ${JSON.stringify(good)}; weak ${JSON.stringify(weak)}\n`);
    // Each 2 s window holds one 1.2 s stall (about 30 points); the frames it held back come in a burst.
    expect(weak.score).toBeLessThanOrEqual(80);
    expect(weak.longestGapMs).toBeGreaterThan(900);
    // Told as it moved: a first (good) score, then a fall to the weak one.
    expect(heard.host.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...heard.host.map((q) => q.score))).toBeGreaterThanOrEqual(85);
    expect(Math.min(...heard.host.map((q) => q.score))).toBeLessThanOrEqual(80);
    expect(heard.viewer).toEqual([]);
    const metrics = (await gw.request('GET', '/metrics')).body as string;
    expect(metrics).toMatch(/^gateway_host_uplink_quality_score\{channel="uplink"\} \d+$/m);
  }, 90000);
});
