import { Global, Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ChannelRepository } from '@gw/persistence';
import { ChannelService } from './channel.service';
import { ChannelsController } from './channels.controller';
import { HlsController } from './hls.controller';
import { LiveHooksController } from './live-hooks.controller';
import { OriginAdminController } from './origin-admin.controller';
import { EmbeddedOrigin } from './embedded/embedded-origin';
import { ExternalOrigin } from './external-origin';
import { LIVE_INGEST, LIVE_ORIGIN, LiveOrigin } from './live-origin';
import { ProgramService } from './program/program.service';
import { SrtService } from './srt/srt.service';

/** The live origin and the RTMP ingest in use (one object unless the gateway ingests beside an external origin). */
interface Origins {
  live: LiveOrigin;
  ingest: LiveOrigin;
}
const ORIGINS = Symbol('ORIGINS');

function createEmbedded(config: ResolvedConfig, playUrlBase: string, loggerName: string): EmbeddedOrigin {
  const live = config.live;
  return new EmbeddedOrigin({
    bind: config.host,
    publicHost: config.publicHost,
    rtmpPort: live.embeddedRtmpPort,
    httpPort: live.embeddedHttpPort,
    playUrlBase,
    publishGraceMs: live.publishGraceMs,
    processes: live.embeddedProcesses,
    weights: live.embeddedWeights,
    storeDir: join(config.dataDir, 'origin'),
    priority: config.onAirPriority,
    logger: new Logger(loggerName),
  });
}

function createOrigins(config: ResolvedConfig): Origins {
  const live = config.live;
  if (live.origin.kind === 'embedded') {
    const origin = createEmbedded(config, live.playUrlBase, 'Origin');
    return { live: origin, ingest: origin };
  }
  const external = new ExternalOrigin({
    rtmpBase: live.origin.rtmpBase,
    rtmpPlayBase: live.rtmpPlayBase,
    playUrlBase: live.playUrlBase,
    // Only the hooks decide by key; without them mix outputs go as given.
    ownKeySecret: live.hookSecret ? createHmac('sha256', config.jwtSecret).update('own-publish').digest('base64url') : undefined,
  });
  if (live.ingest === 'origin') return { live: external, ingest: external };
  // A stock origin (one application, no hooks) can neither take participants' pushes
  // nor tell the gateway that a host pushes: the gateway takes both on its own
  // embedded origin and publishes only programs and mix outputs to the external one.
  const ownPlayBase = `http://${config.publicHost}:${live.embeddedHttpPort}/live`;
  return { live: external, ingest: createEmbedded(config, ownPlayBase, 'IngestOrigin') };
}

/** The live system: the origin adapters in use and the channels on them. */
@Global()
@Module({
  controllers: [ChannelsController, LiveHooksController, HlsController, OriginAdminController],
  providers: [
    { provide: ORIGINS, inject: [GATEWAY_CONFIG], useFactory: createOrigins },
    { provide: LIVE_ORIGIN, inject: [ORIGINS], useFactory: (origins: Origins) => origins.live },
    { provide: LIVE_INGEST, inject: [ORIGINS], useFactory: (origins: Origins) => origins.ingest },
    {
      provide: SrtService,
      inject: [ORIGINS, GATEWAY_CONFIG],
      useFactory: (origins: Origins, config: ResolvedConfig) =>
        new SrtService(origins.ingest, { srt: config.srt, bind: config.host, publicHost: config.publicHost, ffmpegPath: config.ffmpegPath, logger: new Logger('Srt') }),
    },
    {
      provide: ChannelService,
      inject: [ChannelRepository, ORIGINS, GATEWAY_CONFIG, SrtService],
      useFactory: (repo: ChannelRepository, origins: Origins, config: ResolvedConfig, srt: SrtService) =>
        new ChannelService(repo, origins, config.jwtSecret, new Logger('Channels'), `http://${config.publicHost}:${config.port}`, srt),
    },
    {
      provide: ProgramService,
      inject: [ChannelService, GATEWAY_CONFIG],
      useFactory: (channels: ChannelService, config: ResolvedConfig) =>
        new ProgramService(channels, { ffmpegPath: config.ffmpegPath, idleGraceMs: config.live.publishGraceMs, priority: config.onAirPriority, switchLeadMs: config.programSwitchLeadMs, logger: new Logger('Program') }),
    },
  ],
  exports: [LIVE_ORIGIN, LIVE_INGEST, ChannelService, ProgramService, SrtService],
})
export class LiveModule implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly #origins: LiveOrigin[];

  constructor(
    @Inject(ORIGINS) origins: Origins,
    @Inject(ChannelService) private readonly channels: ChannelService,
    @Inject(ProgramService) private readonly programs: ProgramService,
    @Inject(SrtService) private readonly srt: SrtService,
  ) {
    this.#origins = [...new Set([origins.ingest, origins.live])];
  }

  async onApplicationBootstrap(): Promise<void> {
    this.channels.init();
    for (const origin of this.#origins) await origin.start();
    await this.srt.start();
  }

  async onApplicationShutdown(): Promise<void> {
    // SRT callers first: their remuxers push into the origins.
    await this.srt.stop();
    await this.programs.closeAll();
    await Promise.all(this.#origins.map((origin) => origin.stop()));
  }
}
