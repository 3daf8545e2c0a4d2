import { ForbiddenError } from '@gw/common';

/** What a mute applies to: a participant's microphone, camera or screen share. */
export type MuteKind = 'audio' | 'video' | 'screen';
export const MUTE_KINDS: readonly MuteKind[] = ['audio', 'video', 'screen'];

export interface MuteState {
  muted: boolean;
  /** Muted by the host with `locked`: only the host may unmute. */
  locked: boolean;
  /** Who set the current state. */
  by: 'host' | 'self';
}

export type MuteView = Record<MuteKind, boolean>;

export class MuteLockedError extends ForbiddenError {
  constructor(kind: MuteKind) {
    super(`the host muted your ${kind} and locked it`, 'MUTE_LOCKED');
  }
}

/** The media kind a producer's mute is decided by: its audio, its camera, or its screen share. */
export function muteKindOf(producer: { kind: 'audio' | 'video'; appData: Record<string, unknown> }): MuteKind {
  // A screen share's sound goes with the share: muting the screen silences it, muting the microphone does not.
  if (isScreen(producer.appData)) return 'screen';
  return producer.kind === 'audio' ? 'audio' : 'video';
}

/**
 * A screen share's producer: a browser's (`appData.source: "screen"`) or an RTMP screen's
 * (`POST /conferences/:id/ingest {kind: "screen"}`: `source: "rtmp", screen: true`).
 */
export function isScreen(appData: Record<string, unknown>): boolean {
  return appData.source === 'screen' || appData.screen === true;
}

/**
 * The mutes of one conference, by participant and kind. They outlive the
 * participant's producers (a new camera of a muted participant is paused at
 * once) and its rejoins. Who may change what: the host anything, with or
 * without a lock; a participant its own kinds, unless the host locked them; a
 * participant cannot lock. Pure: the conference applies the outcome to its
 * producers.
 */
export class MuteTable {
  readonly #states = new Map<string, Map<MuteKind, MuteState>>();

  /**
   * Sets `userId`'s `kind` to muted or not, as `actor` asks. Returns the new
   * state, or undefined when nothing changed. Throws MuteLockedError when the
   * participant itself tries to undo a locked mute, and a ForbiddenError when
   * it tries to lock.
   */
  set(userId: string, kind: MuteKind, muted: boolean, actor: { host: boolean; locked?: boolean }): MuteState | undefined {
    const current = this.get(userId, kind);
    if (!actor.host) {
      if (actor.locked) throw new ForbiddenError('only the conference host may lock a mute', 'NOT_CONFERENCE_HOST');
      if (current.locked) throw new MuteLockedError(kind);
    }
    const next: MuteState = { muted, locked: muted && actor.host && actor.locked === true, by: actor.host ? 'host' : 'self' };
    if (next.muted === current.muted && next.locked === current.locked) return undefined;
    let byKind = this.#states.get(userId);
    if (!byKind) this.#states.set(userId, (byKind = new Map()));
    if (next.muted) byKind.set(kind, next);
    else {
      byKind.delete(kind);
      if (!byKind.size) this.#states.delete(userId);
    }
    return next;
  }

  get(userId: string, kind: MuteKind): MuteState {
    return this.#states.get(userId)?.get(kind) ?? { muted: false, locked: false, by: 'self' };
  }

  /** Whether anything of `userId`'s is muted. */
  has(userId: string): boolean {
    return this.#states.has(userId);
  }

  isMuted(userId: string, kind: MuteKind): boolean {
    return this.get(userId, kind).muted;
  }

  /** `{audio, video, screen}`: whether each is muted; and which of them the host locked. */
  view(userId: string): { muted: MuteView; muteLocked: MuteView } {
    const muted = { audio: false, video: false, screen: false };
    const muteLocked = { audio: false, video: false, screen: false };
    for (const [kind, state] of this.#states.get(userId) ?? []) {
      muted[kind] = state.muted;
      muteLocked[kind] = state.locked;
    }
    return { muted, muteLocked };
  }
}
