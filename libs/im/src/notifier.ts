import type { Server } from 'socket.io';

/** Socket.IO rooms: one per user (every socket of that user), one per conference, one per channel and one for its host. */
export const userRoom = (userId: string) => `user:${userId}`;
export const conferenceRoom = (conferenceId: string) => `conf:${conferenceId}`;
export const channelRoom = (channelId: string) => `channel:${channelId}`;
/** The sockets of a channel's host (tokens of role host scoped to it): what only the host should hear. */
export const channelHostRoom = (channelId: string) => `channel-host:${channelId}`;

/**
 * IM delivery: sends server → client events to users and rooms. The socket.io
 * server is attached by the IM gateway once it exists; before that (and in
 * tests without sockets) events are dropped.
 */
export class Notifier {
  #server: Server | undefined;

  attach(server: Server): void {
    this.#server = server;
  }

  toUser(userId: string, event: string, payload: object): void {
    this.#server?.to(userRoom(userId)).emit(event, payload);
  }

  toRoom(room: string, event: string, payload: object): void {
    this.#server?.to(room).emit(event, payload);
  }

  /**
   * To the sockets of a room connected to this node only. A conference's
   * media events name this node's producers: in a cluster, each node tells
   * its own sockets about its own copy of the conference (conference-span.ts).
   */
  toLocalRoom(room: string, event: string, payload: object): void {
    this.#server?.local.to(room).emit(event, payload);
  }

  /** Takes every socket of a user out of a room (it hears the room's events no more). */
  leaveRoom(userId: string, room: string): void {
    this.#server?.in(userRoom(userId)).socketsLeave(room);
  }

  /** Disconnects every socket of a user (e.g. when removed from everything). */
  disconnectUser(userId: string): void {
    this.#server?.in(userRoom(userId)).disconnectSockets(true);
  }
}
