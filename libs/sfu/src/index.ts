export * from './port-ranges';
export * from './worker-pool';
export * from './sfu.module';
