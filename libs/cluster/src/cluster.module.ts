import { Global, Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { ConferenceService } from '@gw/conference';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { MixingService, MixPlacement } from '@gw/mixing';
import { ClusterRedis } from './cluster-redis';
import { RedisMixDirectory } from './mix-directory';
import { NodeRegistry } from './node-registry';
import { NodesController } from './nodes.controller';

/** The cluster's Redis connection, or null on a node of its own (no REDIS_URL). */
export const CLUSTER_REDIS = Symbol('CLUSTER_REDIS');

/**
 * Cluster mode (REDIS_URL): the Redis connection (connected before anything
 * else starts, so a node that cannot reach it fails to start with that
 * reason), the node registry with its heartbeats, and socket.io's Redis
 * streams adapter, through which events reach users on every node. Without
 * REDIS_URL only the registry of this one node is there.
 */
@Global()
@Module({
  controllers: [NodesController],
  providers: [
    {
      provide: CLUSTER_REDIS,
      inject: [GATEWAY_CONFIG],
      useFactory: async (config: ResolvedConfig): Promise<ClusterRedis | null> => {
        if (!config.cluster) return null;
        const redis = new ClusterRedis(config.cluster.redisUrl, new Logger('Cluster'));
        await redis.connect();
        return redis;
      },
    },
    {
      provide: NodeRegistry,
      inject: [GATEWAY_CONFIG, CLUSTER_REDIS, ConferenceService, MixingService],
      useFactory: (config: ResolvedConfig, redis: ClusterRedis | null, conferences: ConferenceService, mixing: MixingService) =>
        NodeRegistry.forConfig(
          config.cluster,
          { id: `local:${config.port}`, address: `http://${config.publicHost}:${config.port}`, cpuBudget: config.cpuBudget },
          { conferences: () => conferences.list().length, mixTasks: () => mixing.list().filter((t) => !t.ended).length, cpuReserved: () => mixing.capacity().reserved },
          redis ?? undefined,
          new Logger('Cluster'),
        ),
    },
  ],
  exports: [CLUSTER_REDIS, NodeRegistry],
})
export class ClusterModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(NodeRegistry) private readonly registry: NodeRegistry,
    @Inject(MixPlacement) private readonly placement: MixPlacement,
    @Optional() @Inject(CLUSTER_REDIS) private readonly redis: ClusterRedis | null,
  ) {}

  /** The socket.io adapter of this node: Redis streams in cluster mode, socket.io's own (this node only) otherwise. */
  static socketAdapter(redis: ClusterRedis | null): ReturnType<typeof createAdapter> | undefined {
    // A node that died stops counting for server-side requests after 3 s of silence (default 10 s).
    return redis ? createAdapter(redis.client, { streamName: 'cohost:socket.io', heartbeatInterval: 1000, heartbeatTimeout: 3000 }) : undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.registry.start();
    // Mixes placed by CPU room across the nodes, and moved when their node is lost.
    if (this.redis) this.placement.attach(new RedisMixDirectory(this.redis.client), () => this.registry.list());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registry.stop();
    await this.redis?.close();
  }
}
