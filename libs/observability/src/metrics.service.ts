import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { SupervisedProcess } from '@gw/common';
import { ChannelService, LiveOrigin } from '@gw/live';
import { WorkerPool } from '@gw/sfu';

/**
 * Prometheus metrics, gathered at scrape time from their owners (no polling
 * loop): mediasoup workers and their CPU, channels by state, the origin.
 */
export class MetricsService {
  readonly registry = new Registry();

  constructor(pool: WorkerPool, channels: ChannelService, origin: LiveOrigin) {
    const registers = [this.registry];
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
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
