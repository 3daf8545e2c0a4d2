export * from './bypass.service';
export * from './bypass.controller';
export * from './bypass.module';
