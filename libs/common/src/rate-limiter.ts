import { GatewayError } from './errors';

export class RateLimitedError extends GatewayError {
  constructor(readonly retryAfterMs: number) {
    super('RATE_LIMITED', `too many requests; retry in ${Math.ceil(retryAfterMs / 100) / 10} s`, 429);
  }
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets by key (a user, an IP): `perSecond` tokens refill up to
 * `burst`; each call takes one. Keys idle long enough to be full again are
 * forgotten, so memory follows the active keys, not every key ever seen.
 * Pure: time is passed in.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  #lastSweep = 0;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  /** Takes a token for `key`; returns 0 if allowed, else the ms until one is available. */
  take(key: string, now: number): number {
    this.#sweep(now);
    const bucket = this.#buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / this.perSecond) * 1000);
  }

  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    const fullAfterMs = (this.burst / this.perSecond) * 1000;
    if (now - this.#lastSweep < Math.max(1000, fullAfterMs)) return;
    this.#lastSweep = now;
    for (const [key, bucket] of this.#buckets) if (now - bucket.at >= fullAfterMs) this.#buckets.delete(key);
  }
}

/**
 * A user's bucket, then their IP's: a user over their limit is refused without
 * drawing on the IP's bucket, so one flooding user cannot starve the others
 * behind the same address. Throws RateLimitedError.
 */
export function takeOrThrow(perUser: RateLimiter, perIp: RateLimiter, user: string | undefined, ip: string, now = Date.now()): void {
  const userWait = user === undefined ? 0 : perUser.take(user, now);
  if (userWait > 0) throw new RateLimitedError(userWait);
  const ipWait = perIp.take(ip, now);
  if (ipWait > 0) throw new RateLimitedError(ipWait);
}
