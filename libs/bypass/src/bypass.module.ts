import { Global, Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ConferenceLivePort, ConferenceService } from '@gw/conference';
import { channelRoom, Notifier } from '@gw/im';
import { ChannelService, ProgramService, RecordingService } from '@gw/live';
import { layoutSchema, MixingService } from '@gw/mixing';
import { ZodPipe } from '@gw/common';
import { SessionRepository } from '@gw/persistence';
import { BypassController } from './bypass.controller';
import { BypassService } from './bypass.service';

/** Bypass live over REST; mapping state changes go to the channel's sockets as `live:state`. */
@Global()
@Module({
  controllers: [BypassController],
  providers: [
    {
      provide: BypassService,
      inject: [ChannelService, ProgramService, ConferenceService, MixingService, Notifier, GATEWAY_CONFIG, SessionRepository, ConferenceLivePort, RecordingService],
      useFactory: (
        channels: ChannelService,
        programs: ProgramService,
        conferences: ConferenceService,
        mixing: MixingService,
        notifier: Notifier,
        config: ResolvedConfig,
        store: SessionRepository,
        livePort: ConferenceLivePort,
        recordings: RecordingService,
      ) => {
        const service = new BypassService(channels, programs, conferences, mixing, {
          idleSeconds: config.bypassIdleSeconds,
          settings: {
            video: { width: 1280, height: 720, fps: 25, bitrateKbps: 2000, gopSeconds: 1 },
            audio: { sampleRate: 48000, channels: 2, bitrateKbps: 128 },
          },
          logger: new Logger('Bypass'),
          store,
          recordings,
        });
        service.on('changed', (m) => notifier.toRoom(channelRoom(m.channelId), 'live:state', m));
        // POST /conferences {live}: the layout is checked with the mix tasks' own schema (a typed 400 when wrong).
        const layout = new ZodPipe(layoutSchema.optional());
        livePort.register((conference, request) => service.goLive(conference, { onDemand: request.onDemand, layout: layout.transform(request.layout) }));
        return service;
      },
    },
  ],
  exports: [BypassService],
})
export class BypassModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(BypassService) private readonly bypass: BypassService) {}

  /** After every module's init, so the conferences are restored first. */
  onApplicationBootstrap(): void {
    this.bypass.restore();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bypass.closeAll();
  }
}
