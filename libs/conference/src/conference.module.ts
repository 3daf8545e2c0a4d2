import { Global, Inject, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { NodeRpc } from '@gw/im';
import { LIVE_INGEST, LiveOrigin } from '@gw/live';
import { ConferenceRepository } from '@gw/persistence';
import { WorkerPool } from '@gw/sfu';
import { TurnService } from '@gw/turn';
import { ConferenceLivePort } from './conference-live';
import { ConferenceSpans } from './conference-span';
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
      inject: [WorkerPool, GATEWAY_CONFIG, ConferenceRepository, TurnService],
      useFactory: (pool: WorkerPool, config: ResolvedConfig, store: ConferenceRepository, turn: TurnService) =>
        new ConferenceService(pool, {
          rtc: {
            listenIp: config.rtc.listenIp,
            announcedIp: config.rtc.announcedIp,
            pipeAnnouncedIp: config.rtc.pipeAnnouncedIp,
            relayedClientProtocol: (ip, port) => turn.relayedClientProtocol(ip, port),
          },
          idleSeconds: config.conferenceIdleSeconds,
          logger: new Logger('Conference'),
          store,
        }),
    },
    {
      provide: IngestService,
      // Participants push to the RTMP ingest: the gateway's own unless LIVE_INGEST=origin.
      inject: [ConferenceService, LIVE_INGEST, GATEWAY_CONFIG, ConferenceRepository],
      useFactory: (conferences: ConferenceService, origin: LiveOrigin, config: ResolvedConfig, store: ConferenceRepository) =>
        new IngestService(conferences, origin, config.ffmpegPath, new Logger('Ingest'), store),
    },
    {
      provide: ConferenceSpans,
      // Cluster mode: a conference joined on another node than its own is bridged there (conference-span.ts).
      inject: [ConferenceService, NodeRpc, GATEWAY_CONFIG],
      useFactory: (conferences: ConferenceService, rpc: NodeRpc, config: ResolvedConfig) => {
        const spans = new ConferenceSpans(conferences, rpc, config.cluster?.nodeId ?? `local:${config.port}`, new Logger('Cluster'));
        if (config.cluster) spans.enable();
        return spans;
      },
    },
    MediaGateway,
    ConferenceLivePort,
  ],
  exports: [ConferenceService, IngestService, ConferenceLivePort, ConferenceSpans],
})
export class ConferenceModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(ConferenceService) private readonly conferences: ConferenceService,
    @Inject(IngestService) private readonly ingest: IngestService,
  ) {}

  /** After a restart: the saved conferences and their RTMP push points are back before anything is served. */
  async onModuleInit(): Promise<void> {
    await this.conferences.restore();
    this.ingest.restore();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.ingest.closeAll();
    this.conferences.closeAll('shutdown');
  }
}
