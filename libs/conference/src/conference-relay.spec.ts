import type { types } from 'mediasoup';
import { WorkerPool } from '@gw/sfu';
import { Conference, REMOVED_BY_HOST } from './conference';
import { ConferenceRelay } from './conference-relay';

const logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
const opus = (ssrc: number): types.RtpParameters => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc }],
});
const h264 = (ssrc: number): types.RtpParameters => ({
  codecs: [{ mimeType: 'video/H264', payloadType: 101, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } }],
  encodings: [{ ssrc }],
});
const settle = () => new Promise((r) => setTimeout(r, 100));

// Real mediasoup workers; participants use PlainTransports so no browser is needed here.
describe('ConferenceRelay on real mediasoup workers', () => {
  let pool: WorkerPool;
  let session: Conference;
  let pk: Conference;
  beforeEach(async () => {
    pool = await WorkerPool.create({ count: 2, rtcMinPort: 46400, rtcMaxPort: 46599, maxLoadPerWeight: 50, logger });
    session = await Conference.create({ id: 'session', title: 'co-hosting', hostUserId: 'host', pool, rtc: { listenIp: '127.0.0.1' } });
    pk = await Conference.create({ id: 'pk', title: 'PK', pool, rtc: { listenIp: '127.0.0.1' } });
  });
  afterEach(() => {
    session.close('test');
    pk.close('test');
    pool.close();
  });

  async function publisher(conference: Conference, userId: string, ssrc: number, kinds: types.MediaKind[] = ['audio', 'video']) {
    conference.admit(userId);
    if (!conference.participant(userId)) await conference.join(userId, 'rtmp');
    for (const kind of kinds) {
      const t = await conference.createPlainTransport(userId);
      await conference.produce(userId, t.id, kind, kind === 'audio' ? opus(ssrc) : h264(ssrc + 1));
    }
  }

  const relayFor = (onChange = jest.fn()) =>
    new ConferenceRelay({ from: session, to: pk, select: (u) => u !== 'host', logger, onChange });

  it('shows the selected participants with their producers, follows new producers and leaves, and takes them out at stop', async () => {
    await publisher(session, 'host', 1000);
    await publisher(session, 'g1', 2000);
    const onChange = jest.fn();
    const relay = relayFor(onChange);
    relay.start();
    await settle();
    expect(relay.userIds).toEqual(['g1']);
    expect(pk.participant('host')).toBeUndefined();
    const g1 = pk.participant('g1')!;
    expect(g1.via).toBe('relay');
    expect([...g1.producers.values()].map((p) => p.kind).sort()).toEqual(['audio', 'video']);
    expect(pk.producersExcept('').filter((p) => p.userId === 'g1')).toHaveLength(2);
    expect(onChange).toHaveBeenCalledTimes(1);

    // A service (a mix) on the PK's side consumes the relayed video.
    const transport = await pk.createServiceTransport(47000, 47001);
    const video = pk.producersExcept('').find((p) => p.userId === 'g1' && p.kind === 'video')!;
    const consumer = await pk.consumeForService(transport, video.producerId);
    expect(consumer.kind).toBe('video');

    // A guest who comes later, audio first, then video.
    await publisher(session, 'g2', 3000, ['audio']);
    await settle();
    expect(relay.userIds.sort()).toEqual(['g1', 'g2']);
    expect(pk.participant('g2')!.hasKind('video')).toBe(false);
    await publisher(session, 'g2', 3000, ['video']);
    await settle();
    expect(pk.participant('g2')!.hasKind('video')).toBe(true);

    // The source producer closes: the relayed one goes with it (and the service's consumer).
    const g1Video = [...session.participant('g1')!.producers.values()].find((p) => p.kind === 'video')!;
    g1Video.close();
    await settle();
    expect(pk.participant('g1')!.hasKind('video')).toBe(false);
    expect(consumer.closed).toBe(true);

    // Leaving the session leaves the PK.
    session.leave('g1', 'left');
    await settle();
    expect(pk.participant('g1')).toBeUndefined();
    expect(relay.userIds).toEqual(['g2']);

    relay.stop();
    relay.stop();
    expect(pk.participant('g2')).toBeUndefined();
    expect(pk.participantCount).toBe(0);
    // Nothing follows after stop.
    await publisher(session, 'g3', 4000);
    await settle();
    expect(pk.participant('g3')).toBeUndefined();
  });

  it('leaves alone a user who is in the target by their own means, and ends when the source conference closes', async () => {
    await publisher(session, 'g1', 2000);
    await publisher(pk, 'g1', 5000); // g1 pushes into the PK too
    await publisher(session, 'g2', 6000);
    const relay = relayFor();
    relay.start();
    await settle();
    expect(pk.participant('g1')!.via).toBe('rtmp');
    expect(relay.userIds).toEqual(['g2']);
    session.close('co-hosting ended');
    await settle();
    expect(pk.participant('g2')).toBeUndefined();
    expect(pk.participant('g1')!.via).toBe('rtmp');
    expect(relay.userIds).toEqual([]);
  });

  it('relays again a participant the target dropped by itself (its router died), and reports how they came', async () => {
    await publisher(session, 'g1', 2000);
    const relay = relayFor();
    relay.start();
    await settle();
    expect(pk.snapshot().participants).toEqual([expect.objectContaining({ userId: 'g1', via: 'rtmp', relayedFrom: 'session', audio: true, video: true })]);
    pk.leave('g1', 'worker died');
    await settle();
    expect(pk.participant('g1')?.via).toBe('relay');
    expect(pk.participant('g1')!.hasKind('video')).toBe(true);
    expect(relay.userIds).toEqual(['g1']);
    relay.stop();
  });

  it("does not undo the target host's removal of a relayed participant, even when it produces again", async () => {
    await publisher(session, 'g1', 2000);
    const onChange = jest.fn();
    const relay = relayFor(onChange);
    relay.start();
    await settle();
    expect(relay.userIds).toEqual(['g1']);
    pk.leave('g1', REMOVED_BY_HOST);
    await settle();
    expect(pk.participant('g1')).toBeUndefined();
    expect(relay.userIds).toEqual([]);
    await publisher(session, 'g1', 3000, ['audio']);
    relay.refresh();
    await settle();
    expect(pk.participant('g1')).toBeUndefined();
    expect(onChange).toHaveBeenCalledTimes(2);
    relay.stop();
  });

  it('refuses to relay into a participant who is not relayed, and a producer that does not exist', async () => {
    await publisher(session, 'g1', 2000);
    await publisher(pk, 'native', 7000);
    const [producer] = session.producersExcept('');
    await expect(pk.relayProducer('native', session, producer.producerId)).rejects.toMatchObject({ code: 'MEDIA_REQUEST_FAILED' });
    pk.admit('r');
    await pk.join('r', 'relay');
    await expect(pk.relayProducer('r', session, 'nope')).rejects.toMatchObject({ code: 'PRODUCER_NOT_FOUND' });
    // Twice the same producer: one relay.
    const first = await pk.relayProducer('r', session, producer.producerId);
    expect(await pk.relayProducer('r', session, producer.producerId)).toBe(first);
  });
});
