import { Inject, Logger, MiddlewareConsumer, Module, NestModule, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ChannelService, ProgramService } from '@gw/live';
import { WorkerPool } from '@gw/sfu';
import { WhepController, whepHttp } from './whep.controller';
import { WhepService } from './whep.service';

/** WHEP playback of channels' programs: viewing rooms on the SFU, sessions over REST. */
@Module({
  controllers: [WhepController],
  providers: [
    {
      provide: WhepService,
      inject: [WorkerPool, ProgramService, ChannelService, GATEWAY_CONFIG],
      useFactory: (pool: WorkerPool, programs: ProgramService, channels: ChannelService, config: ResolvedConfig) =>
        new WhepService(pool, programs, channels, {
          rtc: { listenIp: config.rtc.listenIp, announcedIp: config.rtc.announcedIp },
          ffmpegPath: config.ffmpegPath,
          logger: new Logger('Whep'),
        }),
    },
  ],
  exports: [WhepService],
})
export class WhepModule implements NestModule, OnApplicationShutdown {
  constructor(@Inject(WhepService) private readonly whep: WhepService) {}

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(whepHttp).forRoutes(WhepController);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.whep.closeAll();
  }
}
