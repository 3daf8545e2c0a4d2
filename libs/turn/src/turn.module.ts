import { Global, Inject, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { EmbeddedTurnServer } from './embedded-turn';
import { IceServersController } from './ice-servers.controller';
import { sfuPeerIps } from './turnserver-config';
import { TurnService } from './turn.service';

/** STUN/TURN: the embedded coturn (supervised), ICE servers with short-lived credentials, relay lookups for media paths. */
@Global()
@Module({
  controllers: [IceServersController],
  providers: [
    {
      provide: TurnService,
      inject: [GATEWAY_CONFIG],
      useFactory: (config: ResolvedConfig) => {
        const turn = config.turn;
        const announced = config.rtc.announcedIp;
        const server =
          turn.mode === 'embedded'
            ? new EmbeddedTurnServer({
                listenIp: turn.listenIp,
                port: turn.port,
                relayPorts: turn.relayPorts,
                tls: turn.tls,
                externalIp: announced && announced !== turn.listenIp && sfuPeerIps(announced, undefined).length ? announced : undefined,
                secret: turn.secret!,
                allowedPeerIps: sfuPeerIps(config.rtc.listenIp, announced),
                dataDir: config.dataDir,
                logger: new Logger('Turn'),
              })
            : undefined;
        return new TurnService(turn, server);
      },
    },
  ],
  exports: [TurnService],
})
export class TurnModule implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(TurnService) private readonly turn: TurnService) {}

  async onModuleInit(): Promise<void> {
    await this.turn.server?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.turn.server?.stop();
  }
}
