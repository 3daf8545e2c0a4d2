import { RtpContinuity } from './rtp-continuity';

const rtp = (seq: number, ts: number, payload = 0xab) => {
  const b = Buffer.alloc(13);
  b[0] = 0x80;
  b[1] = 102;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(22, 8);
  b[12] = payload;
  return b;
};
const seqTs = (b: Buffer | undefined) => (b ? [b.readUInt16BE(2), b.readUInt32BE(4)] : undefined);
/** A compound RTCP packet: a sender report (28 bytes) then an SDES chunk (12 bytes). */
const srAndSdes = (ts: number) => {
  const sr = Buffer.alloc(28);
  sr[0] = 0x80;
  sr[1] = 200;
  sr.writeUInt16BE(6, 2);
  sr.writeUInt32BE(22, 4);
  sr.writeUInt32BE(0x01020304, 8);
  sr.writeUInt32BE(ts, 16);
  const sdes = Buffer.alloc(12);
  sdes[0] = 0x81;
  sdes[1] = 202;
  sdes.writeUInt16BE(2, 2);
  return Buffer.concat([sr, sdes]);
};

describe('RtpContinuity', () => {
  it('leaves the first sender as it is', () => {
    const c = new RtpContinuity(90000);
    expect(seqTs(c.rtp(rtp(100, 5000), 0))).toEqual([100, 5000]);
    expect(seqTs(c.rtp(rtp(101, 8600), 40))).toEqual([101, 8600]);
  });

  it('continues a new sender right after the last packet, its timestamp moved on by the wall-clock time between', () => {
    const c = new RtpContinuity(90000);
    c.rtp(rtp(65534, 4294967000), 1000);
    c.rtp(rtp(65535, 4294967200), 1040);
    c.newGeneration();
    // The new ffmpeg starts somewhere random, 500 ms later.
    expect(seqTs(c.rtp(rtp(1234, 777), 1540))).toEqual([0, (4294967200 + 45000) % 2 ** 32]);
    expect(seqTs(c.rtp(rtp(1235, 777 + 3600), 1580))).toEqual([1, (4294967200 + 45000 + 3600) % 2 ** 32]);
    // The payload is untouched.
    expect(c.rtp(rtp(1236, 777, 0x5a), 1600)![12]).toBe(0x5a);
  });

  it('moves the timestamp on by at least one tick, and follows a backwards jump of the sender', () => {
    const c = new RtpContinuity(48000);
    c.rtp(rtp(500, 100000), 0);
    c.newGeneration();
    expect(seqTs(c.rtp(rtp(10, 50), 0))).toEqual([501, 100001]);
    c.newGeneration();
    expect(seqTs(c.rtp(rtp(60000, 3), 20))).toEqual([502, 100001 + 960]);
  });

  it('does not let a reordered packet move the end back', () => {
    const c = new RtpContinuity(90000);
    c.rtp(rtp(10, 1000), 0);
    c.rtp(rtp(12, 1200), 10);
    c.rtp(rtp(11, 1100), 11);
    c.newGeneration();
    expect(seqTs(c.rtp(rtp(900, 0), 11))).toEqual([13, 1200 + 90]);
  });

  it("rewrites sender reports' RTP timestamps by the same offset, and drops them before the generation's first packet", () => {
    const c = new RtpContinuity(90000);
    c.rtp(rtp(1, 1000), 0);
    c.newGeneration();
    expect(c.rtcp(srAndSdes(0))).toBeUndefined();
    c.rtp(rtp(70, 20000), 100);
    const out = c.rtcp(srAndSdes(20000 + 90))!;
    expect(out.readUInt32BE(16)).toBe(1000 + 9000 + 90);
    expect(out.readUInt32BE(8)).toBe(0x01020304);
    expect(out.subarray(28)).toEqual(srAndSdes(0).subarray(28));
  });

  it('refuses what is not RTP or RTCP', () => {
    const c = new RtpContinuity(90000);
    expect(c.rtp(Buffer.alloc(8), 0)).toBeUndefined();
    expect(c.rtp(Buffer.from([0x40, ...Buffer.alloc(12)]), 0)).toBeUndefined();
    c.rtp(rtp(1, 1), 0);
    expect(c.rtcp(Buffer.from([0x80, 200, 0, 50, 0, 0, 0, 0]))).toBeUndefined();
  });
});
