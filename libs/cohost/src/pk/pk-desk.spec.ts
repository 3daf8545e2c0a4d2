import { PkDesk } from './pk-desk';

const A = { channelId: 'chA', userId: 'hostA' };
const B = { channelId: 'chB', userId: 'hostB' };
const C = { channelId: 'chC', userId: 'hostC' };

describe('PkDesk', () => {
  let desk: PkDesk;
  beforeEach(() => (desk = new PkDesk({ ttlMs: 30000 })));

  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return (error as { code: string }).code;
    }
    return 'no error';
  };

  it('invite → accept → started → end, by the right hosts only', () => {
    const pk = desk.invite(A, B, 0, 'pk1');
    expect(pk).toMatchObject({ state: 'pending', fromChannelId: 'chA', toChannelId: 'chB', expiresAt: 30000 });
    expect(code(() => desk.accept('hostA', 'pk1', 1))).toBe('NOT_YOUR_MOVE');
    expect(desk.accept('hostB', 'pk1', 1).state).toBe('active');
    expect(desk.started('pk1', 'conf1').conferenceId).toBe('conf1');
    expect(code(() => desk.end('hostC', 'pk1', 'x', 2))).toBe('NOT_YOUR_MOVE');
    expect(desk.end('hostA', 'pk1', 'host ended', 2)).toMatchObject({ state: 'ended', reason: 'host ended', endedAt: 2 });
    expect(code(() => desk.end('hostB', 'pk1', 'again', 3))).toBe('PK_ENDED');
  });

  it('refuses a PK with one’s own channel and a host already in one', () => {
    expect(code(() => desk.invite(A, A, 0, 'x'))).toBe('PK_OWN_CHANNEL');
    desk.invite(A, B, 0, 'pk1');
    expect(code(() => desk.invite(C, B, 0, 'pk2'))).toBe('ALREADY_IN_PK');
    expect(code(() => desk.invite(A, C, 0, 'pk3'))).toBe('ALREADY_IN_PK');
    expect(code(() => desk.invite(B, C, 0, 'pk4'))).toBe('ALREADY_IN_PK');
    desk.reject('hostB', 'pk1', 1, 'busy');
    expect(desk.invite(C, B, 2, 'pk5').state).toBe('pending');
  });

  it('cancel races accept: exactly one wins', () => {
    desk.invite(A, B, 0, 'pk1');
    expect(desk.cancel('hostA', 'pk1', 1).state).toBe('cancelled');
    expect(code(() => desk.accept('hostB', 'pk1', 1))).toBe('PK_CANCELLED');
    desk.invite(A, B, 2, 'pk2');
    expect(desk.accept('hostB', 'pk2', 3).state).toBe('active');
    expect(code(() => desk.cancel('hostA', 'pk2', 3))).toBe('PK_ACTIVE');
  });

  it('expires a pending PK after its ttl, and then nothing else moves it', () => {
    desk.invite(A, B, 0, 'pk1');
    expect(desk.expire(29999)).toEqual([]);
    expect(desk.expire(30000).map((p) => p.id)).toEqual(['pk1']);
    expect(code(() => desk.accept('hostB', 'pk1', 30001))).toBe('PK_EXPIRED');
    // An accept after the ttl finds it expired even when nobody swept first.
    desk.invite(A, B, 40000, 'pk2');
    expect(code(() => desk.accept('hostB', 'pk2', 70000))).toBe('PK_EXPIRED');
    expect(code(() => desk.get('nope'))).toBe('PK_NOT_FOUND');
  });

  it('runs a battle: scores, no score after the time, a winner or a tie', () => {
    desk.invite(A, B, 0, 'pk1');
    desk.accept('hostB', 'pk1', 0);
    expect(code(() => desk.score('pk1', 'chA', 1, 0))).toBe('NO_BATTLE');
    expect(code(() => desk.startBattle('hostA', 'pk1', 0, 0))).toBe('VALIDATION_FAILED');
    expect(code(() => desk.startBattle('hostC', 'pk1', 10, 0))).toBe('NOT_YOUR_MOVE');
    expect(desk.startBattle('hostA', 'pk1', 10, 1000).battle).toMatchObject({ endsAt: 11000, scores: { chA: 0, chB: 0 }, over: false });
    expect(code(() => desk.startBattle('hostB', 'pk1', 10, 2000))).toBe('BATTLE_RUNNING');
    desk.score('pk1', 'chA', 5, 2000);
    desk.score('pk1', 'chB', 7, 3000);
    desk.score('pk1', 'chB', -10, 3000);
    expect(code(() => desk.score('pk1', 'chX', 1, 3000))).toBe('NOT_IN_PK');
    expect(code(() => desk.score('pk1', 'chA', 0.5, 3000))).toBe('VALIDATION_FAILED');
    expect(desk.finishBattles(10999)).toEqual([]);
    expect(desk.finishBattle('pk1', 10999)).toBeUndefined();
    const [done] = desk.finishBattles(11000);
    expect(done.battle).toMatchObject({ scores: { chA: 5, chB: 0 }, winnerChannelId: 'chA', over: true });
    expect(code(() => desk.score('pk1', 'chA', 1, 11001))).toBe('NO_BATTLE');
    // A second battle, a tie.
    desk.startBattle('hostB', 'pk1', 1, 20000);
    expect(desk.finishBattles(21000)[0].battle!.winnerChannelId).toBeNull();
  });

  it('keeps ended PKs for a while, then forgets them', () => {
    desk.invite(A, B, 0, 'pk1');
    desk.reject('hostB', 'pk1', 10);
    desk.prune(10 + 60000, 60000);
    expect(desk.get('pk1').state).toBe('rejected');
    desk.prune(10 + 60001, 60000);
    expect(code(() => desk.get('pk1'))).toBe('PK_NOT_FOUND');
  });
});
