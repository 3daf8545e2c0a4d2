import { ConflictError } from '@gw/common';
import type { Conference } from './conference';

/** What `POST /conferences {live}` asks for: a channel of its own, mapped to the new conference. */
export interface GoLiveRequest {
  onDemand: boolean;
  /** A layout spec, validated by whoever goes live (the mixing coordinator's schema). */
  layout?: unknown;
}

export interface GoLiveResult {
  channelId: string;
  onDemand: boolean;
  playUrls: { rtmp: string; flv: string; hls?: string; whep?: string };
}

export class LiveUnavailableError extends ConflictError {
  constructor() {
    super('this gateway cannot take conferences live', 'LIVE_UNAVAILABLE');
  }
}

/**
 * The port through which a new conference goes live in the same request
 * (seed 004 §4.1.2 step 3). Conference control owns the route; bypass live,
 * which depends on conference control and not the other way round, registers
 * the handler that creates and maps the channel.
 */
export class ConferenceLivePort {
  #handler: ((conference: Conference, request: GoLiveRequest) => GoLiveResult) | undefined;

  register(handler: (conference: Conference, request: GoLiveRequest) => GoLiveResult): void {
    this.#handler = handler;
  }

  goLive(conference: Conference, request: GoLiveRequest): GoLiveResult {
    if (!this.#handler) throw new LiveUnavailableError();
    return this.#handler(conference, request);
  }
}
