import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ChannelService } from '@gw/live';
import { SwarmController } from './swarm.controller';
import { SwarmGateway } from './swarm.gateway';
import { SwarmService } from './swarm.service';

/** Viewers sharing the stream (seed 002): the tracker, its socket events and the origin's block routes. */
@Module({
  controllers: [SwarmController],
  providers: [
    {
      provide: SwarmService,
      inject: [GATEWAY_CONFIG, ChannelService],
      useFactory: (config: ResolvedConfig, channels: ChannelService) => new SwarmService(config.p2p, (id) => channels.p2pSettings(id)),
    },
    SwarmGateway,
  ],
  exports: [SwarmService],
})
export class SwarmModule implements OnApplicationShutdown {
  constructor(@Inject(SwarmService) private readonly swarms: SwarmService) {}

  onApplicationShutdown(): void {
    this.swarms.clear();
  }
}
