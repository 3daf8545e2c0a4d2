import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** Ids that appear in URLs, stream paths and logs: short and plain. */
export const resourceId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -');

/** A random, URL-safe id with a readable prefix, e.g. `ch_3k9…`. */
export function newId(prefix: string, bytes = 9): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** A secret for URLs (publish keys): 144 bits, URL-safe. */
export function newSecret(): string {
  return randomBytes(18).toString('base64url');
}
