import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ChannelRepository } from './channel.repository';
import { Database } from './database';

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
  ],
  exports: [Database, ChannelRepository],
})
export class PersistenceModule implements OnApplicationShutdown {
  constructor(@Inject(Database) private readonly db: Database) {}

  onApplicationShutdown(): void {
    this.db.close();
  }
}
