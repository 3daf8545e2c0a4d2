import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { AccessGuard } from './access.guard';
import { RateLimits } from './rate-limits';
import { TokenService } from './token.service';
import { TokensController } from './tokens.controller';

@Global()
@Module({
  controllers: [TokensController],
  providers: [
    { provide: TokenService, inject: [GATEWAY_CONFIG], useFactory: (c: ResolvedConfig) => new TokenService(c.jwtSecret) },
    { provide: RateLimits, inject: [GATEWAY_CONFIG], useFactory: (c: ResolvedConfig) => new RateLimits(c.rateLimits) },
    { provide: APP_GUARD, useClass: AccessGuard },
  ],
  exports: [TokenService, RateLimits],
})
export class AuthModule {}
