import { blocksOf, effectiveSubstreams, substreamOf } from './substreams';
import { planSwarm, SwarmLimits } from './swarm-plan';
import { BlockAssembler, CHUNK_BYTES, decodeMessage, encodeBlock, encodeNone, encodeWant, MAX_BLOCK_BYTES } from './swarm-wire';

describe('sub-streams (seed 002)', () => {
  it('deals single blocks: sub-stream b holds s·n + b − 1', () => {
    const layout = { s: 10, a: 1 };
    expect(blocksOf(1, layout, 0, 35)).toEqual([0, 10, 20, 30]);
    expect(blocksOf(4, layout, 0, 35)).toEqual([3, 13, 23, 33]);
    expect(blocksOf(10, layout, 0, 35)).toEqual([9, 19, 29]);
    for (let n = 0; n < 100; n += 1) expect(substreamOf(n, layout)).toBe((n % 10) + 1);
  });

  it('deals groups of a: sub-stream b holds a·s·n + [a(b−1) … a(b−1)+a−1]', () => {
    const layout = { s: 3, a: 2 };
    expect(blocksOf(1, layout, 0, 13)).toEqual([0, 1, 6, 7, 12, 13]);
    expect(blocksOf(2, layout, 0, 13)).toEqual([2, 3, 8, 9]);
    expect(blocksOf(3, layout, 0, 13)).toEqual([4, 5, 10, 11]);
    expect(blocksOf(2, layout, 3, 8)).toEqual([3, 8]);
    for (let n = 0; n < 60; n += 1) expect(blocksOf(substreamOf(n, layout), layout, n, n)).toEqual([n]);
  });

  it('every block is in exactly one sub-stream', () => {
    for (const layout of [{ s: 1, a: 1 }, { s: 4, a: 3 }, { s: 7, a: 2 }]) {
      const all = Array.from({ length: layout.s }, (_, i) => blocksOf(i + 1, layout, 17, 140)).flat().sort((x, y) => x - y);
      expect(all).toEqual(Array.from({ length: 124 }, (_, i) => i + 17));
    }
  });

  it('never uses more sub-streams than viewers, nor than a viewer may have peers', () => {
    expect(effectiveSubstreams(10, 3, 8)).toBe(3);
    expect(effectiveSubstreams(10, 40, 4)).toBe(5);
    expect(effectiveSubstreams(4, 0, 8)).toBe(1);
    expect(() => substreamOf(-1, { s: 2, a: 1 })).toThrow(RangeError);
    expect(() => blocksOf(3, { s: 2, a: 1 }, 0, 9)).toThrow(RangeError);
  });
});

describe('planSwarm', () => {
  const limits: SwarmLimits = { substreams: 4, group: 1, maxPeersPerViewer: 8, maxConsumersPerPeer: 8 };
  const ids = (k: number) => Array.from({ length: k }, (_, i) => `v${i}`);

  it('balances the sub-streams and gives every viewer a peer for each other one', () => {
    const plan = planSwarm(ids(9), limits);
    expect(plan.s).toBe(4);
    const counts = [1, 2, 3, 4].map((b) => [...plan.peers.values()].filter((p) => p.substream === b).length);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    for (const [id, p] of plan.peers) {
      expect(p.providers.map((x) => x.substream).sort()).toEqual([1, 2, 3, 4].filter((b) => b !== p.substream));
      for (const x of p.providers) {
        expect(plan.peers.get(x.peerId)!.substream).toBe(x.substream);
        expect(plan.peers.get(x.peerId)!.consumers).toContain(id);
      }
    }
  });

  it('shrinks s to the audience and grows it back', () => {
    expect(planSwarm(ids(1), limits).s).toBe(1);
    expect(planSwarm(ids(1), limits).peers.get('v0')).toEqual({ substream: 1, providers: [], consumers: [] });
    expect(planSwarm(ids(2), limits).s).toBe(2);
    expect(planSwarm(ids(6), limits).s).toBe(4);
  });

  it('keeps viewers where they are when one leaves, and re-homes only those who lost a provider', () => {
    const before = planSwarm(ids(8), limits);
    const left = 'v5';
    const after = planSwarm(ids(8).filter((id) => id !== left), limits, before);
    for (const [id, p] of after.peers) {
      expect(p.substream).toBe(before.peers.get(id)!.substream);
      expect(p.providers.some((x) => x.peerId === left)).toBe(false);
      const lost = before.peers.get(id)!.providers.some((x) => x.peerId === left);
      if (!lost) expect(p.providers).toEqual(before.peers.get(id)!.providers);
      expect(p.providers).toHaveLength(3);
    }
  });

  it('respects the upload cap: what no peer can give comes from the origin', () => {
    const capped = planSwarm(ids(4), { ...limits, maxConsumersPerPeer: 1 });
    for (const p of capped.peers.values()) expect(p.consumers.length).toBeLessThanOrEqual(1);
    const served = [...capped.peers.values()].reduce((n, p) => n + p.providers.length, 0);
    expect(served).toBeLessThanOrEqual(4);
  });
});

describe('swarm wire', () => {
  it('round-trips a block through its chunks', () => {
    const data = new Uint8Array(CHUNK_BYTES * 2 + 123).map((_, i) => i % 251);
    const chunks = encodeBlock(77, data);
    expect(chunks).toHaveLength(3);
    const assembler = new BlockAssembler();
    const results = chunks.map((c) => assembler.add(decodeMessage(c) as never));
    expect(results.slice(0, 2)).toEqual([undefined, undefined]);
    expect(results[2]!.n).toBe(77);
    expect(Buffer.from(results[2]!.data).equals(Buffer.from(data))).toBe(true);
    expect(decodeMessage(encodeWant(9))).toEqual({ type: 'want', n: 9 });
    expect(decodeMessage(encodeNone(2 ** 32 - 1))).toEqual({ type: 'none', n: 2 ** 32 - 1 });
  });

  it('drops a block whose chunks come out of order', () => {
    const chunks = encodeBlock(1, new Uint8Array(CHUNK_BYTES * 3));
    const assembler = new BlockAssembler();
    expect(assembler.add(decodeMessage(chunks[0]) as never)).toBeUndefined();
    expect(assembler.add(decodeMessage(chunks[2]) as never)).toBeUndefined();
    expect(assembler.add(decodeMessage(chunks[1]) as never)).toBeUndefined();
    expect(assembler.pending).toBe(0);
  });

  it('rejects malformed messages and never throws on random input (fuzz)', () => {
    expect(decodeMessage('hello')).toBeUndefined();
    expect(decodeMessage(new Uint8Array([0xb5, 1, 9, 0, 0, 0, 0]))).toBeUndefined();
    const huge = encodeBlock(1, new Uint8Array(10))[0];
    new DataView(huge.buffer).setUint32(7, MAX_BLOCK_BYTES + 1);
    expect(decodeMessage(huge)).toBeUndefined();
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const assembler = new BlockAssembler(4);
    const valid = encodeBlock(5, new Uint8Array(CHUNK_BYTES + 5));
    for (let i = 0; i < 20000; i += 1) {
      let msg: Uint8Array;
      if (i % 3 === 0) {
        msg = new Uint8Array(Math.floor(rand() * 64)).map(() => Math.floor(rand() * 256));
      } else {
        // A valid message with a few bytes flipped, truncated or extended.
        msg = Uint8Array.from(valid[i % 2]);
        for (let k = 0; k < 3; k += 1) msg[Math.floor(rand() * msg.length)] = Math.floor(rand() * 256);
        if (rand() < 0.3) msg = msg.subarray(0, Math.floor(rand() * msg.length));
      }
      const decoded = decodeMessage(msg);
      if (decoded?.type === 'block') {
        const done = assembler.add(decoded);
        if (done) expect(done.data.length).toBeLessThanOrEqual(MAX_BLOCK_BYTES);
      }
      expect(assembler.pending).toBeLessThanOrEqual(4);
    }
  });
});
