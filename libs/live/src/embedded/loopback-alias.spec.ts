import { loopbackAliasOf } from './loopback-alias';

describe('loopbackAliasOf', () => {
  it('keeps loopback clients on the default address', () => {
    expect(loopbackAliasOf('127.0.0.1')).toBeUndefined();
    expect(loopbackAliasOf('::ffff:127.0.0.1')).toBeUndefined();
    expect(loopbackAliasOf('::1')).toBeUndefined();
    expect(loopbackAliasOf(undefined)).toBeUndefined();
  });

  it('gives each other client address a stable address of its own in 127/8, away from 127.0.x.x', () => {
    const a = loopbackAliasOf('203.0.113.7')!;
    expect(a).toMatch(/^127\.(\d+)\.(\d+)\.(\d+)$/);
    const [, second, third, fourth] = a.split('.').map(Number);
    expect(second).toBeGreaterThanOrEqual(1);
    expect(second).toBeLessThanOrEqual(254);
    expect(third).toBeLessThanOrEqual(255);
    expect(fourth).toBeGreaterThanOrEqual(1);
    expect(fourth).toBeLessThanOrEqual(254);
    expect(loopbackAliasOf('203.0.113.7')).toBe(a);
    expect(loopbackAliasOf('::ffff:203.0.113.7')).toBe(a);
    expect(loopbackAliasOf('203.0.113.8')).not.toBe(a);
    expect(loopbackAliasOf('2001:db8::1')).toMatch(/^127\./);
  });
});
