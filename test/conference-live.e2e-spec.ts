import { removeDir, RunningGateway, startGateway } from '../bench/support/gateway';
import { PictureProbe } from '../bench/support/picture-probe';
import { waitFor } from '../bench/support/processes';
import { publishTestStream, Publisher } from './support/media';

/**
 * A conference that goes live by itself (seed 004 §4.1.2 step 3): one
 * `POST /conferences {title, live}` creates the conference, a channel of its
 * own and the mapping; any viewer token finds it in `GET /directory`; the
 * first play starts the mix (on demand) and the viewer sees the participant.
 * Bad input is refused with a typed error and leaves nothing behind.
 */
describe('conferences that go live by themselves', () => {
  let gw: RunningGateway;
  const pushes: Publisher[] = [];
  let probe: PictureProbe | undefined;

  beforeAll(async () => {
    gw = await startGateway({ env: { BYPASS_IDLE_SECONDS: '2', MIX_RTP_MIN_PORT: String(51000 + Math.floor(Math.random() * 40) * 100), MIX_RTP_MAX_PORT: '59999' } });
  });
  afterAll(async () => {
    probe?.close();
    for (const p of pushes) await p.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  const as = async (userId: string, role: string) => {
    const token = (await gw.admin('POST', '/api/v1/tokens', { userId, role })).body.token as string;
    return (method: string, path: string, body?: unknown) => gw.request(method, `/api/v1${path}`, { body, headers: { authorization: `Bearer ${token}` } });
  };

  it('creates, maps and lists the conference in one step, and plays it on demand', async () => {
    const host = await as('boss', 'host');
    const created = await host('POST', '/conferences', { title: 'Quarterly all hands 季度大会', live: { onDemand: true, layout: { mode: 'grid' } } });
    expect(created).toMatchObject({
      status: 201,
      body: { id: expect.any(String), title: 'Quarterly all hands 季度大会', live: { channelId: expect.any(String), onDemand: true, playUrls: { flv: expect.stringContaining('.flv'), rtmp: expect.any(String), hls: expect.stringMatching(/\/hls\/live-[^/]+\/index\.m3u8$/), whep: expect.stringMatching(/\/api\/v1\/whep\/live-/) } } },
    });
    const { id: conferenceId, live } = created.body;
    expect((await gw.admin('GET', '/api/v1/live-map')).body).toEqual([expect.objectContaining({ conferenceId, channelId: live.channelId, onDemand: true })]);

    // A participant pushes; the directory, read with a plain viewer token, shows the title and the count.
    const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'speaker' })).body.url;
    pushes.push(publishTestStream(url, { color: '0x0000ff', toneHz: 1000, fps: 25, seconds: 120, counter: true }));
    const viewer = await as('fan', 'viewer');
    const listed = await waitFor('listed with one participant', async () => {
      const { status, body } = await viewer('GET', '/directory');
      expect(status).toBe(200);
      return body.find((e: { conferenceId: string; participants: number }) => e.conferenceId === conferenceId && e.participants === 1);
    }, 20000);
    expect(listed).toMatchObject({ channelId: live.channelId, title: 'Quarterly all hands 季度大会', playUrls: live.playUrls });

    // The first play starts the mix; the viewer sees the speaker (grid of one: the whole picture).
    probe = PictureProbe.flv(live.playUrls.flv, { width: 1280, height: 720, retryForMs: 15000, tiles: [{ id: 'speaker', cell: { x: 0, y: 0, width: 1280, height: 720 }, color: [0, 0, 255] }] });
    await probe.waitForShowing(['speaker'], { timeoutMs: 20000 });
  }, 60000);

  it('refuses a bad layout or an unknown field with a typed error, leaving no conference and no channel', async () => {
    const host = await as('boss2', 'host');
    const before = (await gw.admin('GET', '/api/v1/conferences')).body.length;
    const channelsBefore = (await gw.admin('GET', '/api/v1/channels')).body.length;
    expect(await host('POST', '/conferences', { title: 'x', live: { onDemand: true, layout: { mode: 'mosaic' } } })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect(await host('POST', '/conferences', { title: 'x', live: { onDemand: 'yes' } })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect(await host('POST', '/conferences', { title: 'x', live: { onDemand: true, extra: 1 } })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect((await gw.admin('GET', '/api/v1/conferences')).body).toHaveLength(before);
    expect((await gw.admin('GET', '/api/v1/channels')).body).toHaveLength(channelsBefore);
    // A viewer may read the directory but not create conferences.
    const viewer = await as('fan2', 'viewer');
    expect((await viewer('POST', '/conferences', { title: 'x', live: { onDemand: true } })).status).toBe(403);
  });
});
