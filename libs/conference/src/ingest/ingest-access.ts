import { ForbiddenError } from '@gw/common';
import { NotAMemberError } from '../errors';

/**
 * Who may ask for an RTMP ingest URL for `userId` in a conference (the
 * contract: "admin or that member"). Pure: the caller applies the answer.
 *
 * - An admin, or the conference's own host, may ask for anyone, and asking
 *   admits that user: the URL is how they bring an OBS or ffmpeg participant
 *   in, so refusing with NOT_A_MEMBER until a separate admit call only made a
 *   client that follows the contract fail.
 * - Anyone else may ask only for themself, and only once they are a member.
 *   Membership decides, not the token's role: an accepted co-host usually
 *   holds a viewer token, and the same token may join over WebRTC.
 *
 * Returns `'admit'` when the user must be admitted first, `'member'` when they
 * already are one; refusals are typed (FORBIDDEN, NOT_A_MEMBER).
 */
export function ingestAccess(
  principal: { kind: 'admin' } | { kind: 'user'; userId: string },
  conference: { id: string; hostUserId?: string; isMember(userId: string): boolean },
  userId: string,
): 'admit' | 'member' {
  const isMember = conference.isMember(userId);
  const mayAdmit = principal.kind === 'admin' || (conference.hostUserId !== undefined && conference.hostUserId === principal.userId);
  if (mayAdmit) return isMember ? 'member' : 'admit';
  if (principal.userId !== userId) throw new ForbiddenError('a member may only ingest as themself');
  if (!isMember) throw new NotAMemberError(conference.id);
  return 'member';
}
