export * from './origin-protocol';
export * from './live-origin';
export * from './channel-status';
export * from './channel.service';
export * from './channels.controller';
export * from './embedded/embedded-origin';
export * from './external-origin';
export * from './live.module';
