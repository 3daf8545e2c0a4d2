import { RateLimiter, takeOrThrow } from '@gw/common';
import type { ResolvedConfig } from '@gw/config';
import type { Principal } from './principal';

/**
 * The gateway's rate limits: per user for REST calls and for socket events,
 * and per client IP for both. Admin calls count against their IP only.
 */
export class RateLimits {
  readonly #restUsers: RateLimiter;
  readonly #socketUsers: RateLimiter;
  readonly #ips: RateLimiter;

  constructor(limits: ResolvedConfig['rateLimits']) {
    this.#restUsers = new RateLimiter(limits.restPerUser.perSecond, limits.restPerUser.burst);
    this.#socketUsers = new RateLimiter(limits.socketPerUser.perSecond, limits.socketPerUser.burst);
    this.#ips = new RateLimiter(limits.perIp.perSecond, limits.perIp.burst);
  }

  /** Throws RateLimitedError (429, RATE_LIMITED) when over a limit. */
  rest(principal: Principal | undefined, ip: string): void {
    takeOrThrow(this.#restUsers, this.#ips, principal?.kind === 'user' ? principal.userId : undefined, ip);
  }

  socket(userId: string, ip: string): void {
    takeOrThrow(this.#socketUsers, this.#ips, userId, ip);
  }
}
