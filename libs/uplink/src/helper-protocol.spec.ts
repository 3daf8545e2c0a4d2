import { randomBytes } from 'node:crypto';
import { allowanceFactor, answerTimeoutMs, decodeHelperMessage, encodeHelperMessage, HELPER_TAG, HelperMessage } from './helper-protocol';

describe('helper protocol', () => {
  it('carries every message there and back', () => {
    const messages: HelperMessage[] = [
      { type: 'request', id: 'r1', receiver: { host: 'gw.example', port: 5000 }, expectedKbps: 1200 },
      { type: 'accept', id: 'r1', allowanceBytes: 524288000 },
      { type: 'refuse', id: 'r1', reason: 'no data allowance left', allowanceBytes: 0 },
      { type: 'exhausted', id: 'r1' },
      { type: 'release', id: 'r1' },
    ];
    for (const m of messages) expect(decodeHelperMessage(encodeHelperMessage(m))).toEqual(m);
  });

  it('is not fooled by relay traffic, junk or malformed messages, and never throws', () => {
    const tagged = (body: string) => Buffer.concat([HELPER_TAG, Buffer.from(body)]);
    for (const datagram of [
      Buffer.from('hello'),
      Buffer.alloc(1316), // an SRT data packet of zeros
      HELPER_TAG,
      tagged('not json'),
      tagged('null'),
      tagged('[]'),
      tagged('{"type":"accept","id":"x"}'),
      tagged('{"type":"accept","id":"x","allowanceBytes":-1}'),
      tagged('{"type":"request","id":"x","receiver":{"host":"a b","port":5000},"expectedKbps":1}'),
      tagged('{"type":"request","id":"x","receiver":{"host":"h","port":70000},"expectedKbps":1}'),
      tagged('{"type":"request","id":"","receiver":{"host":"h","port":1},"expectedKbps":1}'),
      tagged(`{"type":"release","id":"${'x'.repeat(65)}"}`),
      tagged('{"type":"launch","id":"x"}'),
      tagged(`{"type":"release","id":"x","pad":"${'y'.repeat(2000)}"}`),
    ]) {
      expect(decodeHelperMessage(datagram)).toBeUndefined();
    }
    for (let i = 0; i < 2000; i++) {
      const junk = Math.random() < 0.5 ? randomBytes(Math.floor(Math.random() * 300)) : Buffer.concat([HELPER_TAG, randomBytes(Math.floor(Math.random() * 300))]);
      expect(() => decodeHelperMessage(junk)).not.toThrow();
    }
  });

  it('caps a long refusal reason', () => {
    const m = decodeHelperMessage(Buffer.concat([HELPER_TAG, Buffer.from(JSON.stringify({ type: 'refuse', id: 'x', reason: 'z'.repeat(500), allowanceBytes: 1 }))]));
    expect(m).toMatchObject({ type: 'refuse', allowanceBytes: 1 });
    expect((m as { reason: string }).reason).toHaveLength(200);
  });

  it('weighs a helper by how long its allowance lasts at the expected rate, and times an answer out at twice its expected time', () => {
    // 1000 kbps for 10 minutes is 75 MB.
    expect(allowanceFactor(75_000_000, 1000)).toBe(1);
    expect(allowanceFactor(500_000_000, 1000)).toBe(1);
    expect(allowanceFactor(37_500_000, 1000)).toBeCloseTo(0.5);
    expect(allowanceFactor(0, 1000)).toBe(0);
    expect(allowanceFactor(10, 0)).toBe(1);
    expect(answerTimeoutMs(250)).toBe(500);
    expect(answerTimeoutMs(0)).toBe(100);
  });
});
