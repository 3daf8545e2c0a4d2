/**
 * The RTMP handshake (C0/C1/C2 ↔ S0/S1/S2), both sides. Pure apart from random
 * bytes. Why our own: see amf0.ts.
 *
 * Two flavours exist. The simple one (RTMP 1.0 §5.2): S1 is arbitrary, S2 echoes
 * C1. The "complex" one (Flash Player 9+): C1 carries an HMAC-SHA256 digest at a
 * position derived from its own bytes, and a server that sees one answers with
 * digests of its own. node-media-server answers in kind, so the front does the
 * same: a client that spoke to node-media-server before sees the same handshake.
 * ffmpeg, OBS (librtmp) and nginx-rtmp accept either.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const RTMP_VERSION = 3;
export const HANDSHAKE_SIZE = 1536;
const DIGEST_SIZE = 32;

const RANDOM_CRUD = Buffer.from('f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae', 'hex');
const FMS_KEY = 'Genuine Adobe Flash Media Server 001';
const FP_KEY = 'Genuine Adobe Flash Player 001';
const FMS_KEY_CRUD = Buffer.concat([Buffer.from(FMS_KEY, 'utf8'), RANDOM_CRUD]);

const hmac = (data: Buffer, key: Buffer | string) => createHmac('sha256', key).update(data).digest();

/** Where the digest sits in a 1536-byte signature: scheme 1 keys it at bytes 8..11, scheme 2 at 772..775. */
function digestOffset(sig: Buffer, scheme: 1 | 2): number {
  const base = scheme === 1 ? 8 : 772;
  const sum = sig[base] + sig[base + 1] + sig[base + 2] + sig[base + 3];
  return (sum % 728) + (scheme === 1 ? 12 : 776);
}

function digestAt(sig: Buffer, offset: number, key: Buffer | string): Buffer {
  return hmac(Buffer.concat([sig.subarray(0, offset), sig.subarray(offset + DIGEST_SIZE)]), key);
}

/** Which digest scheme a client's C1 uses, or 0 for the simple handshake. */
export function clientDigestScheme(c1: Buffer): 0 | 1 | 2 {
  for (const scheme of [2, 1] as const) {
    const offset = digestOffset(c1, scheme);
    if (digestAt(c1, offset, FP_KEY).equals(c1.subarray(offset, offset + DIGEST_SIZE))) return scheme;
  }
  return 0;
}

/** The server's S0+S1+S2 for a client's C1 (1536 bytes). */
export function serverHandshake(c1: Buffer, random: (n: number) => Buffer = randomBytes): Buffer {
  if (c1.length !== HANDSHAKE_SIZE) throw new Error(`C1 must be ${HANDSHAKE_SIZE} bytes`);
  const scheme = clientDigestScheme(c1);
  if (scheme === 0) return Buffer.concat([Buffer.from([RTMP_VERSION]), c1, c1]);
  // S1: time 0, a non-zero version, random bytes, our digest where the client's scheme puts it.
  const s1 = Buffer.concat([Buffer.from([0, 0, 0, 0, 1, 2, 3, 4]), random(HANDSHAKE_SIZE - 8)]);
  const s1Offset = digestOffset(s1, scheme);
  digestAt(s1, s1Offset, FMS_KEY).copy(s1, s1Offset);
  // S2: random bytes signed with a key derived from the client's digest.
  const clientOffset = digestOffset(c1, scheme);
  const key = hmac(c1.subarray(clientOffset, clientOffset + DIGEST_SIZE), FMS_KEY_CRUD);
  const s2Random = random(HANDSHAKE_SIZE - DIGEST_SIZE);
  const s2 = Buffer.concat([s2Random, hmac(s2Random, key)]);
  return Buffer.concat([Buffer.from([RTMP_VERSION]), s1, s2]);
}

/** A client's C0+C1 for the simple handshake (time 0, version 0: the server answers simply). */
export function clientHello(random: (n: number) => Buffer = randomBytes): Buffer {
  return Buffer.concat([Buffer.from([RTMP_VERSION, 0, 0, 0, 0, 0, 0, 0, 0]), random(HANDSHAKE_SIZE - 8)]);
}

/** The client's C2 for a server's S0+S1+S2: S1 echoed. */
export function clientAck(s0s1s2: Buffer): Buffer {
  if (s0s1s2.length < 1 + 2 * HANDSHAKE_SIZE) throw new Error('S0+S1+S2 incomplete');
  return Buffer.from(s0s1s2.subarray(1, 1 + HANDSHAKE_SIZE));
}
