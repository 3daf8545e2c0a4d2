/**
 * Keeps one RTP stream continuous across the senders that take turns at it.
 *
 * A WHEP feed's ffmpeg is replaced when the program's H.264 changes between
 * "fits the router" and "needs transcoding" (a co-hosting switch). Every new
 * ffmpeg starts its RTP sequence numbers and timestamps at random values
 * (its RTP muxer has no option for the timestamp). The SFU forwards them as
 * they are, so a player saw the stream jump: half the time backwards, which
 * Chromium takes for old packets and frames and drops until its receiver
 * resets, seconds later (a frozen picture of 2–3 s at a switch); forwards,
 * a run of "lost" packets it waits for before asking for a keyframe the
 * encoder cannot hear.
 *
 * This rewrites each generation's packets to continue where the previous
 * generation stopped: the sequence number right after the last one sent,
 * the timestamp advanced by the wall-clock time in between (at the stream's
 * clock rate, at least one tick). RTCP sender reports get the same timestamp
 * offset, so their RTP ↔ NTP mapping stays true. Pure: no sockets, no clock
 * of its own (callers pass the time).
 */
export class RtpContinuity {
  #last: { seq: number; ts: number; at: number } | undefined;
  #offset: { seq: number; ts: number } | undefined;

  constructor(private readonly clockRate: number) {}

  /** The next packet starts a new sender: its numbering is mapped onto the end of the previous one's. */
  newGeneration(): void {
    this.#offset = undefined;
  }

  /** Rewrites an RTP packet in place (sequence number and timestamp); returns it, or undefined if it is not RTP. */
  rtp(packet: Buffer, nowMs: number): Buffer | undefined {
    if (packet.length < 12 || packet[0] >> 6 !== 2) return undefined;
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    if (!this.#offset) {
      if (!this.#last) this.#offset = { seq: 0, ts: 0 };
      else {
        const ticks = Math.max(1, Math.round(((nowMs - this.#last.at) * this.clockRate) / 1000));
        this.#offset = { seq: (this.#last.seq + 1 - seq) & 0xffff, ts: (this.#last.ts + ticks - ts) >>> 0 };
      }
    }
    const outSeq = (seq + this.#offset.seq) & 0xffff;
    const outTs = (ts + this.#offset.ts) >>> 0;
    packet.writeUInt16BE(outSeq, 2);
    packet.writeUInt32BE(outTs, 4);
    // Only a packet newer than the last one sent moves the end (a reordered packet does not).
    if (!this.#last || ((outSeq - this.#last.seq) & 0xffff) < 0x8000) this.#last = { seq: outSeq, ts: outTs, at: nowMs };
    return packet;
  }

  /**
   * Rewrites the RTP timestamps of the sender reports in a (compound) RTCP
   * packet in place. Undefined (drop it) before this generation's first RTP
   * packet, when the offset is not known yet, or if it is not RTCP.
   */
  rtcp(packet: Buffer): Buffer | undefined {
    if (!this.#offset || packet.length < 8 || packet[0] >> 6 !== 2) return undefined;
    for (let at = 0; at + 4 <= packet.length; ) {
      const length = (packet.readUInt16BE(at + 2) + 1) * 4;
      if (at + length > packet.length) return undefined;
      // Sender report: header (4), SSRC (4), NTP (8), RTP timestamp (4), counts.
      if (packet[at + 1] === 200 && length >= 28) packet.writeUInt32BE((packet.readUInt32BE(at + 16) + this.#offset.ts) >>> 0, at + 16);
      at += length;
    }
    return packet;
  }
}
