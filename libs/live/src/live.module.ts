import { Global, Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ChannelRepository } from '@gw/persistence';
import { ChannelService } from './channel.service';
import { ChannelsController } from './channels.controller';
import { LiveHooksController } from './live-hooks.controller';
import { EmbeddedOrigin } from './embedded/embedded-origin';
import { ExternalOrigin } from './external-origin';
import { LIVE_ORIGIN, LiveOrigin } from './live-origin';
import { ProgramService } from './program/program.service';

function createOrigin(config: ResolvedConfig): LiveOrigin {
  const live = config.live;
  if (live.origin.kind === 'external') {
    return new ExternalOrigin({ rtmpBase: live.origin.rtmpBase, rtmpPlayBase: live.rtmpPlayBase, playUrlBase: live.playUrlBase });
  }
  return new EmbeddedOrigin({
    bind: config.host,
    publicHost: config.publicHost,
    rtmpPort: live.embeddedRtmpPort,
    httpPort: live.embeddedHttpPort,
    playUrlBase: live.playUrlBase,
    publishGraceMs: live.publishGraceMs,
    storeDir: join(config.dataDir, 'origin'),
    logger: new Logger('Origin'),
  });
}

/** The live system: the origin adapter in use and the channels on it. */
@Global()
@Module({
  controllers: [ChannelsController, LiveHooksController],
  providers: [
    { provide: LIVE_ORIGIN, inject: [GATEWAY_CONFIG], useFactory: createOrigin },
    {
      provide: ChannelService,
      inject: [ChannelRepository, LIVE_ORIGIN, GATEWAY_CONFIG],
      useFactory: (repo: ChannelRepository, origin: LiveOrigin, config: ResolvedConfig) =>
        new ChannelService(repo, origin, config.jwtSecret, new Logger('Channels')),
    },
    {
      provide: ProgramService,
      inject: [ChannelService, GATEWAY_CONFIG],
      useFactory: (channels: ChannelService, config: ResolvedConfig) =>
        new ProgramService(channels, { ffmpegPath: config.ffmpegPath, idleGraceMs: config.live.publishGraceMs, logger: new Logger('Program') }),
    },
  ],
  exports: [LIVE_ORIGIN, ChannelService, ProgramService],
})
export class LiveModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(LIVE_ORIGIN) private readonly origin: LiveOrigin,
    @Inject(ChannelService) private readonly channels: ChannelService,
    @Inject(ProgramService) private readonly programs: ProgramService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.channels.init();
    await this.origin.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.programs.closeAll();
    await this.origin.stop();
  }
}
