import { RateLimitedError, RateLimiter, takeOrThrow } from './rate-limiter';

describe('RateLimiter', () => {
  it('allows a burst, then the refill rate, and says how long to wait', () => {
    const limiter = new RateLimiter(10, 3);
    expect([0, 1, 2, 3].map(() => limiter.take('u', 1000))).toEqual([0, 0, 0, 100]);
    expect(limiter.take('u', 1050)).toBe(50);
    expect(limiter.take('u', 1100)).toBe(0);
    expect(limiter.take('other', 1100)).toBe(0);
  });

  it('forgets keys that are full again', () => {
    const limiter = new RateLimiter(10, 2);
    for (let i = 0; i < 100; i += 1) limiter.take(`k${i}`, 0);
    expect(limiter.size).toBe(100);
    limiter.take('late', 5000);
    expect(limiter.size).toBe(1);
  });

  it('refuses a flooding user without drawing on their IP', () => {
    const users = new RateLimiter(1, 2);
    const ips = new RateLimiter(1, 3);
    const attempts = Array.from({ length: 50 }, () => {
      try {
        takeOrThrow(users, ips, 'flooder', '10.0.0.1', 0);
        return 'ok';
      } catch (error) {
        return (error as RateLimitedError).code;
      }
    });
    expect(attempts.filter((a) => a === 'ok')).toHaveLength(2);
    expect(attempts[2]).toBe('RATE_LIMITED');
    // Another user behind the same address still gets through.
    expect(() => takeOrThrow(users, ips, 'neighbour', '10.0.0.1', 0)).not.toThrow();
    expect(() => takeOrThrow(users, ips, 'third', '10.0.0.1', 0)).toThrow(RateLimitedError);
  });
});
