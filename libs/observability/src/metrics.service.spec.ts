import type { ChannelService, LiveOrigin } from '@gw/live';
import type { WorkerPool } from '@gw/sfu';
import { MetricsService, ProducerSource } from './metrics.service';

/**
 * The producer byte counters (an extension of /metrics): one series per open
 * producer with the bytes its RTP streams received, read from the producer at
 * scrape time. Real mediasoup producers are covered by
 * test/producer-bytes.e2e-spec.ts; here the rendering and the edge cases.
 */
describe('MetricsService producer bytes', () => {
  const pool = { workers: [], slots: [], cpuUsage: async () => [] } as unknown as WorkerPool;
  const channels = { countByState: () => ({}) } as unknown as ChannelService;
  const origin = { up: true } as unknown as LiveOrigin;

  function producer(id: string, kind: string, streams: number[] | Error, closed = false) {
    return { id, kind, closed, getStats: async () => (streams instanceof Error ? Promise.reject(streams) : streams.map((byteCount) => ({ byteCount }))) };
  }

  it('reports each open producer with the bytes of its streams summed, and leaves out closed or vanished ones', async () => {
    let bytes = [1000, 200];
    const source: ProducerSource = {
      list: () => [
        {
          id: 'conf_1',
          participants: [
            {
              userId: 'red',
              producers: new Map([
                ['v1', { ...producer('v1', 'video', []), getStats: async () => bytes.map((byteCount) => ({ byteCount })) }],
                ['a1', producer('a1', 'audio', [300])],
                ['old', producer('old', 'video', [5], true)],
              ]),
            },
            // Its worker died while the scrape asked.
            { userId: 'blue', producers: new Map([['v2', producer('v2', 'video', new Error('closed'))]]) },
          ],
        },
      ],
    };
    const metrics = new MetricsService(pool, channels, origin, source);
    const first = (await metrics.render()).body;
    expect(first).toContain('gateway_producer_rtp_bytes{conference="conf_1",user="red",kind="video",producer="v1"} 1200');
    expect(first).toContain('gateway_producer_rtp_bytes{conference="conf_1",user="red",kind="audio",producer="a1"} 300');
    expect(first).not.toContain('producer="old"');
    expect(first).not.toContain('user="blue"');
    bytes = [5000, 200];
    expect((await metrics.render()).body).toContain('producer="v1"} 5200');
  });

  it('drops the series of a producer that is gone', async () => {
    let list: ReturnType<ProducerSource['list']> = [{ id: 'c', participants: [{ userId: 'u', producers: new Map([['p', producer('p', 'video', [10])]]) }] }];
    const metrics = new MetricsService(pool, channels, origin, { list: () => list });
    expect((await metrics.render()).body).toContain('producer="p"} 10');
    list = [];
    expect((await metrics.render()).body).not.toContain('producer="p"');
  });

  it('counts participants on each rung of the ladder, every rung present', async () => {
    let list: ReturnType<ProducerSource['list']> = [
      {
        id: 'c1',
        participants: [
          { userId: 'a', path: { path: 'turn-udp' }, producers: new Map() },
          { userId: 'b', path: { path: 'sfu-udp' }, producers: new Map() },
          { userId: 'rtmp', producers: new Map() },
        ],
      },
      { id: 'c2', participants: [{ userId: 'c', path: { path: 'turn-udp' }, producers: new Map() }] },
    ];
    const metrics = new MetricsService(pool, channels, origin, { list: () => list });
    const body = (await metrics.render()).body;
    expect(body).toContain('gateway_participants_by_path{path="turn-udp"} 2');
    expect(body).toContain('gateway_participants_by_path{path="sfu-udp"} 1');
    expect(body).toContain('gateway_participants_by_path{path="p2p"} 0');
    expect(body).toContain('gateway_participants_by_path{path="turn-tls"} 0');
    list = [];
    expect((await metrics.render()).body).toContain('gateway_participants_by_path{path="turn-udp"} 0');
  });
});
