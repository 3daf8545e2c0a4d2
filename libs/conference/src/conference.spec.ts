import type { types } from 'mediasoup';
import { WorkerPool } from '@gw/sfu';
import { Conference } from './conference';

const logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
const opus = (ssrc: number): types.RtpParameters => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc }],
});
const h264 = (ssrc: number): types.RtpParameters => ({
  codecs: [{ mimeType: 'video/H264', payloadType: 101, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } }],
  encodings: [{ ssrc }],
});

// Real mediasoup workers; participants use PlainTransports so no browser is needed here.
describe('Conference on real mediasoup workers', () => {
  let pool: WorkerPool;
  beforeEach(async () => {
    pool = await WorkerPool.create({ count: 2, rtcMinPort: 46000, rtcMaxPort: 46199, maxLoadPerWeight: 3, logger });
  });
  afterEach(() => pool.close());

  async function publisher(conference: Conference, userId: string, ssrc: number) {
    conference.admit(userId);
    await conference.join(userId, 'rtmp');
    const a = await conference.createPlainTransport(userId);
    const v = await conference.createPlainTransport(userId);
    await conference.produce(userId, a.id, 'audio', opus(ssrc));
    await conference.produce(userId, v.id, 'video', h264(ssrc + 1));
  }

  it('places new conferences on the least-loaded worker', async () => {
    const first = await Conference.create({ id: 'c1', title: 'one', pool, rtc: { listenIp: '127.0.0.1' } });
    await publisher(first, 'u1', 1000);
    expect(pool.slots.map((s) => s.load)).toEqual([2, 0]);
    const second = await Conference.create({ id: 'c2', title: 'two', pool, rtc: { listenIp: '127.0.0.1' } });
    expect(second.snapshot().workerSlots).toEqual([1]);
    first.close('test');
    second.close('test');
  });

  it('extends over a second worker when the first is full, and pipes producers on demand', async () => {
    const conference = await Conference.create({ id: 'c3', title: 'big', pool, rtc: { listenIp: '127.0.0.1' } });
    await publisher(conference, 'u1', 2000); // slot 0: 2 of 3
    await publisher(conference, 'u2', 3000); // joins slot 0 (room for 1), producing fills it past the limit
    expect(conference.snapshot().workerSlots).toEqual([0]);
    conference.admit('viewer');
    const viewer = await conference.join('viewer', 'webrtc');
    expect(conference.snapshot().workerSlots.sort()).toEqual([0, 1]);
    expect(pool.slotOf(viewer.router.appData.worker as types.Worker)!.index).toBe(1);

    // Consuming u1's video from slot 1 pipes it across: a pipe consumer on slot 0, a pipe producer on slot 1.
    const recv = await conference.createWebRtcTransport('viewer', 'recv');
    const [video] = conference.producersExcept('viewer').filter((p) => p.kind === 'video' && p.userId === 'u1');
    const caps = viewer.router.rtpCapabilities;
    const loadsBefore = pool.slots.map((s) => s.load);
    const consumer = await conference.consume('viewer', video.producerId, caps, recv.id);
    expect(consumer.kind).toBe('video');
    expect(pool.slots.map((s) => s.load)).toEqual([loadsBefore[0] + 1, loadsBefore[1] + 2]);
    // A second consumer of the same producer reuses the pipe.
    conference.admit('viewer2');
    await conference.join('viewer2', 'webrtc');
    const recv2 = await conference.createWebRtcTransport('viewer2', 'recv');
    await conference.consume('viewer2', video.producerId, caps, recv2.id);
    expect(pool.slots.map((s) => s.load)).toEqual([loadsBefore[0] + 1, loadsBefore[1] + 3]);

    // The producer closing closes its consumers (parent closes child).
    const closedFor = new Set<string>();
    const bothClosed = new Promise<void>((resolve) =>
      conference.on('consumerClosed', ({ userId }) => {
        closedFor.add(userId);
        if (closedFor.size === 2) resolve();
      }),
    );
    conference.closeProducer('u1', video.producerId);
    await bothClosed;
    expect(consumer.closed).toBe(true);

    // close() is idempotent and ends every router; every stream's load is returned.
    const dumps = await conference.mediaDump();
    expect(dumps.map((d) => d.slot).sort()).toEqual([0, 1]);
    conference.close('test');
    conference.close('again');
    expect(conference.routers).toHaveLength(0);
    expect(pool.slots.map((s) => s.load)).toEqual([0, 0]);
    for (const worker of pool.workers) expect((await worker.dump()).routerIds).toEqual([]);
  });

  it('leaving closes the participant transports, and non-members cannot join', async () => {
    const conference = await Conference.create({ id: 'c4', title: 'x', pool, rtc: { listenIp: '127.0.0.1' } });
    await expect(conference.join('stranger', 'webrtc')).rejects.toMatchObject({ code: 'NOT_A_MEMBER' });
    await publisher(conference, 'u1', 4000);
    expect((await conference.mediaDump())[0]).toMatchObject({ transports: 2, producers: 2 });
    const left = new Promise((resolve) => conference.once('participantLeft', resolve));
    conference.leave('u1', 'bye');
    await expect(left).resolves.toEqual({ userId: 'u1', reason: 'bye' });
    expect((await conference.mediaDump())[0]).toMatchObject({ transports: 0, producers: 0, consumers: 0 });
    expect(pool.slots.map((s) => s.load)).toEqual([0, 0]);
    conference.close('done');
  });

  it("shows a participant's path once reported, and not after it left", async () => {
    const conference = await Conference.create({ id: 'path', title: 't', pool, rtc: { listenIp: '127.0.0.1' } });
    conference.admit('alice');
    await conference.join('alice', 'webrtc');
    expect(conference.snapshot().participants[0]).not.toHaveProperty('path');
    conference.reportPath('alice', 'turn-tcp');
    expect(conference.snapshot().participants[0]).toMatchObject({ userId: 'alice', path: 'turn-tcp', pathSource: 'client' });
    const participant = conference.participant('alice')!;
    // An observation that started before the report (a tuple lookup finishing late) does not replace it.
    participant.setPath('sfu-udp', 'server', performance.now() - 1000);
    expect(participant.path).toEqual({ path: 'turn-tcp', source: 'client' });
    participant.setPath('turn-udp', 'server');
    expect(conference.snapshot().participants[0]).toMatchObject({ path: 'turn-udp', pathSource: 'server' });
    conference.reportPath('alice', 'turn-tcp');
    conference.leave('alice', 'left');
    participant.setPath('sfu-udp', 'server');
    expect(participant.path).toEqual({ path: 'turn-tcp', source: 'client' });
    expect(() => conference.reportPath('alice', 'p2p')).toThrow(expect.objectContaining({ code: 'NOT_JOINED' }));
    conference.close('test');
  });

  it('allows a direct path with exactly two WebRTC participants and no server mix holding their media', async () => {
    const conference = await Conference.create({ id: 'p2p', title: 't', pool, rtc: { listenIp: '127.0.0.1' } });
    const changes: boolean[] = [];
    conference.on('p2pChanged', ({ allowed }) => changes.push(allowed));
    for (const userId of ['alice', 'bob', 'carol', 'obs']) conference.admit(userId);
    await conference.join('alice', 'webrtc');
    expect(conference.p2pAllowed).toBe(false);
    await conference.join('bob', 'webrtc');
    expect(conference.p2pAllowed).toBe(true);
    // A server mix needs their media: no direct path while it holds.
    const release = conference.holdServerMedia();
    expect(conference.p2pAllowed).toBe(false);
    release();
    release();
    expect(conference.p2pAllowed).toBe(true);
    // A third participant, or an RTMP one, needs the SFU too.
    await conference.join('carol', 'webrtc');
    expect(conference.p2pAllowed).toBe(false);
    conference.leave('carol', 'left');
    expect(conference.p2pAllowed).toBe(true);
    conference.leave('bob', 'left');
    await conference.join('obs', 'rtmp');
    expect(conference.p2pAllowed).toBe(false);
    expect(changes).toEqual([true, false, true, false, true, false]);
    // Peers' paths: a client's p2p report is not replaced by the SFU's view of a transport that still connects.
    conference.leave('obs', 'left');
    await conference.join('bob', 'webrtc');
    conference.reportPath('bob', 'p2p');
    conference.participant('bob')!.setPath('sfu-udp', 'server');
    expect(conference.participant('bob')!.path).toEqual({ path: 'p2p', source: 'client' });
    conference.close('test');
  });

  it("describes a simulcast sender's layers, and a mix consumes them as one simulcast stream", async () => {
    const conference = await Conference.create({ id: 'c9', title: 'layers', pool, rtc: { listenIp: '127.0.0.1' } });
    conference.admit('cam');
    await conference.join('cam', 'rtmp');
    const t = await conference.createPlainTransport('cam');
    const simulcast: types.RtpParameters = {
      codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }],
      encodings: [{ ssrc: 7001, scaleResolutionDownBy: 2 }, { ssrc: 7002 }],
    };
    const video = await conference.produce('cam', t.id, 'video', simulcast, { width: 640, height: 360 });
    const audio = await conference.produce('cam', (await conference.createPlainTransport('cam')).id, 'audio', opus(7100));
    expect(conference.videoSource(video.id)).toEqual({ width: 640, height: 360, scales: [2, 1] });
    expect(conference.videoSource(audio.id)).toBeUndefined();
    expect(conference.videoSource('nope')).toBeUndefined();
    // A size the sender made up is not believed.
    const odd = await conference.produce('cam', (await conference.createPlainTransport('cam')).id, 'video', h264(7200), { width: 'wide', height: 1e9 });
    expect(conference.videoSource(odd.id)).toEqual({ width: undefined, height: undefined, scales: [1] });
    const service = await conference.createServiceTransport(47000, 47001);
    const consumer = await conference.consumeForService(service, video.id);
    expect(consumer.type).toBe('simulcast');
    await consumer.setPreferredLayers({ spatialLayer: 0 });
    expect(consumer.preferredLayers?.spatialLayer).toBe(0);
    conference.close('test');
  });
});
