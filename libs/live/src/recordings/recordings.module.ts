import { BeforeApplicationShutdown, Global, Inject, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { join } from 'node:path';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { RecordingRepository } from '@gw/persistence';
import { ChannelService } from '../channel.service';
import { ProgramService } from '../program/program.service';
import { RecordingsController } from './recordings.controller';
import { RecordingService } from './recording.service';

/** Recordings of channel programs and mix outputs (DATA_DIR/recordings). */
@Global()
@Module({
  controllers: [RecordingsController],
  providers: [
    {
      provide: RecordingService,
      inject: [RecordingRepository, ChannelService, ProgramService, GATEWAY_CONFIG],
      useFactory: (repo: RecordingRepository, channels: ChannelService, programs: ProgramService, config: ResolvedConfig) =>
        new RecordingService(repo, channels, programs, {
          dir: join(config.dataDir, 'recordings'),
          minFreeBytes: config.recordings.minFreeBytes,
          ffmpegPath: config.ffmpegPath,
          logger: new Logger('Recordings'),
        }),
    },
  ],
  exports: [RecordingService],
})
export class RecordingsModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(RecordingService) private readonly recordings: RecordingService) {}

  onApplicationBootstrap(): void {
    this.recordings.recover();
  }

  /** Before the programs stop: running recordings are closed whole (as interrupted). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.recordings.closeAll();
  }
}
