export * from './metrics.service';
export * from './health.controller';
export * from './observability.module';
