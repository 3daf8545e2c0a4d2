import { Controller, Get, Inject } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Allow } from '@gw/auth';
import { WorkerPool } from './worker-pool';

/** Operator view of the SFU: each worker's load and what mediasoup itself holds. */
@ApiTags('ops')
@ApiSecurity('admin')
@Controller('admin/sfu')
export class SfuController {
  constructor(@Inject(WorkerPool) private readonly pool: WorkerPool) {}

  @Get()
  @Allow('admin')
  async workers() {
    return Promise.all(
      this.pool.slots.map(async (slot) => {
        const worker = slot.worker;
        const dump = worker && !worker.closed ? await worker.dump().catch(() => undefined) : undefined;
        return {
          slot: slot.index,
          pid: worker?.pid ?? null,
          weight: slot.weight,
          load: slot.load,
          capacity: slot.weight * this.pool.maxLoadPerWeight,
          deaths: slot.deaths,
          routers: dump?.routerIds.length ?? 0,
        };
      }),
    );
  }
}
