import { removeDir, RunningGateway, startGateway, workerPids } from '../bench/support/gateway';
import { isRunning, waitFor } from '../bench/support/processes';
import { producerBytes, waitForBytesFlowing } from '../bench/support/producer-bytes';
import { publishTestStream, Publisher } from './support/media';

/**
 * The producer byte counters on /metrics (extension: gateway_producer_rtp_bytes)
 * with real components: an RTMP participant's audio and video producers show
 * bytes that grow while the push lasts; when its worker is killed the old
 * producers vanish and the re-ingested participant's new ones grow again,
 * which is what "producing again" means in the recovery bench.
 */
describe('producer RTP byte counters', () => {
  let gw: RunningGateway;
  let push: Publisher | undefined;

  beforeAll(async () => {
    gw = await startGateway({ env: { SFU_WORKERS: '2', LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => {
    await push?.stop();
    await gw?.stop();
    removeDir(gw.dataDir);
  });

  it('grow while an RTMP participant pushes, and again on new producers after its worker died', async () => {
    const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: 'bytes' })).body.id as string;
    await gw.admin('POST', `/api/v1/conferences/${conferenceId}/members`, { userId: 'red' });
    const url = (await gw.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId: 'red' })).body.url;
    push = publishTestStream(url, { color: '0xff0000', fps: 25, seconds: 120, counter: true });

    const first = await waitForBytesFlowing(gw, conferenceId, ['red']);
    expect(first.producerIds).toHaveLength(2);
    // A second of 640x360@25 and a 96 kbit/s tone is far more than a few packets.
    const sample = await producerBytes(gw, conferenceId);
    expect(sample.map((p) => p.kind).sort()).toEqual(['audio', 'video']);
    await new Promise((r) => setTimeout(r, 1000));
    const later = await producerBytes(gw, conferenceId);
    for (const p of sample) expect(later.find((l) => l.producerId === p.producerId)!.bytes - p.bytes).toBeGreaterThan(p.kind === 'video' ? 5000 : 2000);

    // Kill the worker under the conference: the producers go with it; the ingest brings new ones.
    const slot: number = (await gw.admin('GET', `/api/v1/conferences/${conferenceId}`)).body.workerSlots[0];
    const pid = (await workerPids(gw)).get(slot)!;
    process.kill(pid, 'SIGKILL');
    await waitFor('worker gone', () => (isRunning(pid) ? undefined : true), 5000);
    const old = new Set(sample.map((p) => p.producerId));
    const again = await waitForBytesFlowing(gw, conferenceId, ['red'], { exclude: old });
    expect(again.producerIds.filter((id) => old.has(id))).toEqual([]);
    expect((await producerBytes(gw, conferenceId)).filter((p) => old.has(p.producerId))).toEqual([]);

    // The push ends: its producers close and their series go.
    await push.stop();
    push = undefined;
    await waitFor('series gone', async () => ((await producerBytes(gw, conferenceId)).length === 0 ? true : undefined), 15000);
  }, 90000);
});
