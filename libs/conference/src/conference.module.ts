import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { LIVE_ORIGIN, LiveOrigin } from '@gw/live';
import { WorkerPool } from '@gw/sfu';
import { ConferenceService } from './conference.service';
import { ConferencesController } from './conferences.controller';
import { IngestService } from './ingest/ingest.service';
import { MediaGateway } from './media.gateway';

/** Conference control (会控) and media access: REST, media signalling, RTMP ingest. */
@Global()
@Module({
  controllers: [ConferencesController],
  providers: [
    {
      provide: ConferenceService,
      inject: [WorkerPool, GATEWAY_CONFIG],
      useFactory: (pool: WorkerPool, config: ResolvedConfig) =>
        new ConferenceService(pool, {
          rtc: { listenIp: config.rtc.listenIp, announcedIp: config.rtc.announcedIp },
          idleSeconds: config.conferenceIdleSeconds,
          logger: new Logger('Conference'),
        }),
    },
    {
      provide: IngestService,
      inject: [ConferenceService, LIVE_ORIGIN, GATEWAY_CONFIG],
      useFactory: (conferences: ConferenceService, origin: LiveOrigin, config: ResolvedConfig) =>
        new IngestService(conferences, origin, config.ffmpegPath, new Logger('Ingest')),
    },
    MediaGateway,
  ],
  exports: [ConferenceService, IngestService],
})
export class ConferenceModule implements OnApplicationShutdown {
  constructor(
    @Inject(ConferenceService) private readonly conferences: ConferenceService,
    @Inject(IngestService) private readonly ingest: IngestService,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.ingest.closeAll();
    this.conferences.closeAll('shutdown');
  }
}
