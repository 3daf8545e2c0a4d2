import type { LoggerService } from '@nestjs/common';
import Redis from 'ioredis';
import { redactUrl } from '@gw/common';

/**
 * The node's connection to the cluster's Redis (REDIS_URL), owned here and
 * closed once. ioredis reconnects by itself after Redis restarts or the
 * network drops (with back-off up to 2 s) and queues commands meanwhile, so
 * the node carries on without a restart of its own; outages are logged once
 * each, not once per retry.
 */
export class ClusterRedis {
  readonly client: Redis;
  #closed = false;
  #down = false;

  constructor(
    readonly url: string,
    private readonly logger: LoggerService,
  ) {
    this.client = new Redis(url, {
      lazyConnect: true,
      // A command waits through at most this many reconnect attempts, then fails (a heartbeat skips a beat).
      maxRetriesPerRequest: 5,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      connectionName: 'cohost-gateway',
    });
    this.client.on('error', (error: Error) => {
      if (this.#down || this.#closed) return;
      this.#down = true;
      this.logger.warn(`Redis ${redactUrl(url)}: ${error.message}; reconnecting`);
    });
    this.client.on('ready', () => {
      if (!this.#down) return;
      this.#down = false;
      this.logger.log(`Redis ${redactUrl(url)}: connected again`);
    });
  }

  /** Connects, or fails with a clear message when Redis does not answer within `timeoutMs`. */
  async connect(timeoutMs = 10000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.client.connect(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } catch (error) {
      this.client.disconnect();
      throw new Error(`cannot reach REDIS_URL ${redactUrl(this.url)}: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  get connected(): boolean {
    return this.client.status === 'ready';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
