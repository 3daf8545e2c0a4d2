import * as sdpTransform from 'sdp-transform';
import { WorkerPool } from '@gw/sfu';
import { ViewingRoom } from './viewing-room';
import { parseWhepOffer } from './whep-sdp';
import { CHROMIUM_RECVONLY_OFFER } from './testing/chromium-offer';

const logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
/** A channel whose program has written nothing yet: the feed waits for a keyframe and starts no ffmpeg. */
const quietProgram = { tap: () => () => undefined, snapshot: () => null };

// Real mediasoup workers (built from source by scripts/setup.sh); no ffmpeg.
describe('ViewingRoom', () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    pool = await WorkerPool.create({ count: 1, rtcMinPort: 45200, rtcMaxPort: 45299, logger });
  });
  afterAll(async () => {
    await pool.close();
  });

  const open = () => ViewingRoom.create({ channelId: 'show', pool, programs: quietProgram, rtc: { listenIp: '127.0.0.1' }, ffmpegPath: 'ffmpeg', logger });

  it('answers a Chromium offer with the offer\'s payload types through a delivery router, and closes what it made', async () => {
    const room = await open();
    const { sessionId, answer } = await room.addSession(parseWhepOffer(CHROMIUM_RECVONLY_OFFER), 'fan');
    const sdp = sdpTransform.parse(answer);
    // Chromium's own payload types (it reads packets by them), not the router's defaults.
    expect(sdp.media.map((m) => `${m.type}:${m.rtp.map((r) => `${r.codec}/${r.payload}`).join(',')}`)).toEqual(['audio:opus/111', 'video:H264/108']);
    expect(sdp.media.every((m) => m.iceUfrag && m.fingerprint?.type === 'sha-256' && m.setup === 'passive' && m.candidates?.length)).toBe(true);
    expect(sdp.media[1].fmtp[0].config).toMatch(/profile-level-id=42e01f/);
    expect(sdp.media.map((m) => m.ssrcs?.[0]?.id)).toEqual([expect.any(Number), expect.any(Number)]);

    const view = await room.view();
    expect(view.sessions).toEqual([expect.objectContaining({ id: sessionId, userId: 'fan', connected: false, consumers: [{ kind: 'audio', paused: true }, { kind: 'video', paused: true }] })]);
    expect(view.media).toEqual({ routers: 2, transports: 5, producers: 4, consumers: 2, pipeConsumers: 2 });
    // Source: 2 producers; a pipe each way (2 pipe consumers, 2 pipe producers); 2 consumers.
    expect(pool.slots[0].load).toBe(8);

    // A second Chromium shares the delivery router.
    await room.addSession(parseWhepOffer(CHROMIUM_RECVONLY_OFFER), 'fan2');
    expect((await room.view()).media).toMatchObject({ routers: 2, consumers: 4 });

    // The session closes once, with its transport and consumers.
    const session = room.session(sessionId)!;
    const closed = jest.fn();
    session.on('closed', closed);
    session.close('deleted');
    session.close('again');
    expect(closed).toHaveBeenCalledTimes(1);
    expect(room.sessionCount).toBe(1);
    expect((await room.view()).media).toMatchObject({ consumers: 2 });

    // The room closes everything it owns, once.
    const routers = [room.router];
    const roomClosed = jest.fn();
    room.on('closed', roomClosed);
    await Promise.all([room.close('test'), room.close('again')]);
    expect(roomClosed).toHaveBeenCalledTimes(1);
    expect(routers[0].closed).toBe(true);
    expect(room.sessionCount).toBe(0);
    expect((await pool.workers[0].dump()).routerIds).toEqual([]);
    expect(pool.slots[0].load).toBe(0);
  });

  it('gives other payload types their own delivery router', async () => {
    const room = await open();
    const firefoxish = CHROMIUM_RECVONLY_OFFER.replace(/\b111\b/g, '109').replace(/(a=rtpmap:|a=rtcp-fb:|a=fmtp:| )108\b/g, '$1126');
    const [a, b] = [await room.addSession(parseWhepOffer(CHROMIUM_RECVONLY_OFFER), 'a'), await room.addSession(parseWhepOffer(firefoxish), 'b')];
    expect(sdpTransform.parse(b.answer).media.map((m) => m.rtp[0].payload)).toEqual([109, 126]);
    expect(sdpTransform.parse(a.answer).media.map((m) => m.rtp[0].payload)).toEqual([111, 108]);
    expect((await room.view()).media.routers).toBe(3);
    await room.close('test');
    expect((await pool.workers[0].dump()).routerIds).toEqual([]);
  });

  it('closes with its router (the worker died)', async () => {
    const room = await open();
    await room.addSession(parseWhepOffer(CHROMIUM_RECVONLY_OFFER), 'fan');
    const closed = new Promise((resolve) => room.once('closed', resolve));
    room.router.close();
    await expect(closed).resolves.toEqual({ reason: 'router closed' });
    expect(room.sessionCount).toBe(0);
  });
});
