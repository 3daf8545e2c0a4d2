import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ChannelRepository } from './channel.repository';
import { ConferenceRepository } from './conference.repository';
import { Database } from './database';
import { RecordingRepository } from './recording.repository';
import { SessionRepository } from './session.repository';

/** Opens DATA_DIR/gateway.db once and provides the repositories over it. */
@Global()
@Module({
  providers: [
    {
      provide: Database,
      inject: [GATEWAY_CONFIG],
      useFactory: (config: ResolvedConfig) => new Database(join(config.dataDir, 'gateway.db')),
    },
    { provide: ChannelRepository, inject: [Database], useFactory: (db: Database) => new ChannelRepository(db) },
    { provide: ConferenceRepository, inject: [Database], useFactory: (db: Database) => new ConferenceRepository(db) },
    { provide: SessionRepository, inject: [Database], useFactory: (db: Database) => new SessionRepository(db) },
    { provide: RecordingRepository, inject: [Database], useFactory: (db: Database) => new RecordingRepository(db) },
  ],
  exports: [Database, ChannelRepository, ConferenceRepository, SessionRepository, RecordingRepository],
})
export class PersistenceModule implements OnApplicationShutdown {
  constructor(@Inject(Database) private readonly db: Database) {}

  onApplicationShutdown(): void {
    this.db.close();
  }
}
