import jwt from 'jsonwebtoken';
import { TokenService } from './token.service';
import { isAllowed } from './principal';

const SECRET = 'x'.repeat(40);

describe('TokenService', () => {
  it('round-trips a token with role and scope', () => {
    const service = new TokenService(SECRET, () => 1_000_000_000_000);
    const { token, expiresAt } = service.issue({ userId: 'u1', role: 'host', channelId: 'c1', ttlSeconds: 60 });
    expect(expiresAt).toBe(new Date(1_000_000_060_000).toISOString());
    expect(service.verify(token)).toEqual({ kind: 'user', userId: 'u1', role: 'host', channelId: 'c1', conferenceId: undefined, expiresAt: 1_000_000_060_000 });
  });

  it('refuses an expired token with TOKEN_EXPIRED', () => {
    let now = 1_000_000_000_000;
    const service = new TokenService(SECRET, () => now);
    const { token } = service.issue({ userId: 'u1', role: 'viewer', ttlSeconds: 10 });
    now += 11_000;
    expect(() => service.verify(token)).toThrow(expect.objectContaining({ code: 'TOKEN_EXPIRED', status: 401 }));
  });

  it('refuses tampered, foreign and role-less tokens with TOKEN_INVALID', () => {
    const service = new TokenService(SECRET);
    const { token } = service.issue({ userId: 'u1', role: 'viewer' });
    const [h, p, s] = token.split('.');
    const escalated = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), role: 'host' })).toString('base64url');
    expect(() => service.verify(`${h}.${escalated}.${s}`)).toThrow(expect.objectContaining({ code: 'TOKEN_INVALID' }));
    expect(() => service.verify(jwt.sign({ sub: 'u', role: 'host' }, 'y'.repeat(40), { issuer: 'cohost-gateway' }))).toThrow(
      expect.objectContaining({ code: 'TOKEN_INVALID' }),
    );
    expect(() => service.verify(jwt.sign({ sub: 'u', role: 'admin' }, SECRET, { issuer: 'cohost-gateway', expiresIn: 60 }))).toThrow(
      expect.objectContaining({ code: 'TOKEN_INVALID' }),
    );
    expect(() => service.verify(jwt.sign({ sub: 'u', role: 'host' }, SECRET, { algorithm: 'none' as never }))).toThrow();
  });
});

describe('isAllowed', () => {
  const host = { kind: 'user' as const, userId: 'h', role: 'host' as const, expiresAt: 0 };
  it.each([
    [{ kind: 'admin' as const }, ['admin'], true],
    [{ kind: 'admin' as const }, ['host'], false],
    [host, ['admin', 'host'], true],
    [host, ['admin'], false],
    [host, ['any'], true],
    [{ ...host, role: 'viewer' as const }, ['host', 'guest'], false],
  ])('%j for %j -> %s', (principal, accepted, expected) => {
    expect(isAllowed(principal, accepted as never)).toBe(expected);
  });
});
