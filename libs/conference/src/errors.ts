import { ConflictError, ForbiddenError, GatewayError, NotFoundError, UnavailableError, ValidationError } from '@gw/common';

export class ConferenceNotFoundError extends NotFoundError {
  constructor(id: string) {
    super(`conference ${id} not found`, 'CONFERENCE_NOT_FOUND');
  }
}

export class NotAMemberError extends ForbiddenError {
  constructor(conferenceId: string) {
    super(`not a member of conference ${conferenceId}`, 'NOT_A_MEMBER');
  }
}

export class NotConferenceHostError extends ForbiddenError {
  constructor(conferenceId: string) {
    super(`only the host of conference ${conferenceId} may do this`, 'NOT_CONFERENCE_HOST');
  }
}

/**
 * Admin, or the conference's own host. `conference` may be gone (ended): then
 * only an admin passes. The one ownership check for conference-scoped routes.
 */
export function assertConferenceHost(
  principal: { kind: 'admin' } | { kind: 'user'; userId: string },
  conferenceId: string,
  conference: { hostUserId?: string } | undefined,
): void {
  if (principal.kind === 'admin') return;
  if (conference?.hostUserId === undefined || conference.hostUserId !== principal.userId) throw new NotConferenceHostError(conferenceId);
}

export class NotJoinedError extends ConflictError {
  constructor() {
    super('join the conference first (media:join)', 'NOT_JOINED');
  }
}

export class ConferenceClosedError extends ConflictError {
  constructor(id: string) {
    super(`conference ${id} has ended`, 'CONFERENCE_CLOSED');
  }
}

export class MediaResourceNotFoundError extends NotFoundError {
  constructor(kind: 'transport' | 'producer' | 'consumer', id: string) {
    super(`${kind} ${id} not found`, `${kind.toUpperCase()}_NOT_FOUND`);
  }
}

export class CannotConsumeError extends ValidationError {
  constructor(producerId: string) {
    super(`cannot consume producer ${producerId} with these RTP capabilities`, 'CANNOT_CONSUME');
  }
}

/** mediasoup refused a request (bad DTLS or RTP parameters…): the client's input, so 400. */
export class MediaRequestError extends GatewayError {
  constructor(message: string) {
    super('MEDIA_REQUEST_FAILED', message, 400);
  }
}

export class IngestFailedError extends GatewayError {
  constructor(message: string) {
    super('INGEST_FAILED', message, 502);
  }
}

/** A direct (P2P) path was asked for where the conference allows none, or to someone who is not the other participant. */
export class P2pNotAllowedError extends ConflictError {
  constructor(reason: string) {
    super(`no direct path: ${reason}`, 'P2P_NOT_ALLOWED');
  }
}

export class ParticipantNotFoundError extends NotFoundError {
  constructor(conferenceId: string, userId: string) {
    super(`${userId} is not in conference ${conferenceId}`, 'PARTICIPANT_NOT_FOUND');
  }
}

/** Cluster mode: the node that holds the conference did not answer (it may have died). */
export class ConferenceUnreachableError extends UnavailableError {
  constructor(conferenceId: string, node: string) {
    super(`conference ${conferenceId}: its node ${node} did not answer`, 'CONFERENCE_UNREACHABLE');
  }
}
