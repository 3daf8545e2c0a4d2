import { Module } from '@nestjs/common';
import { ConferenceService } from '@gw/conference';
import { ChannelService, LIVE_ORIGIN, LiveOrigin, ProgramService } from '@gw/live';
import { WorkerPool } from '@gw/sfu';
import { HealthController } from './health.controller';
import { MetricsService } from './metrics.service';

@Module({
  controllers: [HealthController],
  providers: [
    {
      provide: MetricsService,
      inject: [WorkerPool, ChannelService, LIVE_ORIGIN, ConferenceService, ProgramService],
      useFactory: (pool: WorkerPool, channels: ChannelService, origin: LiveOrigin, conferences: ConferenceService, programs: ProgramService) =>
        new MetricsService(pool, channels, origin, conferences, programs),
    },
  ],
})
export class ObservabilityModule {}
