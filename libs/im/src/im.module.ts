import { Global, Module } from '@nestjs/common';
import { ImGateway } from './im.gateway';
import { Notifier } from './notifier';
import { Presence } from './presence';

@Global()
@Module({
  providers: [Notifier, Presence, ImGateway],
  exports: [Notifier, Presence],
})
export class ImModule {}
