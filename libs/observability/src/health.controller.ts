import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { LIVE_INGEST, LIVE_ORIGIN, LiveOrigin } from '@gw/live';
import { WorkerPool } from '@gw/sfu';
import { MetricsService } from './metrics.service';

/** Liveness and metrics, public and unversioned as well as under /api/v1. */
@ApiTags('ops')
@Controller()
export class HealthController {
  constructor(
    @Inject(WorkerPool) private readonly pool: WorkerPool,
    @Inject(LIVE_ORIGIN) private readonly origin: LiveOrigin,
    @Inject(LIVE_INGEST) private readonly ingest: LiveOrigin,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @Get('healthz')
  @Header('cache-control', 'no-store')
  health(@Res() res: Response) {
    const workers = this.pool.workers.length;
    // The gateway's own RTMP ingest beside an external origin counts too: without it no host goes on air.
    const ownIngest = this.ingest !== this.origin ? this.ingest : undefined;
    const ok = workers > 0 && this.origin.up && (ownIngest?.up ?? true);
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'degraded',
      sfu: { workers, expected: this.pool.slots.length },
      liveOrigin: { kind: this.origin.kind, up: this.origin.up },
      ...(ownIngest ? { rtmpIngest: { kind: ownIngest.kind, up: ownIngest.up } } : {}),
    });
  }

  @Get('metrics')
  async render(@Res() res: Response) {
    const { contentType, body } = await this.metrics.render();
    res.setHeader('content-type', contentType);
    res.send(body);
  }
}
