import { ingestAccess } from './ingest-access';

const conference = (members: string[], hostUserId?: string) => ({ id: 'conf_1', hostUserId, isMember: (u: string) => members.includes(u) });
const user = (userId: string) => ({ kind: 'user' as const, userId });
const admin = { kind: 'admin' as const };

describe('ingestAccess', () => {
  it('lets an admin ask for anyone, admitting a user who is not a member yet', () => {
    expect(ingestAccess(admin, conference([]), 'obs')).toBe('admit');
    expect(ingestAccess(admin, conference(['obs']), 'obs')).toBe('member');
  });

  it("lets the conference's host ask for anyone, admitting them", () => {
    expect(ingestAccess(user('h'), conference(['h'], 'h'), 'obs')).toBe('admit');
    expect(ingestAccess(user('h'), conference(['h', 'obs'], 'h'), 'obs')).toBe('member');
    expect(ingestAccess(user('h'), conference(['h'], 'h'), 'h')).toBe('member');
  });

  it('lets a member ask for themself, whatever their token role', () => {
    expect(ingestAccess(user('g'), conference(['h', 'g'], 'h'), 'g')).toBe('member');
  });

  it('refuses a non-member asking for themself with NOT_A_MEMBER', () => {
    expect(() => ingestAccess(user('v'), conference(['h'], 'h'), 'v')).toThrow(expect.objectContaining({ code: 'NOT_A_MEMBER', status: 403 }));
  });

  it('refuses anyone but the admin and the host asking for someone else with FORBIDDEN', () => {
    expect(() => ingestAccess(user('g'), conference(['h', 'g', 'x'], 'h'), 'x')).toThrow(expect.objectContaining({ code: 'FORBIDDEN', status: 403 }));
    expect(() => ingestAccess(user('other'), conference(['h', 'x'], 'h'), 'x')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    // A conference without a host (created by an admin): no user may admit.
    expect(() => ingestAccess(user('u'), conference(['x']), 'x')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
  });
});
