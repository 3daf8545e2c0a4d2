export * from './substreams';
export * from './swarm-plan';
export * from './swarm-wire';
export * from './swarm-messages';
export * from './swarm.service';
export * from './swarm.gateway';
export * from './swarm.controller';
export * from './swarm.module';
