import { Injectable } from '@nestjs/common';
import type { Server } from 'socket.io';
import { TypedEmitter } from '@gw/common';
import { userRoom } from './notifier';

interface PresenceEvents extends Record<string, unknown[]> {
  /** A socket of the user connected (every connection, not only the first). */
  online: [{ userId: string }];
  /** The user's last socket went away (asked of the server's adapter once per disconnect). */
  offline: [{ userId: string }];
}

/**
 * Who is connected, for the domain services that give people a grace period
 * (co-hosting, PK): one room query per disconnect for all of them, instead
 * of one per listening gateway.
 */
@Injectable()
export class Presence extends TypedEmitter<PresenceEvents> {
  #server: Server | undefined;

  attach(server: Server): void {
    this.#server = server;
  }

  connected(userId: string): void {
    this.emit('online', { userId });
  }

  disconnected(userId: string): void {
    const server = this.#server;
    if (!server) return;
    void server
      .in(userRoom(userId))
      .fetchSockets()
      .then((sockets) => {
        if (sockets.length === 0) this.emit('offline', { userId });
      })
      .catch(() => undefined);
  }
}
