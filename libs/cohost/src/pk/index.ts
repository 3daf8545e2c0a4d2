export * from './pk-desk';
export * from './pk-errors';
export * from './pk-pictures';
export * from './pk.schemas';
export * from './pk.service';
export * from './pk.gateway';
export * from './pk.controller';
export * from './pk.module';
