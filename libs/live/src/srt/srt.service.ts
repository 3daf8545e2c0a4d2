import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LineLogger } from '@gw/common';
import type { LiveOrigin } from '../live-origin';
import { PublisherRole, StreamApp } from '../origin-protocol';
import { REORDER_TOLERANCE_PACKETS, SrtIngest } from './srt-ingest';
import { formatStreamId, REJECT, srtPublishUrl } from './srt-packet';
import { SrtlaReceiver } from './srtla-receiver';

export interface SrtServiceOptions {
  /** From SRT_PORT / SRT_LATENCY_MS / SRTLA_PORT; undefined: SRT is off. */
  srt?: { port: number; latencyMs: number; srtlaPort?: number };
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
/** One path of a host's uplink as `GET /channels/:id/uplink` shows it. */
export interface UplinkPath {
  address: string;
  sharePct: number;
  lossPct?: number;
  rttMs?: number;
  kbps?: number;
  /** The path only repeats packets other paths carry (redundancy for a path too weak for a share). */
  fecOnly: boolean;
}

export class SrtService {
  readonly #ingest: SrtIngest | undefined;
  readonly #srtla: SrtlaReceiver | undefined;

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
            // Reordering is expected only of a bonded caller (our SRTLA receiver's).
            reorderTolerance: (caller) => (this.#srtla?.isGroup(caller) ? REORDER_TOLERANCE_PACKETS : 0),
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
    // The SRTLA receiver gathers a bonding sender's links into one SRT caller of the ingest above.
    this.#srtla =
      this.#ingest && o.srt?.srtlaPort
        ? new SrtlaReceiver({
            port: o.srt.srtlaPort,
            bind: o.bind,
            srt: { host: o.bind === '0.0.0.0' ? '127.0.0.1' : o.bind, port: o.srt.port },
            logger: o.logger,
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

  /** Where a bonding sender sends the stream with `key` (SRTLA), when SRTLA is on. */
  srtla(app: StreamApp, stream: string, key: string): { host: string; port: number; streamId: string } | undefined {
    return this.#srtla && this.o.srt?.srtlaPort ? { host: this.o.publicHost, port: this.o.srt.srtlaPort, streamId: formatStreamId(app, stream, key) } : undefined;
  }

  /**
   * The paths the stream `app/stream` arrives over now: a bonding sender's
   * links (SRTLA), one path for a plain SRT caller, none for an RTMP push (or
   * nothing at all).
   */
  uplink(app: StreamApp, stream: string): UplinkPath[] {
    const session = this.sessions.find((s) => s.state === 'pushing' && s.label === `${app}/${stream}`);
    if (!session) return [];
    const group = this.#srtla?.groups().find((g) => g.srtSource === session.caller);
    if (!group) return [{ address: session.caller.replace(/:\d+$/, ''), sharePct: 100, fecOnly: false }];
    return group.links.map((link) => ({
      address: link.address,
      sharePct: link.sharePct,
      ...(link.lossPct !== undefined ? { lossPct: link.lossPct } : {}),
      ...(link.reported.rttMs !== undefined ? { rttMs: link.reported.rttMs } : {}),
      kbps: link.kbps,
      // Nearly everything it brought had come another way: redundancy only.
      fecOnly: link.kbps > 0 && link.duplicatePct >= 80,
    }));
  }

  async start(): Promise<void> {
    await this.#ingest?.start();
    await this.#srtla?.start();
  }

  async stop(): Promise<void> {
    await this.#srtla?.stop();
    await this.#ingest?.stop();
  }
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}
