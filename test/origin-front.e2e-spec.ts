import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { isRunning, waitFor } from '../bench/support/processes';
import { probe, publishTestStream, Publisher } from './support/media';
import { colorNear, Rgb } from './support/media-analysis';
import { colorsAt } from './support/mix-checks';

/**
 * Seed 001 on the embedded origin: three node-media-server processes with
 * weights 1:2:3 behind the one RTMP port and the one HTTP port. Twelve hosts push
 * through the RTMP port; the front spreads them 2, 4, 6 and every channel plays
 * through the HTTP port in its own colour. Killing one process leaves the others'
 * channels on air; it is replaced, and its channels come back when their hosts
 * push again.
 */

const CHANNELS = 12;
const [W, H] = [160, 90];
const CENTRE = { x: 40, y: 20, w: 80, h: 50 };
/** Twelve colours, each at least half the scale apart from every other in one component. */
const COLOURS: Rgb[] = [
  [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255],
  [255, 255, 255], [0, 0, 0], [128, 0, 0], [0, 128, 0], [0, 0, 128], [128, 128, 128],
];
const hex = ([r, g, b]: Rgb) => `0x${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;

interface Admitted {
  processes: { index: number; pid: number | null; weight: number; publishers: number; players: number; groups: number }[];
}

describe('several origin processes behind one port (EMBEDDED_ORIGIN_PROCESSES=3, weights 1:2:3)', () => {
  let gw: RunningGateway;
  const channels: { id: string; publishUrl: string; playUrls: { rtmp: string; flv: string } }[] = [];
  const pushes = new Map<string, Publisher>();
  const colourOf = (id: string) => COLOURS[Number(id.slice(2))];
  const origin = async () => (await gw.admin('GET', '/api/v1/admin/origin')).body as Admitted;
  const state = async (id: string) => (await gw.admin('GET', `/api/v1/channels/${id}`)).body;
  const push = (channel: (typeof channels)[number]) =>
    pushes.set(channel.id, publishTestStream(channel.publishUrl, { color: hex(colourOf(channel.id)), size: `${W}x${H}`, fps: 10, seconds: 300 }));
  const shows = async (channel: (typeof channels)[number]) => {
    const [seen] = await colorsAt(channel.playUrls.flv, W, H, [CENTRE]);
    return colorNear(seen, colourOf(channel.id), 40) ? seen : undefined;
  };

  beforeAll(async () => {
    gw = await startGateway({ env: { EMBEDDED_ORIGIN_PROCESSES: '3', EMBEDDED_ORIGIN_WEIGHTS: '1,2,3', SFU_WORKERS: '1', LIVE_PUBLISH_GRACE_MS: '1000' } });
  }, 60000);
  afterAll(async () => {
    await Promise.all([...pushes.values()].map((p) => p.stop()));
    await gw?.stop();
    if (gw) removeDir(gw.dataDir);
  }, 60000);

  it('runs three weighted processes; the admin view needs the admin key', async () => {
    const view = await origin();
    expect(view.processes.map((p) => [p.index, p.weight, p.publishers, p.players, p.groups])).toEqual([
      [0, 1, 0, 0, 0],
      [1, 2, 0, 0, 0],
      [2, 3, 0, 0, 0],
    ]);
    expect(view.processes.every((p) => typeof p.pid === 'number' && isRunning(p.pid))).toBe(true);
    expect(new Set(view.processes.map((p) => p.pid)).size).toBe(3);
    expect((await gw.request('GET', '/api/v1/admin/origin')).status).toBe(401);
    expect((await gw.request('GET', '/healthz')).body.liveOrigin).toEqual({ kind: 'embedded', up: true });
  });

  it('spreads twelve hosts pushing through the one RTMP port 2, 4, 6', async () => {
    for (let i = 0; i < CHANNELS; i++) {
      channels.push((await gw.admin('POST', '/api/v1/channels', { id: `ch${i}` })).body);
    }
    expect(new Set(channels.map((c) => new URL(c.publishUrl).port))).toEqual(new Set([String(gw.rtmpPort)]));
    for (const channel of channels) push(channel);
    await waitFor('every channel on air', async () => {
      const states = await Promise.all(channels.map((c) => state(c.id)));
      return states.every((s) => s.state === 'live' && s.source === 'host') ? true : undefined;
    }, 60000);
    // Each channel is its host's push and the program the gateway publishes from it, side by side.
    const view = await waitFor('programs on the processes', async () => {
      const v = await origin();
      return v.processes.reduce((n, p) => n + p.publishers, 0) === 2 * CHANNELS ? v : undefined;
    }, 30000);
    expect(view.processes.map((p) => p.groups)).toEqual([2, 4, 6]);
    expect(view.processes.map((p) => p.publishers)).toEqual([4, 8, 12]);
    // The program's pull of each host's push is a player on the same process.
    expect(view.processes.map((p) => p.players)).toEqual([2, 4, 6]);
  }, 120000);

  it('plays every channel through the one HTTP port in its own colour, and over RTMP through the one RTMP port', async () => {
    for (const channel of channels) {
      expect(new URL(channel.playUrls.flv).port).toBe(String(gw.httpPort));
      await waitFor(`${channel.id} shows ${hex(colourOf(channel.id))}`, () => shows(channel), 30000);
    }
    const streams = await probe(channels[5].playUrls.rtmp);
    expect(streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: W, height: H });
    // A viewer holding an HTTP-FLV play is a player of its channel's process until it goes; the upstream goes with it.
    const before = await origin();
    const viewer = new AbortController();
    const response = await fetch(channels[0].playUrls.flv, { signal: viewer.signal });
    const reader = response.body!.getReader();
    expect((await reader.read()).value!.length).toBeGreaterThan(0);
    const during = await waitFor('viewer counted', async () => {
      const v = await origin();
      return v.processes.reduce((n, p) => n + p.players, 0) === CHANNELS + 1 ? v : undefined;
    }, 10000);
    // On exactly one process: the one holding ch0.
    expect(during.processes.map((p, i) => p.players - before.processes[i].players).sort()).toEqual([0, 0, 1]);
    viewer.abort();
    await reader.cancel().catch(() => undefined);
    await waitFor('viewer gone upstream too', async () => {
      const v = await origin();
      return v.processes.reduce((n, p) => n + p.players, 0) === CHANNELS ? true : undefined;
    }, 10000);
  }, 180000);

  it('a killed process takes only its own channels with it; it is replaced, and they come back when their hosts push again', async () => {
    const before = await origin();
    const victim = before.processes[1];
    process.kill(victim.pid!, 'SIGKILL');
    const replaced = await waitFor('process 1 replaced', async () => {
      const v = await origin();
      const p = v.processes[1];
      return p.pid !== null && p.pid !== victim.pid && isRunning(p.pid) ? v : undefined;
    }, 30000);
    expect(replaced.processes[0].pid).toBe(before.processes[0].pid);
    expect(replaced.processes[2].pid).toBe(before.processes[2].pid);
    await waitFor('origin up again', async () => ((await gw.request('GET', '/healthz')).body.liveOrigin.up ? true : undefined), 15000);

    // Its hosts lost their connection; the others kept theirs.
    const stillPushing = [...pushes.entries()].filter(([, p]) => p.child.exitCode === null && p.child.signalCode === null).map(([id]) => id);
    const dropped = channels.filter((c) => !stillPushing.includes(c.id));
    expect(dropped).toHaveLength(4);
    for (const channel of dropped) {
      expect((await pushes.get(channel.id)!.exited).code).not.toBe(0);
      await waitFor(`${channel.id} off air`, async () => ((await state(channel.id)).state === 'idle' ? true : undefined), 20000);
    }
    // The other eight stayed on air the whole time and still play in their colours.
    const kept = channels.filter((c) => stillPushing.includes(c.id));
    expect(kept).toHaveLength(8);
    for (const channel of kept) {
      expect(await state(channel.id)).toMatchObject({ state: 'live', source: 'host' });
      await waitFor(`${channel.id} still shows its colour`, () => shows(channel), 20000);
    }

    // The hosts reconnect (as OBS does): their channels are on air and play again.
    for (const channel of dropped) push(channel);
    for (const channel of dropped) {
      await waitFor(`${channel.id} back on air`, async () => ((await state(channel.id)).source === 'host' ? true : undefined), 30000);
      await waitFor(`${channel.id} plays again`, () => shows(channel), 30000);
    }
    const after = await origin();
    expect(after.processes.reduce((n, p) => n + p.groups, 0)).toBe(CHANNELS);
  }, 240000);
});
