import { randomBytes } from 'node:crypto';
import { Amf0Value, decodeCommand, encodeAmf0 } from './amf0';
import { ChunkReader, encodeMessage, MessageType, RtmpMessage } from './chunk-stream';
import { HANDSHAKE_SIZE } from './handshake';
import { OriginLink, RtmpIntake, RtmpIntakeError } from './rtmp-intake';

// The real node-media-server protocol engine plays the origin process here (test only:
// its internals are no API of ours, but they are what the front must be faithful to).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const NmsRtmp = require('node-media-server/src/protocol/rtmp.js');

interface NmsEngine {
  parserData(buffer: Buffer): void;
  onOutputCallback: (buffer: Buffer) => void;
  onPushCallback: () => void;
  onPlayCallback: () => void;
  onConnectCallback: (req: { app: string; name: string }) => void;
}

function nmsEngine(): { engine: NmsEngine; output: Buffer[]; events: string[] } {
  const engine = new NmsRtmp() as NmsEngine;
  const output: Buffer[] = [];
  const events: string[] = [];
  engine.onOutputCallback = (b) => output.push(Buffer.from(b));
  engine.onConnectCallback = (req) => events.push(`connect ${req.app}/${req.name}`);
  engine.onPushCallback = () => events.push('push');
  engine.onPlayCallback = () => events.push('play');
  return { engine, output, events };
}

const commandAt = (chunkSize: number) => (csid: number, streamId: number, ...values: Amf0Value[]) =>
  encodeMessage({ chunkStreamId: csid, typeId: MessageType.CommandAmf0, streamId, timestamp: 0, payload: encodeAmf0(...values) }, chunkSize);
/** After the publisher's Set Chunk Size 4096. */
const cmd = commandAt(4096);
/** A player never changes the default 128. */
const cmd128 = commandAt(128);

/** What ffmpeg sends after the handshake, in the three bursts it waits between. */
function ffmpegPublisher(name: string): Buffer[] {
  const setChunk = encodeMessage({ chunkStreamId: 2, typeId: MessageType.SetChunkSize, streamId: 0, timestamp: 0, payload: Buffer.from('00001000', 'hex') }, 128);
  return [
    Buffer.concat([setChunk, cmd(3, 0, 'connect', 1, { app: 'live', type: 'nonprivate', flashVer: 'FMLE/3.0', tcUrl: 'rtmp://127.0.0.1:1935/live' })]),
    Buffer.concat([cmd(3, 0, 'releaseStream', 2, null, name), cmd(3, 0, 'FCPublish', 3, null, name), cmd(3, 0, 'createStream', 4, null)]),
    Buffer.concat([
      cmd(4, 1, 'publish', 5, null, name, 'live'),
      // media may follow at once
      encodeMessage({ chunkStreamId: 6, typeId: MessageType.DataAmf0, streamId: 1, timestamp: 0, payload: encodeAmf0('@setDataFrame', 'onMetaData', { width: 160 }) }, 4096),
    ]),
  ];
}

function ffmpegPlayer(name: string): Buffer[] {
  return [
    cmd128(3, 0, 'connect', 1, { app: 'live', flashVer: 'LNX 9,0,124,2', tcUrl: 'rtmp://127.0.0.1:1935/live', fpad: false, capabilities: 15, audioCodecs: 4071, videoCodecs: 252, videoFunction: 1 }),
    cmd128(3, 0, 'createStream', 2, null),
    Buffer.concat([
      cmd128(3, 0, 'getStreamLength', 3, null, name),
      cmd128(8, 1, 'play', 4, null, name, -2000),
      encodeMessage({ chunkStreamId: 2, typeId: MessageType.UserControl, streamId: 0, timestamp: 0, payload: Buffer.from('00030000000100000bb8', 'hex') }, 128),
    ]),
  ];
}

/** Messages as a client reads them: decoded commands where they are commands. */
function readable(messages: RtmpMessage[]) {
  return messages.map((m) => ({
    csid: m.chunkStreamId,
    type: m.typeId,
    streamId: m.streamId,
    body: m.typeId === MessageType.CommandAmf0 ? decodeCommand(m.payload) : m.payload.toString('hex'),
  }));
}

/** Splits bytes at random points: nothing may depend on how TCP cuts them. */
function randomSlices(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(Math.random() * 700);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** The client talks to node-media-server directly: every message it gets. */
function direct(bursts: Buffer[], c1: Buffer) {
  const { engine, output, events } = nmsEngine();
  engine.parserData(Buffer.concat([Buffer.from([3]), c1]));
  const s0s1s2 = Buffer.concat(output.splice(0));
  engine.parserData(s0s1s2.subarray(1, 1 + HANDSHAKE_SIZE)); // C2
  for (const burst of bursts) engine.parserData(burst);
  return { messages: new ChunkReader().push(Buffer.concat(output)), events };
}

/** The client talks to the front, which then hands it to node-media-server. */
function throughFront(bursts: Buffer[], c1: Buffer) {
  const intake = new RtmpIntake();
  const toClient: Buffer[] = [];
  let intent;
  for (const slice of randomSlices(Buffer.concat([Buffer.from([3]), c1]))) toClient.push(...intake.receive(slice).replies);
  expect(toClient.length).toBe(1);
  const s1 = toClient[0].subarray(1, 1 + HANDSHAKE_SIZE);
  // C2 arrives with the first burst, as ffmpeg writes it.
  const stream = [Buffer.concat([s1, bursts[0]]), ...bursts.slice(1)];
  // Bytes after the intent go to the process as they come (after the replay).
  const later: Buffer[] = [];
  for (const burst of stream) {
    for (const slice of randomSlices(burst)) {
      if (intent) {
        later.push(slice);
        continue;
      }
      const result = intake.receive(slice);
      toClient.push(...result.replies);
      if (result.intent) intent = result.intent;
    }
  }
  const { engine, output, events } = nmsEngine();
  const link = new OriginLink(intake.replay, intake.answered, intake.clientChunkSize);
  engine.parserData(link.hello());
  const forwarded: Buffer[] = [];
  for (;;) {
    const produced = Buffer.concat(output.splice(0));
    if (produced.length === 0) break;
    for (const slice of randomSlices(produced)) {
      const { toOrigin, toClient: out } = link.receive(slice);
      for (const b of toOrigin) engine.parserData(b);
      if (toOrigin.length) for (const b of later.splice(0)) engine.parserData(b);
      forwarded.push(...out);
    }
  }
  const handshake = toClient[0];
  const clientBytes = Buffer.concat([...toClient.slice(1), ...forwarded]);
  return { handshake, messages: new ChunkReader().push(clientBytes), events, intent, link };
}

describe('RtmpIntake + OriginLink against node-media-server', () => {
  it.each([
    ['ffmpeg publishing', ffmpegPublisher('show__host?key=secret'), { kind: 'publish', app: 'live', stream: 'show__host' }, ['connect live/show__host', 'push']],
    ['ffmpeg playing', ffmpegPlayer('show'), { kind: 'play', app: 'live', stream: 'show' }, ['connect live/show', 'play']],
  ])('%s: the client gets exactly what node-media-server alone would send, and the process sees the whole session', (_label, bursts, intent, events) => {
    const c1 = Buffer.concat([Buffer.alloc(8), randomBytes(HANDSHAKE_SIZE - 8)]);
    const alone = direct(bursts, c1);
    const front = throughFront(bursts, c1);
    expect(front.intent).toEqual(intent);
    expect(front.link.piping).toBe(true);
    expect(readable(front.messages)).toEqual(readable(alone.messages));
    expect(front.events).toEqual(events);
    expect(alone.events).toEqual(events);
    // And the answers are the ones a client waits for.
    const commands = readable(front.messages).filter((m) => m.type === MessageType.CommandAmf0).map((m) => (m.body as { name: string }).name);
    expect(commands[0]).toBe('_result');
    expect(commands).toContain('onStatus');
  });

  it('answers connect and createStream the way a client checks them', () => {
    const intake = new RtmpIntake();
    const c1 = Buffer.concat([Buffer.alloc(8), randomBytes(HANDSHAKE_SIZE - 8)]);
    intake.receive(Buffer.concat([Buffer.from([3]), c1]));
    const [connect, create, publish] = ffmpegPublisher('a?key=1');
    const replies = [
      ...intake.receive(Buffer.concat([c1, connect])).replies,
      ...intake.receive(create).replies,
    ];
    const messages = readable(new ChunkReader().push(Buffer.concat(replies)));
    expect(messages.map((m) => m.type)).toEqual([5, 6, 1, 20, 20]);
    expect(messages[2].body).toBe('0000ffff');
    expect(messages[3].body).toMatchObject({ name: '_result', transactionId: 1, args: [{ code: 'NetConnection.Connect.Success' }] });
    expect(messages[4].body).toEqual({ name: '_result', transactionId: 4, object: null, args: [1] });
    expect(intake.answered).toEqual([1, 4]);
    expect(intake.receive(publish).intent).toEqual({ kind: 'publish', app: 'live', stream: 'a' });
    // The replay is every byte after C2, the media after publish included.
    expect(intake.replay.equals(Buffer.concat([connect, create, publish]))).toBe(true);
    expect(() => intake.receive(Buffer.from([0]))).toThrow(RtmpIntakeError);
  });

  it('refuses what is not RTMP: another version, publish before connect, endless commands', () => {
    expect(() => new RtmpIntake().receive(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(/version/);
    const early = new RtmpIntake();
    const c1 = Buffer.alloc(HANDSHAKE_SIZE);
    early.receive(Buffer.concat([Buffer.from([3]), c1, c1]));
    expect(() => early.receive(cmd(3, 0, 'publish', 1, null, 'x'))).toThrow(/before connect/);
    const chatty = new RtmpIntake(2000);
    chatty.receive(Buffer.concat([Buffer.from([3]), c1, c1]));
    expect(() => {
      for (let i = 0; i < 100; i++) chatty.receive(cmd(3, 0, 'FCSubscribe', i, null, 'x'));
    }).toThrow(/no publish or play/);
  });

  it('a process that answers with another chunk size: its Set Chunk Size is passed on', () => {
    const link = new OriginLink(Buffer.alloc(0), [1], 0xffff);
    const handshake = Buffer.alloc(1 + 2 * HANDSHAKE_SIZE, 3);
    const { toOrigin } = link.receive(handshake);
    expect(toOrigin[0].length).toBe(HANDSHAKE_SIZE);
    const setChunk = encodeMessage({ chunkStreamId: 2, typeId: MessageType.SetChunkSize, streamId: 0, timestamp: 0, payload: Buffer.from('00000080', 'hex') }, 128);
    const result = cmd(3, 0, '_result', 1, null, {});
    const after = cmd(3, 0, 'onStatus', 0, null, { code: 'x' });
    const { toClient } = link.receive(Buffer.concat([setChunk, result, after]));
    const seen = readable(new ChunkReader().push(Buffer.concat(toClient)));
    expect(seen.map((m) => m.type)).toEqual([1, 20]);
    expect((seen[1].body as { name: string }).name).toBe('onStatus');
    expect(link.piping).toBe(true);
  });
});
