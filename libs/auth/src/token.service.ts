import jwt from 'jsonwebtoken';
import { UnauthenticatedError, ValidationError } from '@gw/common';
import { USER_ROLES, UserPrincipal, UserRole } from './principal';

export interface IssueTokenCommand {
  userId: string;
  role: UserRole;
  channelId?: string;
  conferenceId?: string;
  /** Lifetime in seconds. Default 3600. */
  ttlSeconds?: number;
}

export class TokenExpiredError extends UnauthenticatedError {
  constructor() {
    super('token expired', 'TOKEN_EXPIRED');
  }
}

export class TokenInvalidError extends UnauthenticatedError {
  constructor() {
    super('token invalid', 'TOKEN_INVALID');
  }
}

const ISSUER = 'cohost-gateway';

/** Issues and verifies the gateway's access tokens (HS256 JWTs). */
export class TokenService {
  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  issue(command: IssueTokenCommand): { token: string; expiresAt: string } {
    const ttl = command.ttlSeconds ?? 3600;
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + ttl;
    const payload: Record<string, unknown> = { sub: command.userId, role: command.role, iat, exp };
    if (command.channelId) payload.ch = command.channelId;
    if (command.conferenceId) payload.conf = command.conferenceId;
    const token = jwt.sign(payload, this.secret, { algorithm: 'HS256', issuer: ISSUER });
    return { token, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /** Returns the token's principal, or throws TOKEN_EXPIRED / TOKEN_INVALID. */
  verify(token: string): UserPrincipal {
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(token, this.secret, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        clockTimestamp: Math.floor(this.now() / 1000),
      }) as jwt.JwtPayload;
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) throw new TokenExpiredError();
      throw new TokenInvalidError();
    }
    const role = claims.role as UserRole;
    if (typeof claims.sub !== 'string' || !USER_ROLES.includes(role) || typeof claims.exp !== 'number') {
      throw new TokenInvalidError();
    }
    return {
      kind: 'user',
      userId: claims.sub,
      role,
      channelId: typeof claims.ch === 'string' ? claims.ch : undefined,
      conferenceId: typeof claims.conf === 'string' ? claims.conf : undefined,
      expiresAt: claims.exp * 1000,
    };
  }
}

export function assertRole(role: string): asserts role is UserRole {
  if (!USER_ROLES.includes(role as UserRole)) throw new ValidationError(`unknown role ${role}`);
}
