export * from './node-liveness';
export * from './process-tree-cpu';
export * from './cluster-redis';
export * from './node-registry';
export * from './nodes.controller';
export * from './cluster.module';
export * from './mix-directory';
