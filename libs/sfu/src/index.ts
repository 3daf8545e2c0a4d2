export * from './port-ranges';
export * from './worker-pool';
export * from './sfu.module';
export * from './placement';
export * from './media-codecs';
export * from './sfu.controller';
