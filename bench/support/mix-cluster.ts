import { removeDir, RunningGateway, startGateway } from './gateway';
import { RunningNginx, startNginxRtmp } from './nginx';
import { PictureProbe, ProbeTile } from './picture-probe';
import { waitFor } from './processes';
import { TestRedis } from './redis';
import { pushCounted, stopChild } from './sources';
import type { ChildProcess } from 'node:child_process';

export const MIX_W = 640;
export const MIX_H = 360;
export const MIX_FPS = 15;
const RED: [number, number, number] = [255, 0, 0];
const BLUE: [number, number, number] = [0, 0, 255];

/**
 * Three built gateways on one redis-server, each on its own loopback address
 * (127.0.0.2–4), with Debian's nginx-rtmp as every node's origin. Node n1
 * holds the conferences but has no room for a mix (NODE_CPU_BUDGET 0.1);
 * n2 and n3 each hold two 2-party 640x360@15 mixes (0.9 cores, 0.4 a mix).
 * The participants are two RTMP pushes on n1 (red + 440 Hz, blue + 1 kHz,
 * frame counters burned in). For test/cluster-mix and the cluster bench.
 */
export class MixCluster {
  readonly nodes = new Map<string, RunningGateway>();
  readonly #pushes: ChildProcess[] = [];
  readonly #probes: PictureProbe[] = [];
  readonly #envs = new Map<string, { host: string; env: Record<string, string> }>();

  private constructor(
    readonly redis: TestRedis,
    readonly nginx: RunningNginx,
  ) {}

  static async start(): Promise<MixCluster> {
    const redis = await TestRedis.start();
    let nginx: RunningNginx;
    try {
      nginx = await startNginxRtmp();
    } catch (error) {
      await redis.stop();
      removeDir(redis.dir);
      throw error;
    }
    const cluster = new MixCluster(redis, nginx);
    try {
      const budgets: [string, string][] = [['n1', '0.1'], ['n2', '0.9'], ['n3', '0.9']];
      for (const [i, [id, budget]] of budgets.entries()) {
        const mixPorts = 51000 + Math.floor(Math.random() * 40) * 100;
        cluster.#envs.set(id, {
          host: `127.0.0.${i + 2}`,
          env: {
            REDIS_URL: redis.url,
            JWT_SECRET: 'mix-cluster-jwt-secret-0123456789abcdef',
            SFU_WORKERS: '1',
            EMBEDDED_ORIGIN_PROCESSES: '1',
            LIVE_ORIGIN: nginx.liveBase,
            CONFERENCE_IDLE_SECONDS: '5',
            LOG_LEVEL: process.env.MIX_CLUSTER_LOG ?? 'log',
            NODE_ID: id,
            NODE_CPU_BUDGET: budget,
            MIX_RTP_MIN_PORT: String(mixPorts),
            MIX_RTP_MAX_PORT: String(mixPorts + 99),
          },
        });
        await cluster.startNode(id);
      }
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  node(id: string): RunningGateway {
    const gw = this.nodes.get(id);
    if (!gw) throw new Error(`node ${id} is not running`);
    return gw;
  }

  /** Starts (or starts again, after a kill) node `id` with its own address and environment. */
  async startNode(id: string): Promise<RunningGateway> {
    const { host, env } = this.#envs.get(id)!;
    const gw = await startGateway({ host, env });
    this.nodes.set(id, gw);
    return gw;
  }

  /** SIGKILLs node `id` (its orphaned children are ended by stop()); resolves the time of the kill. */
  async kill(id: string): Promise<number> {
    const gw = this.node(id);
    this.nodes.delete(id);
    const killedAt = Date.now();
    await gw.stop('SIGKILL').catch((error: Error) => {
      if (!/left processes behind/.test(error.message)) throw error;
    });
    removeDir(gw.dataDir);
    return killedAt;
  }

  /** A conference on n1 with the two pushes in it, audio and video. */
  async conference(title: string): Promise<string> {
    const n1 = this.node('n1');
    const conferenceId = (await n1.admin('POST', '/api/v1/conferences', { title })).body.id as string;
    for (const [userId, color, toneHz] of [['red', '0xff0000', 440], ['blue', '0x0000ff', 1000]] as const) {
      const ingest = await n1.admin('POST', `/api/v1/conferences/${conferenceId}/ingest`, { userId });
      if (ingest.status !== 201) throw new Error(`ingest for ${userId}: ${ingest.status} ${JSON.stringify(ingest.body)}`);
      this.#pushes.push(pushCounted(ingest.body.url, { color, toneHz, fps: 25, seconds: 600 }));
    }
    await waitFor('both pushes in the conference', async () => {
      const { body } = await n1.admin('GET', `/api/v1/conferences/${conferenceId}`);
      return body.participants?.filter((p: { video: boolean; audio: boolean }) => p.video && p.audio).length === 2 ? true : undefined;
    }, 20000);
    return conferenceId;
  }

  /** Asks `via` for a 2-party grid mix of the conference to nginx's `live/<stream>`. */
  askMix(via: RunningGateway, conferenceId: string, stream: string) {
    return via.admin('POST', '/api/v1/mix-tasks', {
      conferenceId,
      outputs: [{ url: this.streamUrl(stream) }],
      layout: { mode: 'grid' },
      video: { width: MIX_W, height: MIX_H, fps: MIX_FPS, bitrateKbps: 500, gopSeconds: 1 },
      audio: { sampleRate: 48000, channels: 2, bitrateKbps: 64 },
    });
  }

  streamUrl(stream: string): string {
    return `${this.nginx.liveBase}/${stream}`;
  }

  /** The mix's cells as it placed them (its view, asked of n1), once it shows both. */
  async tilesOf(mixId: string): Promise<ProbeTile[]> {
    const view = await waitFor('the mix placing both', async () => {
      const { body } = await this.node('n1').admin('GET', `/api/v1/mix-tasks/${mixId}`);
      return body.layout?.cells?.length === 2 ? body : undefined;
    }, 20000);
    return tilesOfCells(view.layout.cells);
  }

  /** A reader of the stream on nginx (ffmpeg reading RTMP), judging each picture by `tiles`. */
  watch(stream: string, tiles: ProbeTile[]): PictureProbe {
    const probe = PictureProbe.direct(this.streamUrl(stream), { width: MIX_W, height: MIX_H, tiles });
    this.#probes.push(probe);
    return probe;
  }

  async stop(): Promise<void> {
    for (const p of this.#probes.splice(0)) p.close();
    for (const p of this.#pushes.splice(0)) await stopChild(p);
    for (const gw of this.nodes.values()) {
      await gw.stop().catch(() => undefined);
      removeDir(gw.dataDir);
    }
    this.nodes.clear();
    await this.nginx.stop();
    await this.redis.stop();
    removeDir(this.redis.dir);
  }
}

/** Probe tiles for a 2-party mix's cells: red's and blue's pictures where the mix put them. */
export function tilesOfCells(cells: { userId: string; x: number; y: number; width: number; height: number }[]): ProbeTile[] {
  return cells.map((c) => ({ id: c.userId, cell: { x: c.x, y: c.y, width: c.width, height: c.height }, color: c.userId === 'red' ? RED : BLUE }));
}
