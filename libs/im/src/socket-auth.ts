import type { Socket } from 'socket.io';
import { UnauthenticatedError } from '@gw/common';
import { UserPrincipal } from '@gw/auth';

/** The authenticated user of a socket (set at the handshake by the IM gateway). */
export function principalOf(socket: Socket): UserPrincipal {
  const principal = socket.data?.principal as UserPrincipal | undefined;
  if (!principal) throw new UnauthenticatedError();
  return principal;
}
