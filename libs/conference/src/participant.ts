import type { types } from 'mediasoup';
import type { MediaPath } from '@gw/turn';
import { QualityTracker } from './quality';

/** How a participant's media arrives: a browser, an RTMP push, or relayed from another conference of this gateway. */
export type ParticipantVia = 'webrtc' | 'rtmp' | 'relay';

/**
 * One member present in a conference, and the media it owns. Its transports
 * own their producers and consumers in mediasoup, so closing the transports
 * closes everything; the maps here mirror that for lookups and counters.
 */
export class Participant {
  readonly transports = new Map<string, types.Transport>();
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Map<string, types.Consumer>();
  /** RTMP participants: whether the push's video is re-encoded on its way into the SFU (false: passed through). */
  transcoded: boolean | undefined;
  /** Relayed participants: the conference they are relayed from, and how they are there; `node`: brought over from that node's copy of this conference (cluster mode). */
  relayOf: { conferenceId: string; via: 'webrtc' | 'rtmp'; node?: string } | undefined;
  /** Its uplink's quality score (quality.ts), from its producers' stats and its client's reports. */
  readonly quality = new QualityTracker();
  #closed = false;
  #path: { path: MediaPath; source: 'client' | 'server' } | undefined;
  /** When the shown path was observed (performance.now()): a slower, older observation never replaces a newer one. */
  #pathObservedAt = -Infinity;

  constructor(
    readonly userId: string,
    readonly via: ParticipantVia,
    /** The router this participant's transports live on. */
    readonly router: types.Router,
    readonly joinedAt = Date.now(),
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The ladder rung its media takes (WebRTC participants): the latest of the
   * client's report (`media:path`, which alone can tell `p2p`, and an external
   * TURN) and the SFU's own view of its selected ICE tuple. Unknown until either.
   */
  get path(): { path: MediaPath; source: 'client' | 'server' } | undefined {
    return this.#path;
  }

  /** `observedAt`: when it was seen (the SFU's tuple lookups finish later than they start). */
  setPath(path: MediaPath, source: 'client' | 'server', observedAt = performance.now()): void {
    if (this.#closed || observedAt < this.#pathObservedAt) return;
    // A direct path is only known to the client: an SFU transport that still connects (a composed
    // program, an idle receive transport) does not make the participant's media go through the SFU.
    if (source === 'server' && this.#path?.path === 'p2p' && this.#path.source === 'client') return;
    this.#path = { path, source };
    this.#pathObservedAt = observedAt;
  }

  hasKind(kind: types.MediaKind): boolean {
    return [...this.producers.values()].some((p) => p.kind === kind && !p.closed);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const transport of this.transports.values()) transport.close();
    // Relayed producers live on pipe transports this participant does not own.
    for (const producer of this.producers.values()) producer.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
  }
}
