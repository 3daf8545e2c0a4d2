export * from './cohost-errors';
export * from './invitation-desk';
export * from './cohost.service';
export * from './cohost.gateway';
export * from './cohost.controller';
export * from './cohost.module';
export * from './pk';
