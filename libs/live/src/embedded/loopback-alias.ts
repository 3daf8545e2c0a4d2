import { createHash } from 'node:crypto';

/**
 * The loopback address the front connects to an origin process from, for a client
 * at `remoteAddress`. node-media-server lets a dropped publisher resume its
 * timeline only from the same address; behind the front every connection would
 * come from 127.0.0.1, so each client address gets its own address in 127/8
 * (all of it is loopback on Linux). Loopback clients keep the default. Pure.
 */
export function loopbackAliasOf(remoteAddress: string | undefined): string | undefined {
  if (!remoteAddress) return undefined;
  const address = remoteAddress.replace(/^::ffff:/, '');
  if (address === '::1' || address.startsWith('127.')) return undefined;
  const [a, b, c] = createHash('sha256').update(address).digest();
  // 127.1.0.0 – 127.254.255.254: never 127.0.x.x (the usual one), never .0 or .255 hosts.
  return `127.${1 + (a % 254)}.${b}.${1 + (c % 254)}`;
}
