import Hls from 'hls.js';
import type { FragmentLoaderContext, HlsConfig, Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext } from 'hls.js';
import { SwarmAgent } from './swarm-agent';

type BaseLoader = new (config: HlsConfig) => Loader<LoaderContext>;

/**
 * hls.js on the channel's plain playlist, its segments taken through the
 * viewer's swarm (seed 002) instead of straight from the origin: the fragment
 * loader asks the agent for the segment's blocks. Playlists and the init
 * segment still come from the origin. Without an agent it is plain HLS.
 * The loader class is made once, so a replaced player keeps the same agent.
 */
export function startHlsPlayer(video: HTMLVideoElement, playlistUrl: string, agent: SwarmAgent | undefined, onError: (text: string) => void): HlsPlayback {
  const Base = Hls.DefaultConfig.loader as unknown as BaseLoader;
  class SwarmLoader extends Base {
    #aborted = false;
    #callbacks: LoaderCallbacks<LoaderContext> | undefined;
    #context: LoaderContext | undefined;

    load(context: LoaderContext, config: LoaderConfiguration, callbacks: LoaderCallbacks<LoaderContext>): void {
      const segment = /\/seg-(\d+)\.m4s(\?|$)/.exec(context.url);
      if (!agent || !segment) return super.load(context, config, callbacks);
      this.#callbacks = callbacks;
      this.#context = context;
      const stats = this.stats;
      stats.loading.start = performance.now();
      agent.segment(Number(segment[1])).then(
        (data) => {
          if (this.#aborted) return;
          stats.loading.first = stats.loading.end = performance.now();
          stats.loaded = stats.total = data.byteLength;
          const body = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
          callbacks.onSuccess({ url: context.url, data: body }, stats, context, null);
        },
        (error: Error) => {
          if (this.#aborted) return;
          stats.loading.end = performance.now();
          callbacks.onError({ code: 0, text: error.message }, context, null, stats);
        },
      );
    }

    abort(): void {
      if (!this.#callbacks) return super.abort();
      if (this.#aborted) return;
      this.#aborted = true;
      this.stats.aborted = true;
      this.#callbacks.onAbort?.(this.stats, this.#context as FragmentLoaderContext, null);
    }
  }
  return new HlsPlayback(video, playlistUrl, SwarmLoader as unknown as HlsConfig['fLoader'], onError);
}

/** Media time standing still this long while the page wants to play restarts the player. */
const STALL_RESTART_MS = 5000;

/**
 * One hls.js player at a time on the <video>, replaced by a fresh one (on the
 * same URL, backing off from 1 s to 5 s) after a fatal network error (the
 * channel went off air, the gateway restarted), a media error that
 * recovering did not mend, or media time standing still for STALL_RESTART_MS
 * (a channel back on air after a pause can leave the old timeline a hole
 * hls.js does not jump), so the page follows the channel off air and back.
 */
export class HlsPlayback {
  hls: Hls | undefined;
  #retryMs = 1000;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #recoveredAt = 0;
  #stopped = false;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #lastTime = -1;
  #lastProgressAt = Date.now();

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly url: string,
    private readonly fLoader: HlsConfig['fLoader'],
    private readonly onError: (text: string) => void,
  ) {
    video.addEventListener('playing', () => (this.#retryMs = 1000));
    this.#watchdog = setInterval(() => this.#watch(), 1000);
    this.#start();
  }

  /**
   * The channel is on air again (`channel:state`): a player that is not
   * playing now starts afresh at once instead of at its next retry.
   */
  onAir(): void {
    if (this.#stopped) return;
    // The watchdog notes progress every second: none for 2.5 s is not playing.
    const playing = this.hls !== undefined && !this.video.paused && this.video.readyState >= 3 && Date.now() - this.#lastProgressAt < 2500;
    if (playing) return;
    this.#retryMs = 1000;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#start();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#watchdog);
    this.hls?.destroy();
    this.hls = undefined;
  }

  #start(): void {
    if (this.#stopped) return;
    this.hls?.destroy();
    const hls = new Hls({ fLoader: this.fLoader, lowLatencyMode: false, liveSyncDurationCount: 3, maxBufferLength: 12 });
    this.hls = hls;
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal || hls !== this.hls) return;
      this.onError(`hls ${data.type} ${data.details}`);
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && Date.now() - this.#recoveredAt > 5000) {
        this.#recoveredAt = Date.now();
        hls.recoverMediaError();
        return;
      }
      this.#restartIn(this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 5000);
    });
    hls.loadSource(this.url);
    hls.attachMedia(this.video);
    void this.video.play().catch(() => undefined);
  }

  #watch(): void {
    const now = Date.now();
    if (this.video.currentTime !== this.#lastTime || this.video.paused || this.#timer) {
      this.#lastTime = this.video.currentTime;
      this.#lastProgressAt = now;
      return;
    }
    if (now - this.#lastProgressAt < STALL_RESTART_MS) return;
    this.#lastProgressAt = now;
    this.onError('playback stood still; restarting the player');
    this.#restartIn(this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, 5000);
  }

  #restartIn(ms: number): void {
    if (this.#timer || this.#stopped) return;
    this.hls?.destroy();
    this.hls = undefined;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#start();
    }, ms);
  }
}
