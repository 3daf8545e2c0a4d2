import Hls from 'hls.js';
import type { FragmentLoaderContext, HlsConfig, Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext } from 'hls.js';
import { SwarmAgent } from './swarm-agent';

type BaseLoader = new (config: HlsConfig) => Loader<LoaderContext>;

/**
 * hls.js on the channel's plain playlist, its segments taken through the
 * viewer's swarm (seed 002) instead of straight from the origin: the fragment
 * loader asks the agent for the segment's blocks. Playlists and the init
 * segment still come from the origin. Without an agent it is plain HLS.
 */
export function startHlsPlayer(video: HTMLVideoElement, playlistUrl: string, agent: SwarmAgent | undefined, onError: (text: string) => void): Hls {
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
  const hls = new Hls({ fLoader: SwarmLoader as unknown as HlsConfig['fLoader'], lowLatencyMode: false, liveSyncDurationCount: 3, maxBufferLength: 12 });
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (!data.fatal) return;
    onError(`hls ${data.type} ${data.details}`);
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    else hls.startLoad();
  });
  hls.loadSource(playlistUrl);
  hls.attachMedia(video);
  void video.play().catch(() => undefined);
  return hls;
}
