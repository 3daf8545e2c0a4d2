import type { LoggerService } from '@nestjs/common';
import type { ClusterConfig } from '@gw/config';
import type { ClusterRedis } from './cluster-redis';
import { forgottenNodes, NodeReport, NodeView, redisTimeMs, viewNodes } from './node-liveness';
import { ProcessTreeCpu } from './process-tree-cpu';

/** Redis keys of the registry: each node's latest report, and the Redis time of its latest heartbeat. */
export const NODE_REPORTS_KEY = 'cohost:nodes:reports';
export const NODE_SEEN_KEY = 'cohost:nodes:seen';
/** Twice a second: a node's mixes move after 1.5 s of silence (mix-placement.ts), long before it is listed gone at 5 s. */
export const HEARTBEAT_MS = 500;

/** Stores a report and stamps it with Redis's clock, in one step. */
const HEARTBEAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], now)
return now`;

export interface NodeLoad {
  conferences: () => number;
  cpuReserved: () => number;
  mixTasks: () => number;
}

/**
 * The cluster's node registry. In cluster mode each node heartbeats its load
 * and capacity to Redis every second and reads everyone's back from there; a
 * node unheard of for 5 s (Redis clock) is gone, and one that stopped cleanly
 * is gone at once. On its own (no REDIS_URL) the registry is this node alone.
 */
export class NodeRegistry {
  readonly #cpu = new ProcessTreeCpu();
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #beats = 0;
  #stopped = false;
  #lastCpu = 0;

  constructor(
    private readonly self: { id: string; address: string; cpuBudget: number },
    private readonly load: NodeLoad,
    private readonly redis: ClusterRedis | undefined,
    private readonly logger: LoggerService,
  ) {}

  static forConfig(cluster: ClusterConfig | undefined, fallback: { id: string; address: string; cpuBudget: number }, load: NodeLoad, redis: ClusterRedis | undefined, logger: LoggerService): NodeRegistry {
    return new NodeRegistry(cluster ? { id: cluster.nodeId, address: cluster.address, cpuBudget: cluster.cpuBudget } : fallback, load, redis, logger);
  }

  get nodeId(): string {
    return this.self.id;
  }

  /** Starts heartbeating (cluster mode); resolves after the first heartbeat reached Redis. */
  async start(): Promise<void> {
    this.#cpu.sample();
    if (!this.redis) return;
    this.redis.client.defineCommand('cohostHeartbeat', { numberOfKeys: 2, lua: HEARTBEAT_SCRIPT });
    await this.#beat();
    this.#timer = setInterval(() => {
      // A beat still waiting for Redis (it is restarting) is not stacked on.
      this.#beating ??= this.#beat()
        .catch((error: Error) => this.logger.debug?.(`heartbeat skipped: ${error.message}`))
        .finally(() => (this.#beating = undefined));
    }, HEARTBEAT_MS);
    this.#timer.unref();
  }

  #report(stopped = false): NodeReport {
    return {
      id: this.self.id,
      address: this.self.address,
      cpuBudget: this.self.cpuBudget,
      cpuUsed: this.#lastCpu,
      cpuReserved: this.load.cpuReserved(),
      conferences: this.load.conferences(),
      mixTasks: this.load.mixTasks(),
      ...(stopped ? { stopped: true } : {}),
    };
  }

  async #beat(stopped = false): Promise<void> {
    if (!stopped) this.#lastCpu = Math.round(this.#cpu.sample() * 1000) / 1000;
    const client = this.redis!.client as unknown as { cohostHeartbeat: (k1: string, k2: string, id: string, report: string) => Promise<number> };
    const now = await client.cohostHeartbeat(NODE_REPORTS_KEY, NODE_SEEN_KEY, this.self.id, JSON.stringify(this.#report(stopped)));
    this.#beats += 1;
    if (this.#beats % 120 === 1) await this.#forget(Number(now));
  }

  /** Drops nodes gone for over an hour. */
  async #forget(nowMs: number): Promise<void> {
    const seen = await this.redis!.client.hgetall(NODE_SEEN_KEY);
    const old = forgottenNodes(seen, nowMs);
    if (old.length) await this.redis!.client.multi().hdel(NODE_REPORTS_KEY, ...old).hdel(NODE_SEEN_KEY, ...old).exec();
  }

  /** Every node the cluster knows, up or gone, as of Redis's clock. */
  async list(): Promise<NodeView[]> {
    if (!this.redis) {
      this.#lastCpu = Math.round(this.#cpu.sample() * 1000) / 1000;
      const now = Date.now();
      return viewNodes({ [this.self.id]: JSON.stringify(this.#report()) }, { [this.self.id]: String(now) }, now);
    }
    const replies = await this.redis.client.multi().time().hgetall(NODE_REPORTS_KEY).hgetall(NODE_SEEN_KEY).exec();
    const failed = replies?.find(([error]) => error);
    if (!replies || failed) throw new Error(`reading the node registry: ${failed?.[0]?.message ?? 'transaction aborted'}`);
    const [[, time], [, reports], [, seen]] = replies as [unknown, unknown][];
    return viewNodes(reports as Record<string, string>, seen as Record<string, string>, redisTimeMs(time as [string, string]));
  }

  /** Stops heartbeating; a node that stops cleanly says so, so the others see it gone at once. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    if (!this.redis) return;
    await this.#beating?.catch(() => undefined);
    if (this.redis.connected) await this.#beat(true).catch((error: Error) => this.logger.warn(`could not tell the cluster this node stops: ${error.message}`));
  }
}
