import { createSocket, Socket } from 'node:dgram';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';

/**
 * The worker's handling of RTX copies that come before (or instead of) a NACK,
 * on a real mediasoup worker built by scripts/build-mediasoup-worker.sh with
 * scripts/mediasoup-worker-patches/0002-rtx-before-nack-is-a-repair.patch.
 * libwebrtc pads its bandwidth probes with RTX copies of packets it just sent,
 * so on a lossy uplink a copy often arrives where its original was lost. The
 * RTP here is written by the test itself (VP8 payloads the worker parses as
 * such) from a UDP socket to a PlainTransport; a second PlainTransport carries
 * the consumer's RTP back to the test.
 */

const VP8_PT = 101;
const RTX_PT = 102;
const SSRC = 0x1111;
const RTX_SSRC = 0x2222;

/** A VP8 RTP packet: payload descriptor (start of partition 0), a frame tag, and `mark` so the test can tell packets apart. */
function vp8Packet(seq: number, timestamp: number, key: boolean, mark: number): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = 0x80 | VP8_PT; // marker: one packet per frame
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE(timestamp, 4);
  header.writeUInt32BE(SSRC, 8);
  // Extended descriptor (mediasoup reads only that form): S=1, partition 0, a 15-bit picture id, TL0PICIDX and
  // TID 0, one per frame. Then the frame tag: bit 0 clear on a keyframe, which carries the start code and a
  // 64x64 size.
  const picture = seq & 0x7fff;
  const descriptor = Buffer.from([0x90, 0xe0, 0x80 | (picture >> 8), picture & 0xff, seq & 0xff, 0x00]);
  const frame = Buffer.concat([descriptor, key ? Buffer.from([0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 64, 0, 64, 0]) : Buffer.from([0x01, 0x00, 0x00])]);
  return Buffer.concat([header, frame, Buffer.from([0xa5, mark, 0x5a, mark])]);
}

/** The RTX form of `original` (RFC 4588): RTX payload type, SSRC and sequence, the original sequence before the payload. */
function rtxOf(original: Buffer, rtxSeq: number): Buffer {
  const out = Buffer.concat([original.subarray(0, 12), original.subarray(2, 4), original.subarray(12)]);
  out[1] = (original[1] & 0x80) | RTX_PT;
  out.writeUInt16BE(rtxSeq, 2);
  out.writeUInt32BE(RTX_SSRC, 8);
  return out;
}

const marksOf = (packets: Buffer[], pt: number) => packets.filter((p) => (p[1] & 0x7f) === pt).map((p) => p[p.length - 1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mediasoup worker: RTX copies of lost packets reach consumers', () => {
  let worker: types.Worker;
  let sender: Socket;
  let receiver: Socket;
  const received: Buffer[] = [];
  /** The payload type the consumer's media has (the router's). */
  let consumerPt = -1;
  let send: (packet: Buffer) => Promise<void>;

  beforeAll(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 46900, rtcMaxPort: 46949 });
    const router = await worker.createRouter({ mediaCodecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }] });
    const inbound = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: true });
    const outbound = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: false });
    sender = createSocket('udp4');
    receiver = createSocket('udp4');
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => receiver.bind(0, '127.0.0.1', () => r()));
    receiver.on('message', (m: Buffer) => {
      // RTCP (payload types 200-207 with the marker bit read as part of it) is not media.
      if (m[1] < 200 || m[1] > 207) received.push(m);
    });
    await outbound.connect({ ip: '127.0.0.1', port: receiver.address().port });
    const producer = await inbound.produce({
      kind: 'video',
      rtpParameters: {
        codecs: [
          { mimeType: 'video/VP8', payloadType: VP8_PT, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] },
          { mimeType: 'video/rtx', payloadType: RTX_PT, clockRate: 90000, parameters: { apt: VP8_PT } },
        ],
        encodings: [{ ssrc: SSRC, rtx: { ssrc: RTX_SSRC } }],
      },
    });
    const consumer = await outbound.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    consumerPt = consumer.rtpParameters.codecs[0].payloadType;

    const port = inbound.tuple.localPort;
    send = (packet) => new Promise((r) => sender.send(packet, port, '127.0.0.1', () => r()));
  });

  afterAll(async () => {
    sender?.close();
    receiver?.close();
    worker?.close();
  });

  it('forwards a copy that came before its NACK was sent, and one newer than anything seen', async () => {
    let ts = 1000;
    const frame = (seq: number, mark: number, key = false) => vp8Packet(seq, (ts += 3000), key, mark);
    // A keyframe and a frame: the consumer starts forwarding at the keyframe.
    await send(frame(100, 0, true));
    await sleep(20);
    await send(frame(101, 1));
    await sleep(20);

    // 102 is lost on the way; its RTX copy arrives first (a probe's padding): newer than anything seen.
    const p102 = frame(102, 2);
    await send(rtxOf(p102, 5000));
    await sleep(20);
    await send(frame(103, 3));
    await sleep(20);

    // 104 is lost; 105 shows the gap, and 104's copy comes at once, before the worker's NACK delay is over.
    const p104 = frame(104, 4);
    const p105 = frame(105, 5);
    await send(p105);
    await send(rtxOf(p104, 5001));
    await sleep(20);
    await send(frame(106, 6));
    await sleep(200);

    const marks = marksOf(received, consumerPt);
    expect(marks).toEqual(expect.arrayContaining([0, 1, 3, 5, 6]));
    // Unpatched, both copies were dropped and the two frames lost for every consumer.
    expect(marks).toContain(2);
    expect(marks).toContain(4);
    // Each frame once.
    expect(marks.filter((m) => m === 2)).toHaveLength(1);
    expect(marks.filter((m) => m === 4)).toHaveLength(1);
  });
});
