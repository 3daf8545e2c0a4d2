export * from './respond';
export * from './notifier';
export * from './socket-auth';
export * from './im.gateway';
export * from './im.module';
export * from './io-adapter';
export * from './message-size';
export * from './presence';
