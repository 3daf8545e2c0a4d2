/**
 * `npm run bench -- cluster`: the signalling load of the load bench (2,000
 * sockets, 100 hosts running invite → accept → end cycles with their own
 * guest, client mixing so no server mix starts) against one gateway, and
 * against three gateway nodes on one Redis (Debian's redis-server) with every
 * host on one node, its guest on the next and the idle sockets spread: the
 * invitation reaches the guest through the Redis streams adapter, and the
 * guest's accept runs on the host's node (NodeRpc). Side by side in one run,
 * on loopback. The time to move a mix after a node death is not measured:
 * re-placing mixes is not built yet (docs/cluster.md).
 */
import type { Benchmark, Target } from './support/benchmark';
import { rmSync } from 'node:fs';
import { HIGH_LIMITS, signallingLoad } from './load.bench';
import { RunningGateway, startGateway } from './support/gateway';
import { TestRedis } from './support/redis';

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

async function run(): Promise<Record<string, unknown>> {
  const single = await oneNode();
  const cluster = await threeNodes();
  return {
    oneNode: single,
    threeNodes: cluster,
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
    "host i on node i mod 3, its guest on node i+1 mod 3, idle sockets spread; round trip = invite emitted → cohost:invited received by the guest (through the Redis streams adapter in the cluster; the guest's accept runs on the host's node). Every gateway with one mediasoup worker and one origin process, rate limits raised; one run, side by side, on loopback.",
  summary: (r) => [
    row('one node', r.oneNode),
    row('three nodes, host and guest on different nodes', r.threeNodes),
    `| three nodes / one node | p50 ${r.p50Ratio}x, p99 ${r.p99Ratio}x | |`,
    '| time to move a mix after a node death | not measured: mixes are not re-placed yet (docs/cluster.md) | within 5 s |',
  ],
  targets: (r) =>
    [
      { figure: 'cluster: errors across nodes', value: r.threeNodes.errorRate * 100, unit: '%', kind: 'max', limit: 0 },
      { figure: 'cluster: connected sockets over three nodes', value: r.threeNodes.sockets, unit: '', kind: 'min', limit: 2000 },
    ] as Target[],
};
