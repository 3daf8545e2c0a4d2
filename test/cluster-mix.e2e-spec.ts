import { MIX_FPS, MixCluster, tilesOfCells } from '../bench/support/mix-cluster';
import { waitFor } from '../bench/support/processes';
import { tonePowers } from './support/mix-checks';

/**
 * Mixes placed by CPU room across the cluster's nodes, and moved when their
 * node dies, with real parts (bench/support/mix-cluster.ts): one
 * redis-server, three built gateways as separate processes on their own
 * addresses, Debian's nginx-rtmp as every node's origin, ffmpeg as the two
 * participants (RTMP pushes to node 1: red + 440 Hz, blue + 1 kHz, frame
 * counters burned in).
 *
 * Node 1 holds the conference but has no room for a mix; nodes 2 and 3 hold
 * two mixes each. The mix asked of node 1 runs on node 2 or 3, on its copy
 * of the conference (bridged to node 1). That node is SIGKILLed: a reader of
 * the mix's output (on nginx), started at the kill, sees both participants
 * again, mixed on the node left (4.6–4.7 s here; the cluster bench holds the
 * 5 s target). Then one more mix fits there,
 * the next is refused with MIX_CAPACITY, and each admitted mix keeps ≥ 0.98×
 * its frame rate in distinct pictures at a reader.
 */
describe('mixes placed by CPU room across nodes, and moved when their node dies', () => {
  let cluster: MixCluster | undefined;
  let attempt = 0;

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('a mix runs on a node with room, moves when that node is killed, and the cluster refuses what it cannot hold', async () => {
    // A fresh cluster per attempt (afterEach stops it): a retry must not find a node killed by the first.
    cluster = await MixCluster.start();
    attempt += 1;
    const stream = (name: string) => `${name}-${attempt}`;
    const n1 = cluster.node('n1');
    const conferenceId = await cluster.conference('placed');

    // Node 1 has no room: the mix goes to the node with the most (2 or 3), and says where.
    const first = await cluster.askMix(n1, conferenceId, stream('placed1'));
    expect(first).toMatchObject({ status: 201, body: { id: expect.any(String), node: expect.stringMatching(/^n[23]$/) } });
    const mixId = first.body.id as string;
    const runner = first.body.node as string;
    const survivor = runner === 'n2' ? 'n3' : 'n2';
    const tiles = await cluster.tilesOf(mixId);
    expect(tiles.map((t) => t.id).sort()).toEqual(['blue', 'red']);
    let probe = cluster.watch(stream('placed1'), tiles);
    await probe.waitForShowing(['red', 'blue'], { timeoutMs: 20000 });
    const [p440, p1000, p700] = await tonePowers(cluster.streamUrl(stream('placed1')), [440, 1000, 700]);
    expect(p440).toBeGreaterThan(20 * p700);
    expect(p1000).toBeGreaterThan(20 * p700);
    // Any node answers about it: node 1 asks the node that runs it.
    expect((await n1.admin('GET', `/api/v1/mix-tasks/${mixId}`)).body).toMatchObject({ id: mixId, state: 'active', node: runner });
    // And lists it: every node's mixes, with the node that runs each.
    expect((await n1.admin('GET', '/api/v1/mix-tasks')).body).toEqual([expect.objectContaining({ id: mixId, node: runner })]);
    // The runner mixes on its copy of the conference, bridged to node 1.
    const copy = (await cluster.node(runner).admin('GET', `/api/v1/conferences/${conferenceId}`)).body;
    expect(copy.participants.map((p: { node?: string }) => p.node)).toEqual(['n1', 'n1']);

    // SIGKILL the node that runs the mix; a reader started at once sees both again, mixed on the node left.
    probe.close();
    const killedAt = await cluster.kill(runner);
    probe = cluster.watch(stream('placed1'), tiles);
    const back = await probe.waitForShowing(['red', 'blue'], { after: killedAt, timeoutMs: 30000 });
    const movedMs = back.at - killedAt;
    process.stdout.write(`cluster-mix: mix ${mixId} killed on ${runner}, both participants at a reader again ${movedMs} ms later\n`);
    const moved = (await n1.admin('GET', `/api/v1/mix-tasks/${mixId}`)).body;
    expect(moved).toMatchObject({ id: mixId, state: 'active', node: survivor });
    // The probe judges colours by the first placement: the moved mix placed them alike.
    expect(tilesOfCells(moved.layout.cells)).toEqual(tiles);
    await waitFor('the killed node listed gone', async () => {
      const views = (await n1.admin('GET', '/api/v1/admin/nodes')).body as { id: string; state: string }[];
      return views.find((n) => n.id === runner)?.state === 'gone' ? true : undefined;
    }, 10000);

    // The node left holds one more mix; the next one is refused: the cluster is full.
    const second = await cluster.askMix(n1, conferenceId, stream('placed2'));
    expect(second).toMatchObject({ status: 201, body: { node: survivor } });
    const third = await cluster.askMix(n1, conferenceId, stream('placed3'));
    expect(third).toMatchObject({ status: 503, body: { error: { code: 'MIX_CAPACITY' } } });

    // Every admitted mix keeps up: ≥ 0.98× its frame rate in distinct pictures at a reader, over 5 s.
    const probe2 = cluster.watch(stream('placed2'), await cluster.tilesOf(second.body.id));
    const shown2 = await probe2.waitForShowing(['red', 'blue'], { timeoutMs: 20000 });
    const from = Math.max(shown2.at, back.at) + 1000;
    await Promise.all([probe.waitUntilArrived(from + 5000), probe2.waitUntilArrived(from + 5000)]);
    for (const p of [probe, probe2]) {
      const rate = p.rate(from, from + 5000);
      process.stdout.write(`cluster-mix: distinct ${rate.distinctPerSecond.toFixed(2)}/s, worst gap ${rate.maxDistinctGapMs} ms\n`);
      expect(rate.distinctPerSecond).toBeGreaterThanOrEqual(0.98 * MIX_FPS);
    }

    // The target, within 5 s of the kill, is a figure of the cluster bench (BENCHMARKS.md), not a
    // timed test: here it must come back well within what a loaded machine allows (1.5 s of silence before a
    // node's mixes move, then the mix's start, the participants' next keyframes and the reader's start-up).
    expect(movedMs).toBeLessThanOrEqual(10000);
    for (const id of [mixId, second.body.id]) expect((await n1.admin('DELETE', `/api/v1/mix-tasks/${id}`)).status).toBe(200);
  }, 240000);
});
