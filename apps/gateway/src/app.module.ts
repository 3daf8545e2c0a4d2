import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from '@gw/auth';
import { ClusterModule } from '@gw/cluster';
import { BypassModule } from '@gw/bypass';
import { CohostModule, PkModule } from '@gw/cohost';
import { ConferenceModule } from '@gw/conference';
import { ConfigModule, ResolvedConfig } from '@gw/config';
import { ImModule } from '@gw/im';
import { LiveModule, RecordingsModule } from '@gw/live';
import { MixingModule } from '@gw/mixing';
import { ObservabilityModule } from '@gw/observability';
import { PersistenceModule } from '@gw/persistence';
import { SfuModule } from '@gw/sfu';
import { SwarmModule } from '@gw/swarm';
import { TurnModule } from '@gw/turn';
import { WhepModule } from '@gw/whep';

/** Wiring only: which modules make up the gateway. */
@Module({})
export class AppModule {
  static forRoot(config: ResolvedConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        PersistenceModule,
        AuthModule,
        SfuModule,
        TurnModule,
        LiveModule,
        RecordingsModule,
        ImModule,
        ConferenceModule,
        MixingModule,
        CohostModule,
        PkModule,
        BypassModule,
        WhepModule,
        SwarmModule,
        ClusterModule,
        ObservabilityModule,
      ],
    };
  }
}
