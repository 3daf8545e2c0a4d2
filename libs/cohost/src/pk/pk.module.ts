import { Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ConferenceService, IngestService } from '@gw/conference';
import { Notifier } from '@gw/im';
import { ChannelService, ProgramService } from '@gw/live';
import { MixingService } from '@gw/mixing';
import { SessionRepository } from '@gw/persistence';
import { CohostService } from '../cohost.service';
import { PkController } from './pk.controller';
import { PkGateway } from './pk.gateway';
import { PkService } from './pk.service';

/** PK between two channels' hosts, over sockets and the score route; the co-host module tells who hosts a channel. */
@Module({
  controllers: [PkController],
  providers: [
    {
      provide: PkService,
      inject: [ChannelService, ConferenceService, MixingService, ProgramService, Notifier, GATEWAY_CONFIG, SessionRepository, IngestService, CohostService],
      useFactory: (
        channels: ChannelService,
        conferences: ConferenceService,
        mixing: MixingService,
        programs: ProgramService,
        notifier: Notifier,
        config: ResolvedConfig,
        store: SessionRepository,
        ingest: IngestService,
        cohost: CohostService,
      ) =>
        new PkService(
          channels,
          conferences,
          mixing,
          programs,
          (channelId) => {
            const desk = cohost.desks().find((d) => d.channelId === channelId);
            return desk && { hostUserId: desk.hostUserId, cohosting: desk.session !== undefined };
          },
          (userId, event, payload) => notifier.toUser(userId, event, payload),
          { inviteTtlSeconds: config.cohost.inviteTtlSeconds, graceSeconds: config.cohost.graceSeconds, logger: new Logger('PK'), store, ingest, cohost },
        ),
    },
    PkGateway,
  ],
  exports: [PkService],
})
export class PkModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(PkService) private readonly pk: PkService) {}

  /** After every module's init, so the conferences are restored first. */
  onApplicationBootstrap(): void {
    this.pk.restore();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pk.closeAll();
  }
}
