import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '@gw/common';

/**
 * PK (host-to-host co-hosting across two channels) as an explicit state
 * machine, with its battles. Pure: time and ids are passed in; nothing here
 * does I/O.
 *
 *   pending ──accept──► active ──end──► ended     (accept: the target channel's host; end: either host)
 *      │ ├───reject──► rejected                  (the target channel's host)
 *      │ ├───cancel──► cancelled                 (the inviter)
 *      │ └───(ttl)───► expired
 *
 * A host takes part in at most one PK at a time, pending or active
 * (ALREADY_IN_PK). A battle runs inside an active PK: a countdown and a score
 * per channel; when it ends the higher score wins (a tie has no winner).
 */
export type PkState = 'pending' | 'active' | 'rejected' | 'cancelled' | 'expired' | 'ended';

export interface PkBattle {
  startedAt: number;
  endsAt: number;
  scores: Record<string, number>;
  /** Set once the battle is over. */
  winnerChannelId?: string | null;
  over: boolean;
}

export interface Pk {
  id: string;
  fromChannelId: string;
  fromUserId: string;
  toChannelId: string;
  toUserId: string;
  state: PkState;
  createdAt: number;
  expiresAt: number;
  conferenceId?: string;
  reason?: string;
  /** When it left pending/active. */
  endedAt?: number;
  battle?: PkBattle;
}

export class PkNotFoundError extends NotFoundError {
  constructor(id: string) {
    super(`PK ${id} not found`, 'PK_NOT_FOUND');
  }
}

/** The move is not allowed in the PK's current state. */
export class PkStateError extends ConflictError {
  constructor(id: string, state: PkState) {
    super(`PK ${id} is ${state}`, `PK_${state.toUpperCase()}`);
  }
}

export class AlreadyInPkError extends ConflictError {
  constructor(userId: string) {
    super(`${userId} is already in a PK`, 'ALREADY_IN_PK');
  }
}

export class PkOwnChannelError extends ValidationError {
  constructor(channelId: string) {
    super(`a host cannot PK their own channel ${channelId}`, 'PK_OWN_CHANNEL');
  }
}

export class NotPkHostError extends ForbiddenError {
  constructor(move: string) {
    super(`you may not ${move} this PK`, 'NOT_YOUR_MOVE');
  }
}

export class BattleStateError extends ConflictError {
  constructor(message: string, code: string) {
    super(message, code);
  }
}

export const MAX_BATTLE_SECONDS = 3600;

export class PkDesk {
  readonly #pks = new Map<string, Pk>();

  constructor(private readonly options: { ttlMs: number }) {}

  get(id: string): Pk {
    const pk = this.#pks.get(id);
    if (!pk) throw new PkNotFoundError(id);
    return structuredClone(pk);
  }

  /** Every PK still pending or active. */
  open(): Pk[] {
    return [...this.#pks.values()].filter((p) => p.state === 'pending' || p.state === 'active').map((p) => structuredClone(p));
  }

  /** The pending or active PK `userId` takes part in, if any. */
  ofHost(userId: string): Pk | undefined {
    const pk = [...this.#pks.values()].find((p) => (p.state === 'pending' || p.state === 'active') && (p.fromUserId === userId || p.toUserId === userId));
    return pk && structuredClone(pk);
  }

  /** The pending or active PK a channel takes part in, if any. */
  ofChannel(channelId: string): Pk | undefined {
    const pk = [...this.#pks.values()].find((p) => (p.state === 'pending' || p.state === 'active') && (p.fromChannelId === channelId || p.toChannelId === channelId));
    return pk && structuredClone(pk);
  }

  /** The host of `from.channelId` invites the host of `to.channelId`. */
  invite(from: { channelId: string; userId: string }, to: { channelId: string; userId: string }, now: number, id: string): Pk {
    this.expire(now);
    if (from.channelId === to.channelId || from.userId === to.userId) throw new PkOwnChannelError(from.channelId);
    for (const userId of [from.userId, to.userId]) if (this.ofHost(userId)) throw new AlreadyInPkError(userId);
    for (const channelId of [from.channelId, to.channelId]) {
      const busy = this.ofChannel(channelId);
      if (busy) throw new AlreadyInPkError(channelId === from.channelId ? from.userId : to.userId);
    }
    const pk: Pk = {
      id,
      fromChannelId: from.channelId,
      fromUserId: from.userId,
      toChannelId: to.channelId,
      toUserId: to.userId,
      state: 'pending',
      createdAt: now,
      expiresAt: now + this.options.ttlMs,
    };
    this.#pks.set(id, pk);
    return structuredClone(pk);
  }

  /** The target's host accepts; the PK is active once its conference exists (see `started`). */
  accept(userId: string, id: string, now: number): Pk {
    const pk = this.#pending(id, now);
    if (userId !== pk.toUserId) throw new NotPkHostError('accept');
    pk.state = 'active';
    return structuredClone(pk);
  }

  /** Records the conference an accepted PK runs in. */
  started(id: string, conferenceId: string): Pk {
    const pk = this.#get(id);
    pk.conferenceId = conferenceId;
    return structuredClone(pk);
  }

  reject(userId: string, id: string, now: number, reason?: string): Pk {
    const pk = this.#pending(id, now);
    if (userId !== pk.toUserId) throw new NotPkHostError('reject');
    pk.state = 'rejected';
    pk.endedAt = now;
    if (reason) pk.reason = reason;
    return structuredClone(pk);
  }

  cancel(userId: string, id: string, now: number): Pk {
    const pk = this.#pending(id, now);
    if (userId !== pk.fromUserId) throw new NotPkHostError('cancel');
    pk.state = 'cancelled';
    pk.endedAt = now;
    return structuredClone(pk);
  }

  /** Either host ends an active PK (or the gateway does, with `userId` undefined: a host gone, a channel ended). */
  end(userId: string | undefined, id: string, reason: string, now: number): Pk {
    const pk = this.#get(id);
    if (userId !== undefined && userId !== pk.fromUserId && userId !== pk.toUserId) throw new NotPkHostError('end');
    if (pk.state !== 'active') throw new PkStateError(id, pk.state);
    pk.state = 'ended';
    pk.reason = reason;
    pk.endedAt = now;
    if (pk.battle && !pk.battle.over) pk.battle.over = true;
    return structuredClone(pk);
  }

  /** Pending PKs whose time ran out become expired; returns them. */
  expire(now: number): Pk[] {
    const out: Pk[] = [];
    for (const pk of this.#pks.values()) {
      if (pk.state === 'pending' && now >= pk.expiresAt) {
        pk.state = 'expired';
        pk.endedAt = now;
        out.push(structuredClone(pk));
      }
    }
    return out;
  }

  /** Either host starts a battle of `durationSeconds` in an active PK. */
  startBattle(userId: string, id: string, durationSeconds: number, now: number): Pk {
    const pk = this.#active(id);
    if (userId !== pk.fromUserId && userId !== pk.toUserId) throw new NotPkHostError('start a battle in');
    if (!Number.isInteger(durationSeconds) || durationSeconds < 1 || durationSeconds > MAX_BATTLE_SECONDS) {
      throw new ValidationError(`durationSeconds must be a whole number from 1 to ${MAX_BATTLE_SECONDS}`);
    }
    if (pk.battle && !pk.battle.over) throw new BattleStateError(`PK ${id} already has a battle running`, 'BATTLE_RUNNING');
    pk.battle = { startedAt: now, endsAt: now + durationSeconds * 1000, scores: { [pk.fromChannelId]: 0, [pk.toChannelId]: 0 }, over: false };
    return structuredClone(pk);
  }

  /** Adds `delta` points to a channel's score in the running battle. */
  score(id: string, channelId: string, delta: number, now: number): Pk {
    const pk = this.#active(id);
    if (!pk.battle || pk.battle.over || now >= pk.battle.endsAt) throw new BattleStateError(`PK ${id} has no battle running`, 'NO_BATTLE');
    if (!(channelId in pk.battle.scores)) throw new ValidationError(`channel ${channelId} is not in PK ${id}`, 'NOT_IN_PK');
    if (!Number.isFinite(delta) || !Number.isInteger(delta)) throw new ValidationError('delta must be a whole number');
    pk.battle.scores[channelId] = Math.max(0, pk.battle.scores[channelId] + delta);
    return structuredClone(pk);
  }

  /** Battles whose time is up are decided; returns their PKs. */
  finishBattles(now: number): Pk[] {
    return [...this.#pks.keys()].map((id) => this.finishBattle(id, now)).filter((pk): pk is Pk => pk !== undefined);
  }

  /** Decides one PK's battle if its time is up (so each decision can be saved on its own); returns the PK then. */
  finishBattle(id: string, now: number): Pk | undefined {
    const pk = this.#get(id);
    const b = pk.battle;
    if (pk.state !== 'active' || !b || b.over || now < b.endsAt) return undefined;
    b.over = true;
    const [a, c] = [pk.fromChannelId, pk.toChannelId];
    b.winnerChannelId = b.scores[a] === b.scores[c] ? null : b.scores[a] > b.scores[c] ? a : c;
    return structuredClone(pk);
  }

  /** After a restart: an active PK as it was saved. */
  restore(pk: Pk): void {
    this.#pks.set(pk.id, structuredClone(pk));
  }

  /** Forgets PKs that ended more than `keepMs` ago (pending ones are kept until they expire). */
  prune(now: number, keepMs: number): void {
    for (const [id, pk] of this.#pks) {
      if (pk.endedAt !== undefined && now - pk.endedAt > keepMs) this.#pks.delete(id);
    }
  }

  #get(id: string): Pk {
    const pk = this.#pks.get(id);
    if (!pk) throw new PkNotFoundError(id);
    return pk;
  }

  #pending(id: string, now: number): Pk {
    this.expire(now);
    const pk = this.#get(id);
    if (pk.state !== 'pending') throw new PkStateError(id, pk.state);
    return pk;
  }

  #active(id: string): Pk {
    const pk = this.#get(id);
    if (pk.state !== 'active') throw new PkStateError(id, pk.state);
    return pk;
  }
}
