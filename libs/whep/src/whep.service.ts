import { ConflictError, ForbiddenError, GatewayError, LineLogger, NotFoundError } from '@gw/common';
import type { Principal } from '@gw/auth';
import type { ChannelService } from '@gw/live';
import type { WorkerPool } from '@gw/sfu';
import { ProgramTaps } from './program-feed';
import { ViewingRoom, ViewingRoomView } from './viewing-room';
import { RtcListen } from './whep-session';
import { parseWhepOffer } from './whep-sdp';

export class ChannelNotLiveError extends ConflictError {
  constructor(channelId: string) {
    super(`channel ${channelId} is not live`, 'CHANNEL_NOT_LIVE');
  }
}

export class WhepSessionNotFoundError extends NotFoundError {
  constructor(sessionId: string) {
    super(`WHEP session ${sessionId} not found`, 'WHEP_SESSION_NOT_FOUND');
  }
}

export class UnsupportedMediaTypeError extends GatewayError {
  constructor(message: string) {
    super('UNSUPPORTED_MEDIA_TYPE', message, 415);
  }
}

export interface WhepServiceOptions {
  rtc: RtcListen;
  ffmpegPath: string;
  /** A viewing room with no session left closes (its ffmpeg ends) after this long. Default 5000 ms. */
  idleMs?: number;
  logger: LineLogger;
}

/**
 * WHEP playback (draft-ietf-wish-whep): one viewing room per channel that has
 * WHEP players, made on the first one's offer and closed `idleMs` after the
 * last one left, when the channel goes off air, or with its worker. So a
 * channel nobody watches over WHEP costs nothing.
 */
export class WhepService {
  readonly #rooms = new Map<string, ViewingRoom>();
  readonly #opening = new Map<string, Promise<ViewingRoom>>();
  readonly #idleTimers = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(
    private readonly pool: WorkerPool,
    private readonly programs: ProgramTaps,
    private readonly channels: ChannelService,
    private readonly o: WhepServiceOptions,
  ) {
    channels.on('stateChanged', ({ channelId, state }) => {
      if (state === 'idle') void this.#closeRoom(channelId, 'channel ended');
    });
    pool.on('workerDied', ({ worker }) => {
      for (const room of [...this.#rooms.values()]) if (room.worker === worker) void this.#closeRoom(room.channelId, 'worker died');
    });
  }

  /**
   * A WHEP session on the channel's program for the offer. The caller may
   * watch the channel: any token (as GET /channels/:id), unless it is scoped
   * to another channel. CHANNEL_NOT_FOUND, CHANNEL_NOT_LIVE, a typed 400 for
   * the offer, SFU_CAPACITY.
   */
  async createSession(channelId: string, sdp: string, principal: Principal): Promise<{ sessionId: string; answer: string }> {
    const status = this.channels.status(channelId);
    if (principal.kind === 'user' && principal.channelId !== undefined && principal.channelId !== channelId) {
      throw new ForbiddenError(`this token is for channel ${principal.channelId}`, 'NOT_CHANNEL_VIEWER');
    }
    if (status.state === 'idle') throw new ChannelNotLiveError(channelId);
    const offer = parseWhepOffer(sdp);
    const room = await this.#room(channelId);
    this.#cancelIdle(channelId);
    try {
      const created = await room.addSession(offer, principal.kind === 'user' ? principal.userId : 'admin');
      this.o.logger.log(`whep session ${created.sessionId} on channel ${channelId} for ${principal.kind === 'user' ? principal.userId : 'admin'}`);
      return created;
    } catch (error) {
      if (room.sessionCount === 0) this.#scheduleIdle(room);
      throw error;
    }
  }

  /** Ends a session (DELETE on its Location): its owner or an admin. */
  deleteSession(channelId: string, sessionId: string, principal: Principal): void {
    const session = this.#rooms.get(channelId)?.session(sessionId);
    if (!session) throw new WhepSessionNotFoundError(sessionId);
    if (principal.kind === 'user' && principal.userId !== session.userId) throw new ForbiddenError('not your WHEP session', 'NOT_SESSION_OWNER');
    session.close('deleted');
  }

  /** The channel's viewing room as it is now (an empty one when it has none). */
  async view(channelId: string): Promise<ViewingRoomView & { open: boolean }> {
    this.channels.status(channelId);
    const room = this.#rooms.get(channelId);
    if (!room) return { channelId, open: false, feed: { starts: 0 }, sessions: [], media: { routers: 0, transports: 0, producers: 0, consumers: 0, pipeConsumers: 0 } };
    return { ...(await room.view()), open: true };
  }

  /** ffmpeg pids of the viewing rooms' feeds (for leak checks and metrics). */
  pids(): number[] {
    return [...this.#rooms.values()].flatMap((r) => (r.pid ? [r.pid] : []));
  }

  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#opening.values()].map((p) => p.catch(() => undefined)));
    await Promise.all([...this.#rooms.keys()].map((channelId) => this.#closeRoom(channelId, 'shutdown')));
  }

  async #room(channelId: string): Promise<ViewingRoom> {
    if (this.#closed) throw new ConflictError('the gateway is shutting down', 'SHUTTING_DOWN');
    const open = this.#rooms.get(channelId);
    if (open && !open.closed) return open;
    let opening = this.#opening.get(channelId);
    if (!opening) {
      opening = ViewingRoom.create({ channelId, pool: this.pool, programs: this.programs, rtc: this.o.rtc, ffmpegPath: this.o.ffmpegPath, logger: this.o.logger });
      this.#opening.set(channelId, opening);
      opening.then(
        (room) => {
          this.#opening.delete(channelId);
          this.#rooms.set(channelId, room);
          room.on('sessionClosed', () => {
            if (room.sessionCount === 0 && !room.closed) this.#scheduleIdle(room);
          });
          room.once('closed', () => {
            if (this.#rooms.get(channelId) === room) this.#rooms.delete(channelId);
            this.#cancelIdle(channelId);
          });
          if (this.#closed) void room.close('shutdown');
        },
        () => this.#opening.delete(channelId),
      );
    }
    return opening;
  }

  #scheduleIdle(room: ViewingRoom): void {
    this.#cancelIdle(room.channelId);
    const timer = setTimeout(() => {
      this.#idleTimers.delete(room.channelId);
      if (room.sessionCount === 0) void this.#closeRoom(room.channelId, 'no WHEP players');
    }, this.o.idleMs ?? 5000);
    timer.unref();
    this.#idleTimers.set(room.channelId, timer);
  }

  #cancelIdle(channelId: string): void {
    clearTimeout(this.#idleTimers.get(channelId));
    this.#idleTimers.delete(channelId);
  }

  async #closeRoom(channelId: string, reason: string): Promise<void> {
    await this.#opening.get(channelId)?.catch(() => undefined);
    const room = this.#rooms.get(channelId);
    if (!room) return;
    this.#rooms.delete(channelId);
    this.#cancelIdle(channelId);
    await room.close(reason);
  }
}
