import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ConferenceService } from '@gw/conference';
import { NodeRpc, Notifier } from '@gw/im';
import { LIVE_ORIGIN, LiveOrigin } from '@gw/live';
import { MixTasksController } from './mix-tasks.controller';
import { MixPlacement } from './mix-placement';
import { MixingService } from './mixing.service';

/** The mixing coordinator: REST for mix tasks, state pushed to the conference host. */
@Global()
@Module({
  controllers: [MixTasksController],
  providers: [
    {
      provide: MixingService,
      inject: [ConferenceService, GATEWAY_CONFIG, Notifier, LIVE_ORIGIN],
      useFactory: (conferences: ConferenceService, config: ResolvedConfig, notifier: Notifier, origin: LiveOrigin) => {
        const service = new MixingService(conferences, {
          ffmpegPath: config.ffmpegPath,
          cpuBudget: config.cpuBudget,
          outputAllow: config.mixOutputAllow,
          // Outputs to the live origin pass its publish hooks with the gateway's own key.
          publishUrl: (url) => origin.ownPublishUrl(url),
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
    {
      provide: MixPlacement,
      // Cluster mode: attached to Redis and the node registry by the cluster module (mix-placement.ts).
      inject: [MixingService, ConferenceService, NodeRpc, GATEWAY_CONFIG],
      useFactory: (mixing: MixingService, conferences: ConferenceService, rpc: NodeRpc, config: ResolvedConfig) =>
        new MixPlacement(mixing, conferences, rpc, config.cluster?.nodeId ?? `local:${config.port}`, new Logger('Mixing')),
    },
  ],
  exports: [MixingService, MixPlacement],
})
export class MixingModule implements OnApplicationShutdown {
  constructor(
    @Inject(MixingService) private readonly mixing: MixingService,
    @Inject(MixPlacement) private readonly placement: MixPlacement,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    // No more take-overs from here first: this node's mixes stay recorded, and the nodes left move them.
    this.placement.stop();
    await this.mixing.stopAll();
  }
}
