import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LineLogger } from '@gw/common';
import type { LiveOrigin } from '../live-origin';
import { PublisherRole, StreamApp } from '../origin-protocol';
import { SrtIngest } from './srt-ingest';
import { REJECT, srtPublishUrl } from './srt-packet';

export interface SrtServiceOptions {
  /** From SRT_PORT / SRT_LATENCY_MS; undefined: SRT is off. */
  srt?: { port: number; latencyMs: number };
  bind: string;
  publicHost: string;
  ffmpegPath: string;
  logger: LineLogger;
}

/** Streams an SRT publisher may push, and the roles whose keys open them (never the program's or a mix output's). */
const SRT_ROLES: Record<StreamApp, PublisherRole> = { live: 'host', ingest: 'ingest' };

/**
 * The gateway's SRT ingest (libs/live/src/srt/srt-ingest.ts) over the RTMP
 * ingest origin: a caller's stream id names a stream of the ingest (`live/<id>__host`,
 * a host's source; `ingest/<stream>`, an RTMP participant's point) and its key,
 * which the origin's key table must grant (the check an RTMP push to it meets);
 * the stream is then pushed there as RTMP. Off without SRT_PORT, or when
 * Debian's srt-live-transmit (package srt-tools) is not installed.
 */
export class SrtService {
  readonly #ingest: SrtIngest | undefined;

  constructor(
    private readonly origin: LiveOrigin,
    private readonly o: SrtServiceOptions,
  ) {
    const tool = o.srt ? findOnPath('srt-live-transmit') : undefined;
    if (o.srt && !tool) o.logger.warn('SRT ingest off: srt-live-transmit not found (Debian package srt-tools)');
    this.#ingest =
      o.srt && tool
        ? new SrtIngest({
            port: o.srt.port,
            bind: o.bind,
            srtLiveTransmitPath: tool,
            ffmpegPath: o.ffmpegPath,
            latencyMs: o.srt.latencyMs,
            logger: o.logger,
            route: ({ resource, key }) => {
              const slash = resource.indexOf('/');
              const [app, stream] = [resource.slice(0, slash), resource.slice(slash + 1)] as [StreamApp, string];
              if (slash <= 0 || !Object.hasOwn(SRT_ROLES, app) || !/^[A-Za-z0-9_-]{1,128}$/.test(stream)) return { reject: REJECT.NOT_FOUND, reason: `no stream ${resource}` };
              // One answer for a wrong key and for a stream nobody owns: a caller learns nothing by guessing.
              if (!key || origin.publishRole(app, stream, key) !== SRT_ROLES[app]) return { reject: REJECT.FORBIDDEN, reason: `key does not open ${resource}` };
              return { rtmpUrl: origin.publishUrl(app, stream, key), label: resource };
            },
          })
        : undefined;
  }

  get enabled(): boolean {
    return this.#ingest !== undefined;
  }

  /** Callers connected now (for GET /admin/origin and tests). */
  get sessions(): SrtIngest['sessions'] {
    return this.#ingest?.sessions ?? [];
  }

  /** The srt:// URL publishing to the stream with `key`, when SRT is on. */
  publishUrl(app: StreamApp, stream: string, key: string): string | undefined {
    return this.#ingest && this.o.srt ? srtPublishUrl(this.o.publicHost, this.o.srt.port, app, stream, key) : undefined;
  }

  async start(): Promise<void> {
    await this.#ingest?.start();
  }

  async stop(): Promise<void> {
    await this.#ingest?.stop();
  }
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}
