import { Global, Module } from '@nestjs/common';
import { ImGateway } from './im.gateway';
import { NodeRpc } from './node-rpc';
import { Notifier } from './notifier';
import { Presence } from './presence';

@Global()
@Module({
  providers: [Notifier, Presence, NodeRpc, ImGateway],
  exports: [Notifier, Presence, NodeRpc],
})
export class ImModule {}
