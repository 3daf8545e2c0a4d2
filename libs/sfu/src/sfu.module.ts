import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { SfuController } from './sfu.controller';
import { WorkerPool } from './worker-pool';

/** Starts the mediasoup workers before the app listens, and ends them on shutdown. */
@Global()
@Module({
  controllers: [SfuController],
  providers: [
    {
      provide: WorkerPool,
      inject: [GATEWAY_CONFIG],
      useFactory: (config: ResolvedConfig) =>
        WorkerPool.create({
          count: config.rtc.workers,
          rtcMinPort: config.rtc.minPort,
          rtcMaxPort: config.rtc.maxPort,
          weights: config.rtc.workerWeights,
          maxLoadPerWeight: config.rtc.maxLoadPerWeight,
          logger: new Logger('Sfu'),
        }),
    },
  ],
  exports: [WorkerPool],
})
export class SfuModule implements OnApplicationShutdown {
  constructor(@Inject(WorkerPool) private readonly pool: WorkerPool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pool.close();
  }
}
