import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ConferenceService } from '@gw/conference';
import { channelRoom, Notifier } from '@gw/im';
import { ChannelService, ProgramService } from '@gw/live';
import { MixingService } from '@gw/mixing';
import { CohostGateway } from './cohost.gateway';
import { CohostService } from './cohost.service';

/** The co-host manager over sockets; tells everyone in a session about channel state changes. */
@Global()
@Module({
  providers: [
    {
      provide: CohostService,
      inject: [ChannelService, ConferenceService, MixingService, ProgramService, Notifier, GATEWAY_CONFIG],
      useFactory: (channels: ChannelService, conferences: ConferenceService, mixing: MixingService, programs: ProgramService, notifier: Notifier, config: ResolvedConfig) => {
        channels.on('stateChanged', (e) => notifier.toRoom(channelRoom(e.channelId), 'channel:state', e));
        return new CohostService(channels, conferences, mixing, programs, (userId, event, payload) => notifier.toUser(userId, event, payload), {
          ...config.cohost,
          logger: new Logger('Cohost'),
        });
      },
    },
    CohostGateway,
  ],
  exports: [CohostService],
})
export class CohostModule implements OnApplicationShutdown {
  constructor(@Inject(CohostService) private readonly cohost: CohostService) {}

  async onApplicationShutdown(): Promise<void> {
    await this.cohost.closeAll();
  }
}
