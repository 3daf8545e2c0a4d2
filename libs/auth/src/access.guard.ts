import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Inject,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { ForbiddenError, UnauthenticatedError } from '@gw/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { Access, isAllowed, Principal } from './principal';
import { RateLimits } from './rate-limits';
import { TokenService } from './token.service';

const ACCESS_KEY = 'gw:access';

/** Declares who may call a route. Routes without it are public (healthz, metrics, web app). */
export const Allow = (...access: Access[]) => SetMetadata(ACCESS_KEY, access);

type RequestWithPrincipal = Request & { principal?: Principal };

/** The authenticated caller of the current request (set by AccessGuard). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<RequestWithPrincipal>().principal;
  if (!principal) throw new UnauthenticatedError();
  return principal;
});

/** Constant-time comparison of an offered admin key with the configured one. */
export function adminKeyMatches(offered: string, expected: string): boolean {
  const a = Buffer.from(offered);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Authenticates every request that declares @Allow(...): the admin key in
 * `x-api-key`, or a bearer token. Then checks the caller's role. Ownership
 * (whose channel, which conference) is checked by the use case, which knows
 * the resource.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    @Inject(GATEWAY_CONFIG) private readonly config: ResolvedConfig,
    @Inject(RateLimits) private readonly limits: RateLimits,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const accepted = this.reflector.getAllAndOverride<Access[] | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!accepted) return true;
    const request = context.switchToHttp().getRequest<RequestWithPrincipal>();
    let principal: Principal;
    try {
      principal = this.authenticate(request);
    } catch (error) {
      // Failed authentication counts against the address, so guessing keys is limited too.
      this.limits.rest(undefined, request.ip ?? 'unknown');
      throw error;
    }
    this.limits.rest(principal, request.ip ?? 'unknown');
    if (!isAllowed(principal, accepted)) {
      throw new ForbiddenError(`this route requires one of: ${accepted.join(', ')}`);
    }
    request.principal = principal;
    return true;
  }

  private authenticate(request: Request): Principal {
    const apiKey = request.header('x-api-key');
    if (apiKey !== undefined) {
      if (!adminKeyMatches(apiKey, this.config.adminApiKey)) throw new UnauthenticatedError('invalid api key', 'INVALID_API_KEY');
      return { kind: 'admin' };
    }
    const authorization = request.header('authorization');
    const match = authorization?.match(/^Bearer\s+(\S+)$/i);
    if (!match) throw new UnauthenticatedError('missing x-api-key or bearer token');
    return this.tokens.verify(match[1]);
  }
}
