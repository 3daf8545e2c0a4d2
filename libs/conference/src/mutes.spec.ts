import { MuteLockedError, muteKindOf, MuteTable } from './mutes';

describe('MuteTable', () => {
  it('lets the host mute and unmute anyone, and reports only changes', () => {
    const table = new MuteTable();
    expect(table.set('bob', 'audio', true, { host: true })).toEqual({ muted: true, locked: false, by: 'host' });
    expect(table.set('bob', 'audio', true, { host: true })).toBeUndefined();
    expect(table.view('bob')).toEqual({ muted: { audio: true, video: false, screen: false }, muteLocked: { audio: false, video: false, screen: false } });
    expect(table.has('bob')).toBe(true);
    expect(table.set('bob', 'audio', false, { host: true })).toEqual({ muted: false, locked: false, by: 'host' });
    expect(table.isMuted('bob', 'audio')).toBe(false);
    expect(table.has('bob')).toBe(false);
  });

  it('lets a participant unmute itself unless the host locked the mute', () => {
    const table = new MuteTable();
    table.set('bob', 'video', true, { host: true });
    expect(table.set('bob', 'video', false, { host: false })).toMatchObject({ muted: false, by: 'self' });
    table.set('bob', 'video', true, { host: true, locked: true });
    expect(table.view('bob').muteLocked.video).toBe(true);
    expect(() => table.set('bob', 'video', false, { host: false })).toThrow(MuteLockedError);
    expect(table.isMuted('bob', 'video')).toBe(true);
    // Other kinds are not locked by it.
    expect(table.set('bob', 'audio', true, { host: false })).toMatchObject({ muted: true, locked: false, by: 'self' });
    // The host lifts the lock by unmuting, or by muting again without it.
    expect(table.set('bob', 'video', true, { host: true })).toMatchObject({ muted: true, locked: false });
    expect(table.set('bob', 'video', false, { host: false })).toMatchObject({ muted: false });
  });

  it('does not let a participant lock, and keeps a locked error typed', () => {
    const table = new MuteTable();
    expect(() => table.set('bob', 'audio', true, { host: false, locked: true })).toThrow(expect.objectContaining({ code: 'NOT_CONFERENCE_HOST', status: 403 }));
    table.set('bob', 'audio', true, { host: true, locked: true });
    expect(() => table.set('bob', 'audio', false, { host: false })).toThrow(expect.objectContaining({ code: 'MUTE_LOCKED', status: 403 }));
  });

  it('tells a screen share from a camera', () => {
    expect(muteKindOf({ kind: 'audio', appData: { source: 'screen' } })).toBe('screen');
    expect(muteKindOf({ kind: 'audio', appData: { source: 'rtmp', screen: true } })).toBe('screen');
    expect(muteKindOf({ kind: 'audio', appData: {} })).toBe('audio');
    expect(muteKindOf({ kind: 'video', appData: {} })).toBe('video');
    expect(muteKindOf({ kind: 'video', appData: { source: 'screen' } })).toBe('screen');
    expect(muteKindOf({ kind: 'video', appData: { source: 'rtmp' } })).toBe('video');
  });
});
