import { RemoteInfo, Socket } from 'node:dgram';
import { bindUdpSocket, LineLogger } from '@gw/common';
import { decodeHelperMessage, encodeHelperMessage, HelperMessage } from './helper-protocol';

export interface UplinkHelperOptions {
  /** Where senders on the host's network reach this helper. */
  listen: { host: string; port: number };
  /** The local address relayed traffic leaves from (this device's own network). Default: any. */
  bind?: string;
  /** Data this helper is still willing to carry, bytes; when spent it stops and says so. */
  allowanceBytes: number;
  /** Refuse every request (a helper that is busy or not allowed). Default false. */
  refuse?: boolean;
  /** Senders served at once. Default 4. */
  maxSenders?: number;
  logger: LineLogger;
}

interface Served {
  id: string;
  sender: RemoteInfo;
  receiver: { host: string; port: number };
  /** Our own socket towards the receiver: the receiver sees this device's address as one more link. */
  relay: Socket;
  lastHeard: number;
}

/** A sender unheard of this long is released. */
const IDLE_MS = 10_000;

/**
 * A helper device (seed 000): `npm run uplink -- helper` on another device of
 * the host's network. It answers a sender's distribution request (accept, or
 * refuse, with the data allowance it has left) and then relays that sender's
 * datagrams to the receiver from its own network, and the receiver's answers
 * back, until the sender releases it, goes quiet, or the allowance is spent.
 */
export class UplinkHelper {
  readonly #served = new Map<string, Served>();
  #socket: Socket | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #remaining: number;
  #relayed = 0;
  #closed = false;

  constructor(private readonly o: UplinkHelperOptions) {
    this.#remaining = o.allowanceBytes;
  }

  get remainingBytes(): number {
    return this.#remaining;
  }

  get relayedBytes(): number {
    return this.#relayed;
  }

  get senders(): number {
    return this.#served.size;
  }

  async start(): Promise<void> {
    this.#socket = await bindUdpSocket(this.o.listen.host, this.o.listen.port);
    this.#socket.on('message', (datagram, from) => this.#fromSender(datagram, from));
    this.#sweeper = setInterval(() => {
      for (const served of [...this.#served.values()]) if (Date.now() - served.lastHeard > IDLE_MS) this.#release(served, 'went quiet');
    }, 1000);
  }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const served of [...this.#served.values()]) this.#release(served, 'helper stopping');
    this.#socket?.close();
  }

  #answer(to: RemoteInfo, message: HelperMessage): void {
    this.#socket?.send(encodeHelperMessage(message), to.port, to.address);
  }

  #fromSender(datagram: Buffer, from: RemoteInfo): void {
    if (this.#closed) return;
    const key = `${from.address}:${from.port}`;
    const message = decodeHelperMessage(datagram);
    const served = this.#served.get(key);
    if (message?.type === 'request') return void this.#request(message, from, key);
    if (message?.type === 'release') {
      if (served && served.id === message.id) this.#release(served, 'released');
      return;
    }
    // Anything else is relay traffic, from a sender we serve.
    if (!served) return;
    served.lastHeard = Date.now();
    if (this.#remaining < datagram.length) {
      this.#answer(from, { type: 'exhausted', id: served.id });
      this.#release(served, 'allowance spent');
      return;
    }
    this.#remaining -= datagram.length;
    this.#relayed += datagram.length;
    served.relay.send(datagram, served.receiver.port, served.receiver.host);
  }

  async #request(request: Extract<HelperMessage, { type: 'request' }>, from: RemoteInfo, key: string): Promise<void> {
    const existing = this.#served.get(key);
    if (existing && existing.id === request.id) return this.#answer(from, { type: 'accept', id: request.id, allowanceBytes: this.#remaining });
    const refuse = (reason: string) => {
      this.o.logger.log(`helper: refused ${key} (${reason})`);
      this.#answer(from, { type: 'refuse', id: request.id, reason, allowanceBytes: this.#remaining });
    };
    if (this.o.refuse) return refuse('not helping now');
    if (this.#remaining <= 0) return refuse('no data allowance left');
    if (this.#served.size >= (this.o.maxSenders ?? 4)) return refuse('serving as many senders as it can');
    const relay = await bindUdpSocket(this.o.bind ?? '0.0.0.0', 0);
    relay.on('message', (reply) => {
      const served = this.#served.get(key);
      if (served?.relay === relay) this.#socket?.send(reply, from.port, from.address);
    });
    if (existing) this.#release(existing, 'asked again');
    this.#served.set(key, { id: request.id, sender: from, receiver: request.receiver, relay, lastHeard: Date.now() });
    this.o.logger.log(`helper: relaying ${key} to ${request.receiver.host}:${request.receiver.port} (${this.#remaining} bytes left)`);
    this.#answer(from, { type: 'accept', id: request.id, allowanceBytes: this.#remaining });
  }

  #release(served: Served, why: string): void {
    const key = `${served.sender.address}:${served.sender.port}`;
    if (this.#served.get(key) !== served) return;
    this.#served.delete(key);
    served.relay.close();
    this.o.logger.log(`helper: stopped relaying ${key} (${why})`);
  }
}
