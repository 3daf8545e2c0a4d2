import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { SupervisedProcess } from '@gw/common';
import { ChannelService, LiveOrigin } from '@gw/live';
import { WorkerPool } from '@gw/sfu';
import { countByPath, MediaPath } from '@gw/turn';

/** Where the hosts' uplink scores come from (the channel programs). */
export interface UplinkSource {
  hostUplinks(): { channelId: string; quality: { score: number } }[];
}

/** What the producer byte counters read: each conference's participants and their mediasoup producers. */
export interface ProducerSource {
  list(): {
    id: string;
    participants: { userId: string; path?: { path: MediaPath }; quality?: { current?: { score: number } }; producers: Map<string, { id: string; kind: string; closed: boolean; getStats(): Promise<{ byteCount: number }[]> }> }[];
  }[];
}

/**
 * Prometheus metrics, gathered at scrape time from their owners (no polling
 * loop): mediasoup workers and their CPU, channels by state, the origin, and
 * the RTP bytes each participant's producers received.
 */
export class MetricsService {
  readonly registry = new Registry();

  constructor(pool: WorkerPool, channels: ChannelService, origin: LiveOrigin, conferences?: ProducerSource, uplinks?: UplinkSource) {
    const registers = [this.registry];
    if (uplinks) {
      // Extension: the score of each pushing host's uplink, as its push arrives (libs/live/src/program/uplink-meter.ts).
      new Gauge({
        name: 'gateway_host_uplink_quality_score',
        help: "Each pushing host's uplink quality score, 0-100 (frame rate against the push's own, arrival jitter, stalls), by channel",
        labelNames: ['channel'],
        registers,
        collect() {
          this.reset();
          for (const { channelId, quality } of uplinks.hostUplinks()) this.set({ channel: channelId }, quality.score);
        },
      });
    }
    // Process figures (heap, RSS, event-loop lag, active handles) for leak and soak checks.
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'gateway_child_processes',
      help: 'Child processes the gateway supervises right now (ffmpeg, origin)',
      registers,
      collect() {
        this.set(SupervisedProcess.runningCount);
      },
    });
    new Gauge({
      name: 'gateway_sfu_workers',
      help: 'Running mediasoup workers',
      registers,
      collect() {
        this.set(pool.workers.length);
      },
    });
    new Gauge({
      name: 'gateway_sfu_worker_deaths',
      help: 'mediasoup worker deaths since start, by slot',
      labelNames: ['slot'],
      registers,
      collect() {
        for (const slot of pool.slots) this.set({ slot: String(slot.index) }, slot.deaths);
      },
    });
    new Gauge({
      name: 'gateway_sfu_worker_cpu_seconds',
      help: 'CPU seconds (user+system) used by each mediasoup worker',
      labelNames: ['slot', 'pid'],
      registers,
      async collect() {
        this.reset();
        for (const row of await pool.cpuUsage()) this.set({ slot: String(row.slot), pid: String(row.pid) }, row.cpuSeconds);
      },
    });
    new Gauge({
      name: 'gateway_channels',
      help: 'Channels by state',
      labelNames: ['state'],
      registers,
      collect() {
        for (const [state, count] of Object.entries(channels.countByState())) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'gateway_live_origin_up',
      help: '1 when the live origin accepts publishers',
      registers,
      collect() {
        this.set(origin.up ? 1 : 0);
      },
    });
    if (conferences) {
      // Extension: the connectivity ladder, how many participants' media takes each rung right now.
      new Gauge({
        name: 'gateway_participants_by_path',
        help: 'WebRTC participants by the ladder rung their media takes (p2p, sfu-udp, sfu-tcp, turn-udp, turn-tcp, turn-tls)',
        labelNames: ['path'],
        registers,
        collect() {
          const paths = conferences.list().flatMap((c) => c.participants.map((p) => p.path?.path));
          for (const [path, count] of Object.entries(countByPath(paths))) this.set({ path }, count);
        },
      });
      // Extension: a producer object exists as soon as a participant is set up again
      // (after a worker died, say), before any RTP arrives; this counter shows media
      // actually flowing in. It only grows for a producer; a new producer (new id)
      // starts again from 0, and a closed one disappears.
      new Gauge({
        name: 'gateway_producer_rtp_bytes',
        help: 'RTP bytes received by each participant producer in mediasoup (its streams summed), by conference, user, kind and producer id',
        labelNames: ['conference', 'user', 'kind', 'producer'],
        registers,
        async collect() {
          this.reset();
          const reads: Promise<void>[] = [];
          for (const conference of conferences.list()) {
            for (const participant of conference.participants) {
              for (const producer of participant.producers.values()) {
                if (producer.closed) continue;
                const labels = { conference: conference.id, user: participant.userId, kind: producer.kind, producer: producer.id };
                reads.push(
                  producer.getStats().then(
                    (stats) => this.set(labels, stats.reduce((sum, s) => sum + (s.byteCount ?? 0), 0)),
                    // Closed while we asked (its worker died, the participant left): not there any more.
                    () => undefined,
                  ),
                );
              }
            }
          }
          await Promise.all(reads);
        },
      });
      // Extension: each sender's uplink quality score (0-100; libs/conference/src/quality.ts).
      new Gauge({
        name: 'gateway_participant_quality_score',
        help: "Each participant's uplink quality score, 0-100 (loss, RTT, jitter, frame rate, bandwidth headroom), by conference and user",
        labelNames: ['conference', 'user'],
        registers,
        collect() {
          this.reset();
          for (const conference of conferences.list()) {
            for (const participant of conference.participants) {
              const quality = participant.quality?.current;
              if (quality) this.set({ conference: conference.id, user: participant.userId }, quality.score);
            }
          }
        },
      });
    }
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
