import { Global, Module } from '@nestjs/common';
import { ImGateway } from './im.gateway';
import { Notifier } from './notifier';

@Global()
@Module({
  providers: [Notifier, ImGateway],
  exports: [Notifier],
})
export class ImModule {}
