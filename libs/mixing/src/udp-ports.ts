import { createSocket } from 'node:dgram';
import { UnavailableError } from '@gw/common';

/**
 * Hands out RTP/RTCP port pairs (p, p+1) on loopback for decoders to listen on.
 * A pair is tried by binding both ports, then released for ffmpeg to bind;
 * pairs in use by this process are never handed out twice.
 */
export class UdpPortAllocator {
  readonly #inUse = new Set<number>();
  #next: number;

  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    this.#next = min + (min % 2);
  }

  async allocate(): Promise<number> {
    const span = Math.floor((this.max - this.min) / 2);
    for (let attempt = 0; attempt < span; attempt++) {
      const port = this.#next;
      this.#next = this.#next + 2 > this.max - 1 ? this.min + (this.min % 2) : this.#next + 2;
      if (this.#inUse.has(port)) continue;
      if ((await canBind(port)) && (await canBind(port + 1))) {
        this.#inUse.add(port);
        return port;
      }
    }
    throw new UnavailableError('no free UDP port pair for the mixer', 'MIX_PORTS_EXHAUSTED');
  }

  release(port: number): void {
    this.#inUse.delete(port);
  }
}

/** Whether both ports of a pair can be bound on loopback right now (nobody else holds them). */
export async function pairFree(port: number): Promise<boolean> {
  return (await canBind(port)) && (await canBind(port + 1));
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}
