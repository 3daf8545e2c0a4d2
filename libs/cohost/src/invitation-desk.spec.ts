import { InvitationNotFoundError } from './cohost-errors';
import { Actor, InvitationDesk } from './invitation-desk';

const host: Actor = { userId: 'anchor', role: 'host' };
const viewer = (userId: string): Actor => ({ userId, role: 'viewer' });
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'no error';
};

describe('InvitationDesk', () => {
  let desk: InvitationDesk;
  beforeEach(() => {
    desk = new InvitationDesk('show', 'anchor', { maxGuests: 2, ttlMs: 30_000 });
  });

  it('invite → accept seats the guest', () => {
    const inv = desk.invite(host, 'bob', 0, 'i1');
    expect(inv).toMatchObject({ kind: 'invite', state: 'pending', guestUserId: 'bob', expiresAt: 30_000 });
    expect(desk.accept('i1', viewer('bob'), 1000)).toMatchObject({ state: 'accepted' });
    expect(desk.guests).toEqual(['bob']);
    expect(desk.seatsLeft).toBe(1);
  });

  it('lists every invitation it holds, ended ones too, as copies', () => {
    desk.invite(host, 'bob', 0, 'i1');
    desk.apply(viewer('carol'), 1, 'a1');
    desk.cancel('i1', host, 2);
    const all = desk.all();
    expect(all.map((i) => [i.id, i.state])).toEqual([
      ['i1', 'cancelled'],
      ['a1', 'pending'],
    ]);
    all[1].state = 'accepted';
    expect(desk.get('a1').state).toBe('pending');
  });

  it('apply → host accepts', () => {
    desk.apply(viewer('carol'), 0, 'a1');
    expect(code(() => desk.accept('a1', viewer('carol'), 1))).toBe('NOT_YOUR_MOVE');
    expect(desk.accept('a1', host, 2)).toMatchObject({ kind: 'apply', state: 'accepted' });
    expect(desk.isOnMic('carol')).toBe(true);
  });

  it('reject and cancel belong to the right side', () => {
    desk.invite(host, 'bob', 0, 'i1');
    expect(code(() => desk.reject('i1', host, 1))).toBe('NOT_YOUR_MOVE');
    expect(code(() => desk.cancel('i1', viewer('bob'), 1))).toBe('NOT_YOUR_MOVE');
    expect(desk.reject('i1', viewer('bob'), 2, 'busy')).toMatchObject({ state: 'rejected', reason: 'busy' });
    desk.apply(viewer('dan'), 3, 'a1');
    expect(code(() => desk.cancel('a1', host, 4))).toBe('NOT_YOUR_MOVE');
    expect(desk.cancel('a1', viewer('dan'), 5)).toMatchObject({ state: 'cancelled' });
  });

  it('refuses illegal moves with typed errors and leaves state unchanged', () => {
    desk.invite(host, 'bob', 0, 'i1');
    desk.accept('i1', viewer('bob'), 1);
    expect(code(() => desk.accept('i1', viewer('bob'), 2))).toBe('INVITATION_ACCEPTED');
    desk.invite(host, 'eve', 3, 'i2');
    desk.cancel('i2', host, 4);
    expect(code(() => desk.accept('i2', viewer('eve'), 5))).toBe('INVITATION_CANCELLED');
    expect(desk.get('i2').state).toBe('cancelled');
    expect(code(() => desk.invite(viewer('mallory'), 'x', 6, 'i3'))).toBe('NOT_CHANNEL_HOST');
    expect(code(() => desk.invite({ userId: 'other-host', role: 'host' }, 'x', 6, 'i3'))).toBe('NOT_CHANNEL_HOST');
    expect(code(() => desk.invite(host, 'bob', 7, 'i4'))).toBe('ALREADY_ON_MIC');
    expect(code(() => desk.invite(host, 'anchor', 7, 'i4'))).toBe('ALREADY_ON_MIC');
    expect(code(() => desk.accept('nope', host, 8))).toBe('INVITATION_NOT_FOUND');
    desk.invite(host, 'fay', 9, 'i5');
    expect(code(() => desk.invite(host, 'fay', 10, 'i6'))).toBe('INVITATION_PENDING');
    expect(code(() => desk.apply(viewer('fay'), 10, 'a9'))).toBe('INVITATION_PENDING');
  });

  it('expires pending invitations after the TTL', () => {
    desk.invite(host, 'bob', 0, 'i1');
    expect(desk.expire(29_999)).toEqual([]);
    expect(desk.expire(30_000).map((i) => i.id)).toEqual(['i1']);
    expect(code(() => desk.accept('i1', viewer('bob'), 30_001))).toBe('INVITATION_EXPIRED');
    // Accepting after the deadline fails even before a sweep has run.
    desk.invite(host, 'gus', 40_000, 'i2');
    expect(code(() => desk.accept('i2', viewer('gus'), 70_000))).toBe('INVITATION_EXPIRED');
    // An expired invitation does not block a new one.
    expect(desk.invite(host, 'bob', 70_000, 'i3').state).toBe('pending');
  });

  it('keeps to the seat limit when inviting and when accepting', () => {
    desk.invite(host, 'a', 0, 'i1');
    desk.invite(host, 'b', 0, 'i2');
    desk.invite(host, 'c', 0, 'i3');
    desk.accept('i1', viewer('a'), 1);
    desk.accept('i2', viewer('b'), 1);
    expect(code(() => desk.accept('i3', viewer('c'), 2))).toBe('SEATS_FULL');
    expect(desk.get('i3').state).toBe('pending');
    expect(code(() => desk.invite(host, 'd', 2, 'i4'))).toBe('SEATS_FULL');
    expect(code(() => desk.apply(viewer('e'), 2, 'a1'))).toBe('SEATS_FULL');
    desk.kick(host, 'a');
    expect(desk.accept('i3', viewer('c'), 3).state).toBe('accepted');
    expect(code(() => desk.kick(viewer('c'), 'b'))).toBe('NOT_CHANNEL_HOST');
    expect(code(() => desk.leave('zed'))).toBe('NOT_ON_MIC');
  });

  it('a duplicate accept racing a cancel: whichever comes first wins, the other is refused', () => {
    desk.invite(host, 'bob', 0, 'i1');
    desk.cancel('i1', host, 1);
    expect(code(() => desk.accept('i1', viewer('bob'), 1))).toBe('INVITATION_CANCELLED');
    desk.invite(host, 'bob', 2, 'i2');
    desk.accept('i2', viewer('bob'), 3);
    expect(code(() => desk.cancel('i2', host, 3))).toBe('INVITATION_ACCEPTED');
    expect(desk.guests).toEqual(['bob']);
  });

  it('returns copies, so callers cannot change the state behind its back', () => {
    const inv = desk.invite(host, 'bob', 0, 'i1');
    inv.state = 'accepted';
    expect(desk.get('i1').state).toBe('pending');
  });

  it('tells whether it holds an invitation; an unknown id is a typed INVITATION_NOT_FOUND, also when asked to move it', () => {
    desk.invite(host, 'bob', 0, 'i1');
    expect(desk.has('i1')).toBe(true);
    expect(desk.has('nope')).toBe(false);
    const limit = Error.stackTraceLimit;
    let error: unknown;
    try {
      desk.get('nope');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvitationNotFoundError);
    expect(error).toMatchObject({ code: 'INVITATION_NOT_FOUND', status: 404, message: 'invitation nope not found' });
    expect(Error.stackTraceLimit).toBe(limit); // restored after the cheap (stackless) error
    expect(code(() => desk.accept('nope', viewer('bob'), 1))).toBe('INVITATION_NOT_FOUND');
    expect(code(() => desk.cancel('nope', host, 1))).toBe('INVITATION_NOT_FOUND');
  });
});
