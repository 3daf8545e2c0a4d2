import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ConferenceService } from '@gw/conference';
import { Notifier } from '@gw/im';
import { MixTasksController } from './mix-tasks.controller';
import { MixingService } from './mixing.service';

/** The mixing coordinator: REST for mix tasks, state pushed to the conference host. */
@Global()
@Module({
  controllers: [MixTasksController],
  providers: [
    {
      provide: MixingService,
      inject: [ConferenceService, GATEWAY_CONFIG, Notifier],
      useFactory: (conferences: ConferenceService, config: ResolvedConfig, notifier: Notifier) => {
        const service = new MixingService(conferences, {
          ffmpegPath: config.ffmpegPath,
          outputAllow: config.mixOutputAllow,
          rtpPorts: config.mixRtpPorts,
          webhookUrl: config.mixWebhookUrl,
          audioDelayMs: config.mixAudioDelayMs,
          logger: new Logger('Mixing'),
        });
        service.on('state', (change) => {
          const host = conferences.find(change.conferenceId)?.hostUserId;
          if (host) notifier.toUser(host, 'mix:state', change);
        });
        return service;
      },
    },
  ],
  exports: [MixingService],
})
export class MixingModule implements OnApplicationShutdown {
  constructor(@Inject(MixingService) private readonly mixing: MixingService) {}

  async onApplicationShutdown(): Promise<void> {
    await this.mixing.stopAll();
  }
}
