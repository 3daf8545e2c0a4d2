/**
 * How the origin front learns where an RTMP connection goes, and how it then hands
 * the connection to an origin process without either side noticing. Pure: bytes in,
 * bytes out. Why our own: see amf0.ts.
 *
 * A client only says which stream it wants in `publish` or `play`, after `connect`
 * and `createStream`, and it waits for the answers to those two. So the front
 * answers them itself, exactly as node-media-server does (same control messages,
 * same `_result`s, the same stream id), keeping every byte the client sent after
 * the handshake. Once it knows the stream, it does its own handshake with the
 * chosen process and replays those bytes: the process answers the same commands
 * again, and the front drops exactly those answers (the ones the client already
 * has) before piping both ways untouched. node-media-server writes each message
 * with a full (fmt 0) header, so what follows needs no chunk state the client lacks.
 */
import { Amf0Value, decodeCommand, encodeAmf0, RtmpCommand } from './amf0';
import { ChunkReader, encodeMessage, MessageType, RtmpMessage } from './chunk-stream';
import { clientAck, clientHello, HANDSHAKE_SIZE, serverHandshake } from './handshake';

/** What a connection wants, read from its commands. */
export interface RtmpIntent {
  kind: 'publish' | 'play';
  /** From `connect`'s `app`. */
  app: string;
  /** The stream name without its query (`?key=…`). */
  stream: string;
}

/** The sizes and values node-media-server uses, so a client sees the same session either way. */
export const ORIGIN_WINDOW_ACK_SIZE = 5_000_000;
export const ORIGIN_PEER_BANDWIDTH = 5_000_000;
export const ORIGIN_CHUNK_SIZE = 0xffff;

const CONTROL_CHUNK_STREAM = 2;
const COMMAND_CHUNK_STREAM = 3;

export class RtmpIntakeError extends Error {}

function commandOf(message: RtmpMessage): RtmpCommand | undefined {
  if (message.typeId === MessageType.CommandAmf0) return decodeCommand(message.payload);
  // An AMF3 command message is AMF0 after one format byte.
  if (message.typeId === MessageType.CommandAmf3) return decodeCommand(message.payload.subarray(1));
  return undefined;
}

function control(typeId: number, ...values: number[]): RtmpMessage {
  const payload = Buffer.alloc(values.length === 2 ? 5 : 4);
  payload.writeUInt32BE(values[0], 0);
  if (values.length === 2) payload[4] = values[1];
  return { chunkStreamId: CONTROL_CHUNK_STREAM, typeId, streamId: 0, timestamp: 0, payload, endOffset: 0 };
}

function command(...values: Amf0Value[]): RtmpMessage {
  return { chunkStreamId: COMMAND_CHUNK_STREAM, typeId: MessageType.CommandAmf0, streamId: 0, timestamp: 0, payload: encodeAmf0(...values), endOffset: 0 };
}

/**
 * The client side: the server half of the handshake and of `connect` and
 * `createStream`, until `publish` or `play` names the stream.
 */
export class RtmpIntake {
  #phase: 'hello' | 'ack' | 'commands' | 'decided' = 'hello';
  #handshake: Buffer = Buffer.alloc(0);
  readonly #reader = new ChunkReader();
  readonly #replay: Buffer[] = [];
  #replayBytes = 0;
  #app: string | undefined;
  #streams = 0;
  #outChunkSize = 128;
  /** Transaction ids of the commands answered here (the process's answers to them are dropped). */
  readonly answered: number[] = [];

  constructor(
    /** Most bytes kept before the stream is known. Default 1 MiB. */
    private readonly maxBytes = 1024 * 1024,
  ) {}

  /** Every byte the client sent after its C2, to be replayed to the process. */
  get replay(): Buffer {
    return Buffer.concat(this.#replay);
  }

  /** The chunk size the client has been told (the process must use the same, which node-media-server does). */
  get clientChunkSize(): number {
    return this.#outChunkSize;
  }

  /**
   * Feeds client bytes. Returns what to send back and, once known, the intent;
   * bytes fed after that belong to the process and must not be fed here.
   * Throws RtmpIntakeError (or a parse error) on a client that is not speaking RTMP.
   */
  receive(bytes: Buffer): { replies: Buffer[]; intent?: RtmpIntent } {
    if (this.#phase === 'decided') throw new RtmpIntakeError('the stream is already known');
    const replies: Buffer[] = [];
    let rest = bytes;
    if (this.#phase === 'hello' || this.#phase === 'ack') {
      this.#handshake = Buffer.concat([this.#handshake, rest]);
      rest = Buffer.alloc(0);
      if (this.#phase === 'hello') {
        if (this.#handshake[0] !== undefined && this.#handshake[0] !== 3) throw new RtmpIntakeError(`RTMP version ${this.#handshake[0]} is not 3`);
        if (this.#handshake.length < 1 + HANDSHAKE_SIZE) return { replies };
        replies.push(serverHandshake(this.#handshake.subarray(1, 1 + HANDSHAKE_SIZE)));
        this.#handshake = this.#handshake.subarray(1 + HANDSHAKE_SIZE);
        this.#phase = 'ack';
      }
      if (this.#handshake.length < HANDSHAKE_SIZE) return { replies };
      rest = this.#handshake.subarray(HANDSHAKE_SIZE); // C2 itself carries nothing the front needs
      this.#handshake = Buffer.alloc(0);
      this.#phase = 'commands';
    }
    if (rest.length === 0) return { replies };
    this.#replay.push(rest);
    this.#replayBytes += rest.length;
    if (this.#replayBytes > this.maxBytes) throw new RtmpIntakeError(`no publish or play within ${this.maxBytes} bytes`);
    for (const message of this.#reader.push(rest)) {
      const intent = this.#onMessage(message, replies);
      if (intent) {
        this.#phase = 'decided';
        return { replies, intent };
      }
    }
    return { replies };
  }

  #onMessage(message: RtmpMessage, replies: Buffer[]): RtmpIntent | undefined {
    const cmd = commandOf(message);
    if (!cmd) return undefined;
    switch (cmd.name) {
      case 'connect': {
        const object = (cmd.object ?? {}) as Record<string, Amf0Value>;
        if (typeof object.app !== 'string') throw new RtmpIntakeError('connect without an app');
        this.#app = object.app;
        this.#send(replies, control(MessageType.WindowAckSize, ORIGIN_WINDOW_ACK_SIZE));
        this.#send(replies, control(MessageType.SetPeerBandwidth, ORIGIN_PEER_BANDWIDTH, 2));
        this.#send(replies, control(MessageType.SetChunkSize, ORIGIN_CHUNK_SIZE));
        this.#outChunkSize = ORIGIN_CHUNK_SIZE;
        const objectEncoding = typeof object.objectEncoding === 'number' ? object.objectEncoding : 0;
        this.#send(
          replies,
          command(
            '_result',
            cmd.transactionId,
            { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
            { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding },
          ),
        );
        this.answered.push(cmd.transactionId);
        return undefined;
      }
      case 'createStream':
        this.#streams += 1;
        this.#send(replies, command('_result', cmd.transactionId, null, this.#streams));
        this.answered.push(cmd.transactionId);
        return undefined;
      case 'publish':
      case 'play': {
        if (this.#app === undefined) throw new RtmpIntakeError(`${cmd.name} before connect`);
        const name = cmd.args[0];
        if (typeof name !== 'string') throw new RtmpIntakeError(`${cmd.name} without a stream name`);
        return { kind: cmd.name, app: this.#app, stream: name.split('?')[0] };
      }
      default:
        // releaseStream, FCPublish, FCSubscribe, getStreamLength, …: node-media-server answers none of them either.
        return undefined;
    }
  }

  #send(replies: Buffer[], message: RtmpMessage): void {
    replies.push(encodeMessage(message, this.#outChunkSize));
  }
}

/**
 * The process side: the client half of the handshake, then the replay, then the
 * process's answers with the ones the client already has taken out.
 */
export class OriginLink {
  #phase: 'handshake' | 'filter' | 'pipe' = 'handshake';
  #handshake: Buffer = Buffer.alloc(0);
  readonly #reader = new ChunkReader();
  /** Process bytes not yet forwarded or dropped, starting at reader offset `#pendingStart`. */
  #pending: Buffer = Buffer.alloc(0);
  #pendingStart = 0;
  readonly #unanswered: Set<number>;
  #clientChunkSize: number;

  constructor(
    private readonly replay: Buffer,
    answered: readonly number[],
    clientChunkSize: number,
  ) {
    this.#unanswered = new Set(answered);
    this.#clientChunkSize = clientChunkSize;
  }

  /** C0+C1, the first bytes to send to the process. */
  hello(): Buffer {
    return clientHello();
  }

  /** True once everything from the process goes to the client as it is. */
  get piping(): boolean {
    return this.#phase === 'pipe';
  }

  /** Feeds process bytes: what to send to the process, and what to forward to the client. */
  receive(bytes: Buffer): { toOrigin: Buffer[]; toClient: Buffer[] } {
    const toOrigin: Buffer[] = [];
    const toClient: Buffer[] = [];
    let rest = bytes;
    if (this.#phase === 'pipe') return { toOrigin, toClient: [bytes] };
    if (this.#phase === 'handshake') {
      this.#handshake = Buffer.concat([this.#handshake, rest]);
      const size = 1 + 2 * HANDSHAKE_SIZE;
      if (this.#handshake.length < size) return { toOrigin, toClient };
      toOrigin.push(clientAck(this.#handshake), this.replay);
      rest = this.#handshake.subarray(size);
      this.#handshake = Buffer.alloc(0);
      this.#phase = this.#unanswered.size ? 'filter' : 'pipe';
      if (this.#phase === 'pipe') {
        if (rest.length) toClient.push(rest);
        return { toOrigin, toClient };
      }
    }
    if (rest.length === 0) return { toOrigin, toClient };
    this.#pending = Buffer.concat([this.#pending, rest]);
    for (const message of this.#reader.push(rest)) {
      if (this.#phase === 'pipe') break; // later messages are in #pending and go raw
      this.#pending = this.#pending.subarray(message.endOffset - this.#pendingStart);
      this.#pendingStart = message.endOffset;
      if (!this.#drops(message)) {
        toClient.push(encodeMessage(message, this.#clientChunkSize));
        if (message.typeId === MessageType.SetChunkSize) this.#clientChunkSize = message.payload.readUInt32BE(0);
      }
      if (this.#unanswered.size === 0) this.#phase = 'pipe';
    }
    if (this.#phase === 'pipe' && this.#pending.length) {
      toClient.push(this.#pending);
      this.#pending = Buffer.alloc(0);
    }
    return { toOrigin, toClient };
  }

  /** The process's duplicate of something the front already told the client. */
  #drops(message: RtmpMessage): boolean {
    switch (message.typeId) {
      case MessageType.WindowAckSize:
      case MessageType.SetPeerBandwidth:
        return true;
      case MessageType.SetChunkSize:
        return message.payload.readUInt32BE(0) === this.#clientChunkSize;
      default: {
        const cmd = commandOf(message);
        if (!cmd || (cmd.name !== '_result' && cmd.name !== '_error') || !this.#unanswered.has(cmd.transactionId)) return false;
        this.#unanswered.delete(cmd.transactionId);
        return true;
      }
    }
  }
}
