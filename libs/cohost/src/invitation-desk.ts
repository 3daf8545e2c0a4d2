import {
  AlreadyOnMicError,
  InvitationNotFoundError,
  InvitationPendingError,
  InvitationStateError,
  NotChannelHostError,
  NotOnMicError,
  NotYourMoveError,
  SeatsFullError,
} from './cohost-errors';

/**
 * The co-host invitation lifecycle of one channel (连麦管理), as an explicit
 * state machine. Pure: time and ids are passed in, nothing here does I/O.
 *
 *   pending ──accept──► accepted          (the invitee: the guest of an invite, the host of an application)
 *      │ ├───reject──► rejected          (the invitee)
 *      │ ├───cancel──► cancelled         (the inviter: the host of an invite, the applicant)
 *      │ └───(ttl)───► expired
 *
 * Every other move is a typed error, and leaves the state as it was. The desk
 * also keeps the seats: who is on-mic, at most `maxGuests`.
 */
export type InvitationKind = 'invite' | 'apply';
export type InvitationState = 'pending' | 'accepted' | 'rejected' | 'cancelled' | 'expired';

export interface Invitation {
  id: string;
  channelId: string;
  kind: InvitationKind;
  hostUserId: string;
  guestUserId: string;
  state: InvitationState;
  createdAt: number;
  expiresAt: number;
  reason?: string;
}

export interface Actor {
  userId: string;
  role: 'host' | 'guest' | 'viewer';
}

export interface DeskOptions {
  maxGuests: number;
  ttlMs: number;
}

/**
 * INVITATION_NOT_FOUND without a captured stack trace. A miss here is routine,
 * not a fault: callers find an invitation's desk by asking each desk in turn,
 * so one lookup can throw once per other channel. Capturing a stack for each
 * of those was the single largest cost of `cohost:accept` with 100 hosts online
 * (about 14 % of the gateway's CPU in the load bench). The error is a typed
 * gateway error, answered to the client as its code and message; its stack is
 * never logged (only unknown errors are).
 */
function notFound(id: string): InvitationNotFoundError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new InvitationNotFoundError(id);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export class InvitationDesk {
  readonly #invitations = new Map<string, Invitation>();
  readonly #onMic = new Set<string>();

  constructor(
    readonly channelId: string,
    readonly hostUserId: string,
    private readonly options: DeskOptions,
  ) {}

  get guests(): string[] {
    return [...this.#onMic];
  }

  get seatsLeft(): number {
    return this.options.maxGuests - this.#onMic.size;
  }

  /** After a restart: a guest who was on mic when the gateway stopped is on mic again. */
  restoreGuest(guestUserId: string): void {
    this.#onMic.add(guestUserId);
  }

  isOnMic(userId: string): boolean {
    return this.#onMic.has(userId);
  }

  /** True if this desk holds invitation `id` (in any state, until pruned). */
  has(id: string): boolean {
    return this.#invitations.has(id);
  }

  get(id: string): Invitation {
    const invitation = this.#invitations.get(id);
    if (!invitation) throw notFound(id);
    return { ...invitation };
  }

  /** Every invitation the desk still holds (ended ones until pruned), oldest first. */
  all(): Invitation[] {
    return [...this.#invitations.values()].map((i) => ({ ...i }));
  }

  pending(): Invitation[] {
    return [...this.#invitations.values()].filter((i) => i.state === 'pending').map((i) => ({ ...i }));
  }

  /** The host invites a user on-mic. */
  invite(by: Actor, guestUserId: string, now: number, id: string): Invitation {
    this.#assertHost(by);
    if (guestUserId === this.hostUserId) throw new AlreadyOnMicError(guestUserId);
    this.#assertCanJoin(guestUserId, now);
    return this.#open(id, 'invite', guestUserId, now);
  }

  /** A viewer applies to go on-mic. */
  apply(by: Actor, now: number, id: string): Invitation {
    if (by.userId === this.hostUserId) throw new AlreadyOnMicError(by.userId);
    this.#assertCanJoin(by.userId, now);
    return this.#open(id, 'apply', by.userId, now);
  }

  accept(id: string, by: Actor, now: number): Invitation {
    const invitation = this.#pendingOne(id, now);
    if (by.userId !== this.#invitee(invitation)) throw new NotYourMoveError('accept');
    if (this.seatsLeft <= 0) throw new SeatsFullError(this.options.maxGuests);
    invitation.state = 'accepted';
    this.#onMic.add(invitation.guestUserId);
    return { ...invitation };
  }

  reject(id: string, by: Actor, now: number, reason?: string): Invitation {
    const invitation = this.#pendingOne(id, now);
    if (by.userId !== this.#invitee(invitation)) throw new NotYourMoveError('reject');
    invitation.state = 'rejected';
    if (reason) invitation.reason = reason.slice(0, 200);
    return { ...invitation };
  }

  cancel(id: string, by: Actor, now: number): Invitation {
    const invitation = this.#pendingOne(id, now);
    const inviter = invitation.kind === 'invite' ? this.hostUserId : invitation.guestUserId;
    if (by.userId !== inviter) throw new NotYourMoveError('cancel');
    invitation.state = 'cancelled';
    return { ...invitation };
  }

  /** Marks every pending invitation past its time as expired and returns them. */
  expire(now: number): Invitation[] {
    const expired: Invitation[] = [];
    for (const invitation of this.#invitations.values()) {
      if (invitation.state === 'pending' && now >= invitation.expiresAt) {
        invitation.state = 'expired';
        expired.push({ ...invitation });
      }
    }
    return expired;
  }

  /** A guest leaves (or is kicked, or disconnected past the grace): their seat frees. */
  leave(guestUserId: string): void {
    if (!this.#onMic.delete(guestUserId)) throw new NotOnMicError(guestUserId);
  }

  kick(by: Actor, guestUserId: string): void {
    this.#assertHost(by);
    this.leave(guestUserId);
  }

  /** Forget ended invitations older than `before` (keeps memory bounded). */
  prune(before: number): void {
    for (const [id, invitation] of this.#invitations) {
      if (invitation.state !== 'pending' && invitation.expiresAt < before) this.#invitations.delete(id);
    }
  }

  #open(id: string, kind: InvitationKind, guestUserId: string, now: number): Invitation {
    const invitation: Invitation = {
      id,
      channelId: this.channelId,
      kind,
      hostUserId: this.hostUserId,
      guestUserId,
      state: 'pending',
      createdAt: now,
      expiresAt: now + this.options.ttlMs,
    };
    this.#invitations.set(id, invitation);
    return { ...invitation };
  }

  #assertHost(by: Actor): void {
    if (by.role !== 'host' || by.userId !== this.hostUserId) throw new NotChannelHostError(this.channelId);
  }

  #assertCanJoin(userId: string, now: number): void {
    if (this.#onMic.has(userId)) throw new AlreadyOnMicError(userId);
    this.expire(now);
    if ([...this.#invitations.values()].some((i) => i.state === 'pending' && i.guestUserId === userId)) {
      throw new InvitationPendingError(userId);
    }
    if (this.seatsLeft <= 0) throw new SeatsFullError(this.options.maxGuests);
  }

  /** The invitation, if still pending at `now` (expiring it on the way), else the typed error. */
  #pendingOne(id: string, now: number): Invitation {
    const invitation = this.#invitations.get(id);
    if (!invitation) throw notFound(id);
    if (invitation.state === 'pending' && now >= invitation.expiresAt) invitation.state = 'expired';
    if (invitation.state !== 'pending') throw new InvitationStateError(id, invitation.state);
    return invitation;
  }

  #invitee(invitation: Invitation): string {
    return invitation.kind === 'invite' ? invitation.guestUserId : this.hostUserId;
  }
}
