import { io, Socket } from 'socket.io-client';

export type Ack<T> = ({ ok: true } & T) | { ok: false; error: { code: string; message: string } };

export class SignallingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The socket to the gateway, authenticated with the user's token; requests resolve their acks. */
export class Signalling {
  readonly socket: Socket;

  constructor(token: string) {
    this.socket = io({ auth: { token }, transports: ['websocket'] });
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', (error: Error & { data?: { code: string; message: string } }) =>
        reject(new SignallingError(error.data?.code ?? 'CONNECT_FAILED', error.data?.message ?? error.message)),
      );
    });
  }

  async request<T extends object>(event: string, payload: object = {}): Promise<T> {
    const ack = (await this.socket.timeout(10000).emitWithAck(event, payload)) as Ack<T>;
    if (!ack.ok) throw new SignallingError(ack.error.code, ack.error.message);
    return ack;
  }

  on<T>(event: string, handler: (payload: T) => void): void {
    this.socket.on(event, handler);
  }

  close(): void {
    this.socket.close();
  }
}
