import { Global, Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ConferenceService, IngestService } from '@gw/conference';
import { channelHostRoom, channelRoom, Notifier } from '@gw/im';
import { ChannelService, ProgramService, RecordingService } from '@gw/live';
import { MixingService } from '@gw/mixing';
import { SessionRepository } from '@gw/persistence';
import { CohostController } from './cohost.controller';
import { CohostGateway } from './cohost.gateway';
import { CohostService } from './cohost.service';

/** The co-host manager over sockets; tells everyone in a session about channel state changes. */
@Global()
@Module({
  controllers: [CohostController],
  providers: [
    {
      provide: CohostService,
      inject: [ChannelService, ConferenceService, MixingService, ProgramService, Notifier, GATEWAY_CONFIG, SessionRepository, IngestService, RecordingService],
      useFactory: (
        channels: ChannelService,
        conferences: ConferenceService,
        mixing: MixingService,
        programs: ProgramService,
        notifier: Notifier,
        config: ResolvedConfig,
        store: SessionRepository,
        ingest: IngestService,
        recordings: RecordingService,
      ) => {
        channels.on('stateChanged', (e) => notifier.toRoom(channelRoom(e.channelId), 'channel:state', e));
        // Extension (issue 17): the host hears its own uplink's score as its push arrives.
        programs.on('hostUplink', (e) => notifier.toRoom(channelHostRoom(e.channelId), 'channel:uplink', e));
        return new CohostService(channels, conferences, mixing, programs, (userId, event, payload) => notifier.toUser(userId, event, payload), {
          ...config.cohost,
          logger: new Logger('Cohost'),
          store,
          ingest,
          recordings,
        });
      },
    },
    CohostGateway,
  ],
  exports: [CohostService],
})
export class CohostModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(CohostService) private readonly cohost: CohostService) {}

  /** After every module's init, so the conferences are restored first. */
  onApplicationBootstrap(): void {
    this.cohost.restore();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.cohost.closeAll();
  }
}
