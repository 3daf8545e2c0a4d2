export * from './principal';
export * from './token.service';
export * from './access.guard';
export * from './tokens.controller';
export * from './auth.module';
export * from './rate-limits';
