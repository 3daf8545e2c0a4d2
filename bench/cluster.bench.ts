/**
 * `npm run bench -- cluster`: the signalling load of the load bench (2,000
 * sockets, 100 hosts running invite → accept → end cycles with their own
 * guest, client mixing so no server mix starts) against one gateway, and
 * against three gateway nodes on one Redis (Debian's redis-server) with every
 * host on one node, its guest on the next and the idle sockets spread: the
 * invitation reaches the guest through the Redis streams adapter, and the
 * guest's accept runs on the host's node (NodeRpc). Side by side in one run,
 * on loopback. Then the time to move a mix after a node death: three nodes
 * on their own addresses with nginx-rtmp (bench/support/mix-cluster.ts), a
 * mix placed on a node with room, that node SIGKILLed, and the time from the
 * kill until a reader started at the kill decodes a picture showing both
 * participants again (BENCH_CLUSTER_MOVES runs, the killed node started
 * again between runs).
 */
import type { Benchmark, Target } from './support/benchmark';
import { rmSync } from 'node:fs';
import { HIGH_LIMITS, signallingLoad } from './load.bench';
import { RunningGateway, startGateway } from './support/gateway';
import { TestRedis } from './support/redis';
import { MixCluster } from './support/mix-cluster';

const JWT_SECRET = 'cluster-bench-jwt-secret-0123456789abcdef';

async function stopAll(gateways: RunningGateway[]): Promise<void> {
  for (const gw of gateways) {
    await gw.stop().catch((error: Error) => process.stderr.write(`${error.message}\n`));
    rmSync(gw.dataDir, { recursive: true, force: true });
  }
}

async function oneNode(): Promise<Record<string, any>> {
  const gw = await startGateway({ env: { LOG_LEVEL: 'warn', SFU_WORKERS: '1', EMBEDDED_ORIGIN_PROCESSES: '1', ...HIGH_LIMITS } });
  try {
    return await signallingLoad({ host: () => gw, guest: () => gw, idle: () => gw });
  } finally {
    await stopAll([gw]);
  }
}

async function threeNodes(): Promise<Record<string, any>> {
  const redis = await TestRedis.start();
  const nodes: RunningGateway[] = [];
  try {
    for (const id of ['n1', 'n2', 'n3']) {
      nodes.push(await startGateway({ env: { LOG_LEVEL: 'warn', SFU_WORKERS: '1', EMBEDDED_ORIGIN_PROCESSES: '1', REDIS_URL: redis.url, JWT_SECRET, NODE_ID: id, ...HIGH_LIMITS } }));
    }
    return await signallingLoad({ host: (i) => nodes[i % 3], guest: (i) => nodes[(i + 1) % 3], idle: (i) => nodes[i % 3] });
  } finally {
    await stopAll(nodes);
    await redis.stop();
    rmSync(redis.dir, { recursive: true, force: true });
  }
}

/** Kills the node that runs a mix, `runs` times; each time: ms from the kill to both participants at a new reader. */
async function mixMoves(runs: number): Promise<{ runs: number[]; medianMs: number; maxMs: number }> {
  const cluster = await MixCluster.start();
  const times: number[] = [];
  try {
    const n1 = cluster.node('n1');
    const conferenceId = await cluster.conference('bench');
    for (let i = 0; i < runs; i++) {
      const stream = `move${i}`;
      const asked = await cluster.askMix(n1, conferenceId, stream);
      if (asked.status !== 201) throw new Error(`mix: ${asked.status} ${JSON.stringify(asked.body)}`);
      const { id, node } = asked.body as { id: string; node: string };
      const tiles = await cluster.tilesOf(id);
      const first = cluster.watch(stream, tiles);
      await first.waitForShowing(['red', 'blue'], { timeoutMs: 20000 });
      first.close();
      const killedAt = await cluster.kill(node);
      const reader = cluster.watch(stream, tiles);
      const back = await reader.waitForShowing(['red', 'blue'], { after: killedAt, timeoutMs: 30000 });
      times.push(back.at - killedAt);
      reader.close();
      process.stderr.write(`cluster: mix ${id} moved off ${node} in ${back.at - killedAt} ms\n`);
      await n1.admin('DELETE', `/api/v1/mix-tasks/${id}`);
      await cluster.startNode(node);
    }
  } finally {
    await cluster.stop();
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { runs: times, medianMs: sorted[Math.floor(sorted.length / 2)], maxMs: sorted[sorted.length - 1] };
}

async function run(): Promise<Record<string, unknown>> {
  const single = await oneNode();
  const cluster = await threeNodes();
  const moves = await mixMoves(Number(process.env.BENCH_CLUSTER_MOVES ?? 3));
  return {
    oneNode: single,
    threeNodes: cluster,
    mixMove: moves,
    p99Ratio: Math.round((cluster.inviteToInvitedMs.p99 / single.inviteToInvitedMs.p99) * 100) / 100,
    p50Ratio: Math.round((cluster.inviteToInvitedMs.p50 / single.inviteToInvitedMs.p50) * 100) / 100,
  };
}

const row = (name: string, r: any) =>
  `| invite → invited round trip, ${name} (${r.inviteToInvitedMs.samples} samples; ${r.sockets} sockets; errors ${r.errors} of ${r.calls}) | p50 ${r.inviteToInvitedMs.p50} ms, p99 ${r.inviteToInvitedMs.p99} ms, max ${r.inviteToInvitedMs.max} ms | |`;

export const benchmark: Benchmark = {
  run,
  method:
    "The load bench's signalling part (2,000 socket.io clients from the bench process: 100 hosts with client mixing, their 100 guests, 1,800 idle; BENCH_LOAD_CYCLES invite → accept → end cycles per host, all at once) against one built gateway, then against three built gateways on one redis-server (AOF), " +
    "host i on node i mod 3, its guest on node i+1 mod 3, idle sockets spread; round trip = invite emitted → cohost:invited received by the guest (through the Redis streams adapter in the cluster; the guest's accept runs on the host's node). Every gateway with one mediasoup worker and one origin process, rate limits raised; one run, side by side, on loopback. " +
    "Mix move: three built gateways on 127.0.0.2–4 and one redis-server, nginx-rtmp as every node's origin; two RTMP pushes (1 s GOP, counters burned in) in a conference on n1, which has no room for a mix (NODE_CPU_BUDGET 0.1); a 2-party 640x360@15 grid mix asked of n1 runs on n2 or n3; once a reader (ffmpeg reading RTMP from nginx) shows both, that node is SIGKILLed and a new reader started; the figure is wall-clock from the kill to the first decoded picture showing both participants in their cells. BENCH_CLUSTER_MOVES runs (default 3), the killed node started again between runs.",
  summary: (r) => [
    row('one node', r.oneNode),
    row('three nodes, host and guest on different nodes', r.threeNodes),
    `| three nodes / one node | p50 ${r.p50Ratio}x, p99 ${r.p99Ratio}x | |`,
    `| time to move a mix after a node death (SIGKILL → both participants at a new reader; ${r.mixMove.runs.length} runs: ${r.mixMove.runs.join(', ')} ms) | median ${r.mixMove.medianMs} ms, max ${r.mixMove.maxMs} ms | within 5 s |`,
  ],
  targets: (r) =>
    [
      { figure: 'cluster: errors across nodes', value: r.threeNodes.errorRate * 100, unit: '%', kind: 'max', limit: 0 },
      { figure: 'cluster: connected sockets over three nodes', value: r.threeNodes.sockets, unit: '', kind: 'min', limit: 2000 },
      { figure: 'cluster: mix moved after a node death (median)', value: r.mixMove.medianMs, unit: 'ms', kind: 'max', limit: 5000 },
    ] as Target[],
};
