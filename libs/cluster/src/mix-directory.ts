import type Redis from 'ioredis';
import type { MixDirectory, PlacedMix } from '@gw/mixing';

/** Which node runs each placed mix (mix id → node id). */
export const MIX_NODES_KEY = 'cohost:mixes:node';
/** Each placed mix's spec as patched, JSON (mix id → spec); kept apart so a claim never rewrites it. */
export const MIX_SPECS_KEY = 'cohost:mixes:spec';

// Hands a mix from one node to another only if it is still the first one's: one winner when several claim.
const CLAIM = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0`;
// Forgets a mix only if the node asking still runs it (not after another node took it over).
const REMOVE = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) redis.call('HDEL', KEYS[2], ARGV[1]) return 1 end return 0`;

/** The cluster's placed mixes in Redis (mix-placement.ts): two hashes, changed atomically. */
export class RedisMixDirectory implements MixDirectory {
  constructor(private readonly redis: Redis) {}

  async put(mix: PlacedMix): Promise<void> {
    await this.redis.multi().hset(MIX_NODES_KEY, mix.id, mix.node).hset(MIX_SPECS_KEY, mix.id, JSON.stringify(mix.spec)).exec();
  }

  async remove(id: string, node: string): Promise<void> {
    await this.redis.eval(REMOVE, 2, MIX_NODES_KEY, MIX_SPECS_KEY, id, node);
  }

  async all(): Promise<PlacedMix[]> {
    const [nodes, specs] = await Promise.all([this.redis.hgetall(MIX_NODES_KEY), this.redis.hgetall(MIX_SPECS_KEY)]);
    const mixes: PlacedMix[] = [];
    for (const [id, node] of Object.entries(nodes)) {
      const spec = specs[id];
      if (!spec) continue;
      try {
        mixes.push({ id, node, spec: JSON.parse(spec) });
      } catch {
        // A spec that does not parse cannot be started again; left for an operator to see.
      }
    }
    return mixes;
  }

  async claim(id: string, from: string, to: string): Promise<boolean> {
    return (await this.redis.eval(CLAIM, 1, MIX_NODES_KEY, id, from, to)) === 1;
  }
}
