import { ConflictError, ForbiddenError, NotFoundError } from '@gw/common';

export class InvitationNotFoundError extends NotFoundError {
  constructor(id: string) {
    super(`invitation ${id} not found`, 'INVITATION_NOT_FOUND');
  }
}

/** The move is not allowed in the invitation's current state (accepted, rejected, cancelled, expired). */
export class InvitationStateError extends ConflictError {
  constructor(id: string, state: string) {
    super(`invitation ${id} is ${state}`, `INVITATION_${state.toUpperCase()}`);
  }
}

export class NotYourMoveError extends ForbiddenError {
  constructor(move: string) {
    super(`you may not ${move} this invitation`, 'NOT_YOUR_MOVE');
  }
}

export class NotChannelHostError extends ForbiddenError {
  constructor(channelId: string) {
    super(`only the host of channel ${channelId} may do this`, 'NOT_CHANNEL_HOST');
  }
}

export class AlreadyOnMicError extends ConflictError {
  constructor(userId: string) {
    super(`${userId} is already on-mic`, 'ALREADY_ON_MIC');
  }
}

export class InvitationPendingError extends ConflictError {
  constructor(userId: string) {
    super(`${userId} already has a pending invitation`, 'INVITATION_PENDING');
  }
}

export class SeatsFullError extends ConflictError {
  constructor(max: number) {
    super(`all ${max} co-host seats are taken`, 'SEATS_FULL');
  }
}

export class NotOnMicError extends ConflictError {
  constructor(userId: string) {
    super(`${userId} is not on-mic`, 'NOT_ON_MIC');
  }
}

/** The channel is in a PK (host-to-host across channels): co-hosting with guests waits until it ends. */
export class ChannelInPkError extends ConflictError {
  constructor(channelId: string) {
    super(`channel ${channelId} is in a PK`, 'CHANNEL_IN_PK');
  }
}
