import { DynamicModule, Global, Module } from '@nestjs/common';
import type { ResolvedConfig } from './config.loader';

/** Injection token for the validated configuration. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

/** Provides the configuration validated once at boot to every module. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: ResolvedConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: GATEWAY_CONFIG, useValue: config }],
      exports: [GATEWAY_CONFIG],
    };
  }
}
