import { createHmac, randomBytes } from 'node:crypto';
import { clientAck, clientDigestScheme, clientHello, HANDSHAKE_SIZE, serverHandshake } from './handshake';

const hmac = (data: Buffer, key: Buffer | string) => createHmac('sha256', key).update(data).digest();
const FP_KEY = 'Genuine Adobe Flash Player 001';
const FMS_KEY = 'Genuine Adobe Flash Media Server 001';
const CRUD = Buffer.from('f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae', 'hex');

function offsetOf(sig: Buffer, scheme: 1 | 2): number {
  const base = scheme === 1 ? 8 : 772;
  return ((sig[base] + sig[base + 1] + sig[base + 2] + sig[base + 3]) % 728) + (scheme === 1 ? 12 : 776);
}
const without = (sig: Buffer, at: number) => Buffer.concat([sig.subarray(0, at), sig.subarray(at + 32)]);

/** A Flash-style C1 (what ffmpeg sends): version 9.0.124.2 and a digest placed by `scheme`. */
function complexC1(scheme: 1 | 2): Buffer {
  const c1 = Buffer.concat([Buffer.from([0, 0, 0, 0, 9, 0, 124, 2]), randomBytes(HANDSHAKE_SIZE - 8)]);
  const at = offsetOf(c1, scheme);
  hmac(without(c1, at), FP_KEY).copy(c1, at);
  return c1;
}

describe('RTMP handshake', () => {
  it('answers a simple C1 with S1 = S2 = C1, as node-media-server does', () => {
    const c1 = Buffer.concat([Buffer.alloc(8), randomBytes(HANDSHAKE_SIZE - 8)]);
    expect(clientDigestScheme(c1)).toBe(0);
    const reply = serverHandshake(c1);
    expect(reply.length).toBe(1 + 2 * HANDSHAKE_SIZE);
    expect(reply[0]).toBe(3);
    expect(reply.subarray(1, 1537).equals(c1)).toBe(true);
    expect(reply.subarray(1537).equals(c1)).toBe(true);
  });

  it.each([1, 2] as const)('answers a digest C1 (scheme %i) with an S1 and S2 a Flash client verifies', (scheme) => {
    const c1 = complexC1(scheme);
    expect(clientDigestScheme(c1)).toBe(scheme);
    const reply = serverHandshake(c1);
    const s1 = reply.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = reply.subarray(1 + HANDSHAKE_SIZE);
    expect(s1.subarray(4, 8).toString('hex')).toBe('01020304');
    // S1 carries the server's digest where the scheme says.
    const at = offsetOf(s1, scheme);
    expect(hmac(without(s1, at), FMS_KEY).equals(s1.subarray(at, at + 32))).toBe(true);
    // S2's last 32 bytes sign the rest with a key derived from the client's digest.
    const clientAt = offsetOf(c1, scheme);
    const key = hmac(c1.subarray(clientAt, clientAt + 32), Buffer.concat([Buffer.from(FMS_KEY), CRUD]));
    expect(hmac(s2.subarray(0, HANDSHAKE_SIZE - 32), key).equals(s2.subarray(HANDSHAKE_SIZE - 32))).toBe(true);
  });

  it('a C1 whose digest is off by one byte is simple', () => {
    const c1 = complexC1(2);
    const at = offsetOf(c1, 2);
    c1[at] ^= 1;
    expect(clientDigestScheme(c1)).toBe(0);
  });

  it('the client side: C0 + a simple C1, and C2 echoing S1', () => {
    const hello = clientHello();
    expect(hello.length).toBe(1 + HANDSHAKE_SIZE);
    expect(hello.subarray(0, 9).toString('hex')).toBe('03' + '00'.repeat(8));
    const s0s1s2 = serverHandshake(hello.subarray(1));
    expect(clientAck(s0s1s2).equals(hello.subarray(1))).toBe(true);
    expect(() => clientAck(Buffer.alloc(100))).toThrow();
    expect(() => serverHandshake(Buffer.alloc(10))).toThrow();
  });
});
