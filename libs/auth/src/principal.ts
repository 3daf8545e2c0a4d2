/** Roles a user token can carry. Admin is not a token role: it is the x-api-key. */
export const USER_ROLES = ['host', 'guest', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** Who is calling: the operator (admin key) or a user holding a token. */
export type Principal =
  | { kind: 'admin' }
  | {
      kind: 'user';
      userId: string;
      role: UserRole;
      /** The channel this token is scoped to (a host's own channel, a viewer's watched one). */
      channelId?: string;
      /** For guests: the conference they were admitted to. */
      conferenceId?: string;
      /** Epoch milliseconds. */
      expiresAt: number;
    };

export type UserPrincipal = Extract<Principal, { kind: 'user' }>;

/** What a route or event accepts: `admin`, a user role, or `any` authenticated caller. */
export type Access = 'admin' | UserRole | 'any';

/** Pure role check used by both the HTTP guard and the socket layer. */
export function isAllowed(principal: Principal, accepted: readonly Access[]): boolean {
  if (accepted.includes('any')) return true;
  if (principal.kind === 'admin') return accepted.includes('admin');
  return accepted.includes(principal.role);
}
