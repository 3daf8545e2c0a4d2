import { createHmac } from 'node:crypto';

/** Short-lived TURN credentials in the TURN REST scheme (coturn's `use-auth-secret`). */
export interface TurnCredentials {
  /** `<expiry unix time>:<userId>`. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)). */
  credential: string;
  /** Seconds from `nowMs` until they expire. */
  ttlSeconds: number;
  /** Unix time (seconds) at which they expire. */
  expiresAt: number;
}

export interface CredentialRequest {
  /** The static auth secret the TURN server shares. */
  secret: string;
  userId: string;
  /** TURN_TTL_SECONDS. */
  ttlSeconds: number;
  /** When the token that asked expires (epoch ms); the credentials never outlive it. Unset: no limit (the admin key). */
  tokenExpiresAtMs?: number;
  nowMs: number;
}

/**
 * TURN REST credentials: the username carries its own expiry, the password is
 * the secret's HMAC of it, so the TURN server checks them without asking us.
 * They expire TURN_TTL_SECONDS from now, or with the token that asked if that
 * is sooner (a token's holder gets no relay beyond the token's life).
 */
export function turnCredentials({ secret, userId, ttlSeconds, tokenExpiresAtMs, nowMs }: CredentialRequest): TurnCredentials {
  const now = Math.floor(nowMs / 1000);
  const wanted = now + ttlSeconds;
  // Whole seconds, rounded down: never a second past the token.
  const expiresAt = tokenExpiresAtMs === undefined ? wanted : Math.min(wanted, Math.floor(tokenExpiresAtMs / 1000));
  const username = `${expiresAt}:${userId}`;
  return { username, credential: turnPassword(secret, username), ttlSeconds: Math.max(0, expiresAt - now), expiresAt };
}

/** The password coturn expects for a REST username: base64(HMAC-SHA1(secret, username)). */
export function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}
