import { createSocket, Socket } from 'node:dgram';
import { RtpContinuity } from './rtp-continuity';

/**
 * One RTP stream of a WHEP feed on its way from ffmpeg to its PlainTransport,
 * through this process: ffmpeg sends RTP and RTCP to `rtpPort`/`rtcpPort`;
 * the relay rewrites them with RtpContinuity and sends them on, always from
 * the same two sockets, to the transport's ports (the transport, in comedia
 * mode, learnt those sockets from the first packet). A new ffmpeg is a new
 * generation: the relay takes packets only from the sender of the
 * generation's first packet and continues its numbering. Datagrams the
 * transport sends back (receiver reports) are read and dropped: ffmpeg
 * cannot act on them.
 *
 * Node's dgram, not a library: two sockets and a header rewrite per packet
 * (a few hundred packets a second per channel).
 */
export class RtpRelay {
  readonly #continuity: RtpContinuity;
  #sources: { rtp?: number; rtcp?: number } = {};
  #closed = false;

  private constructor(
    private readonly sockets: { rtpIn: Socket; rtcpIn: Socket; rtpOut: Socket; rtcpOut: Socket },
    private readonly to: { port: number; rtcpPort: number },
    clockRate: number,
    private readonly now: () => number,
  ) {
    this.#continuity = new RtpContinuity(clockRate);
    sockets.rtpIn.on('message', (packet, from) => {
      if (!this.#accepts('rtp', from.port)) return;
      const out = this.#continuity.rtp(packet, this.now());
      if (out) sockets.rtpOut.send(out, to.port, '127.0.0.1');
    });
    sockets.rtcpIn.on('message', (packet, from) => {
      if (!this.#accepts('rtcp', from.port)) return;
      const out = this.#continuity.rtcp(packet);
      if (out) sockets.rtcpOut.send(out, to.rtcpPort, '127.0.0.1');
    });
    for (const socket of Object.values(sockets)) socket.on('error', () => undefined);
    sockets.rtpOut.on('message', () => undefined);
    sockets.rtcpOut.on('message', () => undefined);
  }

  /** Binds the four loopback sockets; closes what it bound if one fails. */
  static async open(to: { port: number; rtcpPort: number }, clockRate: number, now: () => number = Date.now): Promise<RtpRelay> {
    const bound: Socket[] = [];
    try {
      const bind = async () => {
        const socket = createSocket('udp4');
        bound.push(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind(0, '127.0.0.1', () => {
            socket.off('error', reject);
            resolve();
          });
        });
        return socket;
      };
      const [rtpIn, rtcpIn, rtpOut, rtcpOut] = [await bind(), await bind(), await bind(), await bind()];
      return new RtpRelay({ rtpIn, rtcpIn, rtpOut, rtcpOut }, to, clockRate, now);
    } catch (error) {
      for (const socket of bound) socket.close();
      throw error;
    }
  }

  /** Where ffmpeg sends this stream's RTP. */
  get rtpPort(): number {
    return this.sockets.rtpIn.address().port;
  }

  /** Where ffmpeg sends this stream's RTCP. */
  get rtcpPort(): number {
    return this.sockets.rtcpIn.address().port;
  }

  /** The next sender to appear is the stream's new source; the previous one is no longer heard. */
  newGeneration(): void {
    this.#sources = {};
    this.#continuity.newGeneration();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of Object.values(this.sockets)) socket.close();
  }

  #accepts(kind: 'rtp' | 'rtcp', port: number): boolean {
    if (this.#closed) return false;
    this.#sources[kind] ??= port;
    return this.#sources[kind] === port;
  }
}
