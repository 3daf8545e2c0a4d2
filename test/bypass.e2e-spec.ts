import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { waitFor } from '../bench/support/processes';
import { FlvWatcher } from '../bench/support/viewer';
import { publishTestStream, Publisher } from './support/media';
import { colorNear } from './support/media-analysis';
import { colorsAt, tonePowers } from './support/mix-checks';

const RED: [number, number, number] = [255, 0, 0];
const GREEN: [number, number, number] = [0, 255, 0];
const BLUE: [number, number, number] = [0, 0, 255];
// Speaker layout on 1280x720 with three people: the speaker 1280x540 on top (640x360 fitted: x 160..1120), two thumbnails below.
const SPEAKER = { x: 400, y: 150, w: 300, h: 200 };
const THUMB_LEFT = { x: 400, y: 580, w: 160, h: 100 };
const THUMB_RIGHT = { x: 720, y: 580, w: 160, h: 100 };

/**
 * Bypass live with real components: three RTMP participants in a conference,
 * mapped on demand to a channel. Nothing is mixed until a player asks for the
 * channel; the origin's play event starts exactly one mix, which the waiting
 * player receives; the mix stops after the idle time once nobody plays.
 */
describe('bypass live (on demand)', () => {
  let gw: RunningGateway;
  const pushes: Publisher[] = [];
  const watchers: FlvWatcher[] = [];

  beforeAll(async () => {
    gw = await startGateway({ env: { BYPASS_IDLE_SECONDS: '2', MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
  });
  afterAll(async () => {
    for (const w of watchers) w.stop();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  const activeMixes = async (conferenceId: string) =>
    ((await gw.admin('GET', '/api/v1/mix-tasks')).body as { conferenceId: string; state: string }[]).filter(
      (t) => t.conferenceId === conferenceId && (t.state === 'starting' || t.state === 'active'),
    );
  const mapping = async (conferenceId: string) => ((await gw.admin('GET', '/api/v1/live-map')).body as { conferenceId: string; state: string }[]).find((m) => m.conferenceId === conferenceId);

  it('mixes only while someone plays, once for concurrent first plays, and ends with the conference', async () => {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: 'meeting', title: 'All hands' })).body;
    const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: 'All hands' })).body.id as string;
    const people = [
      { userId: 'a', color: '0xff0000', toneHz: 440, amplitude: 0.8 },
      { userId: 'b', color: '0x00ff00', toneHz: 660 },
      { userId: 'c', color: '0x0000ff', toneHz: 1000 },
    ];
    for (const p of people) {
      expect((await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId: p.userId })).status).toBe(200);
      const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: p.userId })).body.url;
      pushes.push(publishTestStream(url, { ...p, seconds: 300 }));
    }
    await waitFor('three participants', async () => ((await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.participants.length === 3 ? true : undefined), 20000);

    // Bad input gets typed errors and changes nothing.
    expect(await gw.admin('PUT', `/api/v1/conferences/${conferenceId}/live`, { channelId: 'nope', onDemand: true })).toMatchObject({ status: 404, body: { error: { code: 'CHANNEL_NOT_FOUND' } } });
    expect(await gw.admin('PUT', '/api/v1/conferences/conf_missing/live', { channelId: 'meeting', onDemand: true })).toMatchObject({ status: 404 });
    expect(await gw.admin('PUT', `/api/v1/conferences/${conferenceId}/live`, { channelId: 'meeting' })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect((await gw.admin('GET', '/api/v1/live-map')).body).toEqual([]);

    const mapped = await gw.admin('PUT', `/api/v1/conferences/${conferenceId}/live`, { channelId: 'meeting', onDemand: true });
    expect(mapped).toMatchObject({ status: 200, body: { conferenceId, channelId: 'meeting', onDemand: true, layout: { mode: 'speaker' }, state: 'idle' } });
    const directory = (await gw.admin('GET', '/api/v1/directory')).body;
    expect(directory).toEqual([expect.objectContaining({ conferenceId, channelId: 'meeting', title: 'All hands', participants: 3, state: 'idle' })]);

    // Nobody plays: nothing is mixed.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await activeMixes(conferenceId)).toEqual([]);
    expect((await gw.admin('GET', '/api/v1/channels/meeting')).body).toMatchObject({ state: 'idle', source: 'none' });

    // A player asks: the mix starts and the waiting player receives it on the same connection.
    const first = new FlvWatcher(channel.playUrls.flv);
    watchers.push(first);
    const askedAt = Date.now();
    await waitFor('first frame at the player', () => (first.frames.length > 0 ? true : undefined), 15000);
    const firstFrameMs = first.frames[0].at - askedAt;
    expect(firstFrameMs).toBeLessThan(10000); // the figure itself is benchmarked (npm run bench -- bypass)
    expect(await activeMixes(conferenceId)).toHaveLength(1);
    // The loud participant (red) is the speaker; the other two are the thumbnails, in their joining order.
    await waitFor('speaker layout', async () => {
      const [speaker, left, right] = await colorsAt(channel.playUrls.flv, 1280, 720, [SPEAKER, THUMB_LEFT, THUMB_RIGHT]);
      const thumbs = (colorNear(left, GREEN) && colorNear(right, BLUE)) || (colorNear(left, BLUE) && colorNear(right, GREEN));
      if (colorNear(speaker, RED) && thumbs) return true;
      // What the viewer saw and what the mix knew, for the timeout's message.
      const task = (await activeMixes(conferenceId))[0] as { id?: string } | undefined;
      const state = task?.id ? (await gw.admin('GET', `/api/v1/mix-tasks/${task.id}`)).body : undefined;
      throw new Error(`speaker ${speaker.join(',')} thumbnails ${left.join(',')} / ${right.join(',')}; mix ${JSON.stringify({ layout: state?.layout, pictures: state?.pictures })}`);
    }, 30000);
    await waitFor('three tones', async () => {
      const [p440, p660, p1000, p850] = await tonePowers(channel.playUrls.flv, [440, 660, 1000, 850]);
      return p440 > 20 * p850 && p660 > 20 * p850 && p1000 > 20 * p850 ? true : undefined;
    }, 20000);
    expect(first.stats().connectionKept).toBe(true);
    expect((await gw.admin('GET', '/api/v1/channels/meeting')).body).toMatchObject({ state: 'live', source: 'mix' });

    // Everyone stops playing: the mix is gone after the idle time (2 s here).
    first.stop();
    await waitFor('mix stopped after idle', async () => ((await activeMixes(conferenceId)).length === 0 && (await mapping(conferenceId))?.state === 'idle' ? true : undefined), 15000);

    // Two players at once: exactly one mix.
    const pair = [new FlvWatcher(channel.playUrls.flv), new FlvWatcher(channel.playUrls.flv)];
    watchers.push(...pair);
    await waitFor('both players get frames', () => (pair.every((w) => w.frames.length > 10) ? true : undefined), 20000);
    // The origin may hand the players the old stream's cached GOP before the new mix is registered: wait for it, then it must be one.
    await waitFor('the mix', async () => ((await activeMixes(conferenceId)).length > 0 ? true : undefined), 15000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await activeMixes(conferenceId)).toHaveLength(1);
    expect(gw.output().match(new RegExp(`bypass mix \\S+ of conference ${conferenceId} started`, 'g'))).toHaveLength(2);

    // The conference ends: its mix goes down, the mapping goes, and the channel goes idle.
    expect((await gw.admin('DELETE', `/api/v1/conferences/${conferenceId}`)).status).toBe(200);
    await waitFor('channel idle', async () => ((await gw.admin('GET', '/api/v1/channels/meeting')).body.state === 'idle' ? true : undefined), 15000);
    expect(await activeMixes(conferenceId)).toEqual([]);
    expect((await gw.admin('GET', '/api/v1/live-map')).body).toEqual([]);
    for (const w of pair) w.stop();
  }, 150000);

  it('an immediate mapping mixes while the conference has participants, with nobody playing', async () => {
    await gw.admin('POST', '/api/v1/channels', { id: 'lobby-tv' });
    const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: 'Lobby' })).body.id as string;
    expect((await gw.admin('PUT', `/api/v1/conferences/${conferenceId}/live`, { channelId: 'lobby-tv', onDemand: false, layout: { mode: 'grid' } })).body).toMatchObject({ state: 'idle', layout: { mode: 'grid' } });
    // The channel shows one conference at a time.
    const other = (await gw.admin('POST', '/api/v1/conferences', { title: 'Other' })).body.id as string;
    expect(await gw.admin('PUT', `/api/v1/conferences/${other}/live`, { channelId: 'lobby-tv', onDemand: false })).toMatchObject({ status: 409, body: { error: { code: 'CHANNEL_BUSY' } } });
    await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId: 'desk' });
    const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'desk' })).body.url;
    const desk = publishTestStream(url, { color: '0x00ff00', toneHz: 660, seconds: 300 });
    pushes.push(desk);
    await waitFor('mix runs without viewers', async () => ((await activeMixes(conferenceId)).length === 1 ? true : undefined), 20000);
    await waitFor('channel live', async () => ((await gw.admin('GET', '/api/v1/channels/lobby-tv')).body.source === 'mix' ? true : undefined), 20000);
    // The last participant leaves: the mix stops.
    await desk.stop();
    await waitFor('mix stopped', async () => ((await activeMixes(conferenceId)).length === 0 ? true : undefined), 20000);
    expect((await gw.admin('DELETE', `/api/v1/conferences/${conferenceId}/live`)).body).toEqual({ conferenceId, unmapped: true });
    expect(await gw.admin('DELETE', `/api/v1/conferences/${conferenceId}/live`)).toMatchObject({ status: 404, body: { error: { code: 'LIVE_MAPPING_NOT_FOUND' } } });
  }, 90000);
});
