import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal, Principal } from '@gw/auth';
import { TurnService } from './turn.service';

@ApiTags('ice')
@Controller('ice-servers')
export class IceServersController {
  constructor(@Inject(TurnService) private readonly turn: TurnService) {}

  /**
   * STUN/TURN servers for RTCPeerConnection with credentials made for the caller,
   * valid `ttlSeconds` (TURN_TTL_SECONDS, never past the token). An empty list when TURN is off.
   */
  @Get()
  @Allow('any')
  @ApiBearerAuth()
  @Header('cache-control', 'no-store')
  list(@CurrentPrincipal() principal: Principal) {
    return this.turn.iceServers(principal.kind === 'user' ? { userId: principal.userId, tokenExpiresAtMs: principal.expiresAt } : { userId: 'admin' });
  }
}
