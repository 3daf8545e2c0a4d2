import { Controller, Delete, Get, HttpCode, Inject, Options, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiProduces, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { text } from 'express';
import { resourceId, ValidationError, ZodPipe } from '@gw/common';
import { Allow, CurrentPrincipal, Principal } from '@gw/auth';
import { UnsupportedMediaTypeError, WhepService } from './whep.service';

/** The path WHEP sessions live under (behind the gateway's /api/v1 prefix). */
export const WHEP_PATH = '/api/v1/whep';

const readSdp = text({ type: 'application/sdp', limit: '128kb' });

/**
 * Runs before the guard on every /whep route: CORS for players on other
 * origins (WHEP players are web pages anywhere), with Location exposed, also
 * on errors; and the SDP body as text.
 */
export function whepHttp(request: Request, response: Response, next: NextFunction): void {
  response.setHeader('Access-Control-Allow-Origin', '*');
  response.setHeader('Access-Control-Expose-Headers', 'Location');
  if (request.method === 'OPTIONS') {
    response.setHeader('Access-Control-Allow-Methods', 'POST, DELETE, OPTIONS');
    response.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    response.setHeader('Access-Control-Max-Age', '600');
    response.setHeader('Accept-Post', 'application/sdp');
  }
  if (request.method === 'POST') readSdp(request, response, next);
  else next();
}

/**
 * WHEP (draft-ietf-wish-whep): a player POSTs its SDP offer and gets the
 * answer (201, `Location` of its session); DELETE on the Location ends it.
 * Viewers' tokens as `Authorization: Bearer`.
 */
@ApiTags('whep')
@Controller('whep')
export class WhepController {
  constructor(@Inject(WhepService) private readonly whep: WhepService) {}

  @Post(':channelId')
  @Allow('any')
  @ApiBearerAuth()
  @ApiConsumes('application/sdp')
  @ApiProduces('application/sdp')
  @ApiBody({ description: 'SDP offer (recvonly audio + video)', schema: { type: 'string' } })
  @ApiResponse({ status: 201, description: 'SDP answer; Location names the session' })
  async offer(
    @CurrentPrincipal() principal: Principal,
    @Param('channelId', new ZodPipe(resourceId)) channelId: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    if (!request.is('application/sdp')) throw new UnsupportedMediaTypeError('a WHEP offer is Content-Type: application/sdp');
    if (typeof request.body !== 'string' || request.body.length === 0) throw new ValidationError('the body holds no SDP offer', 'WHEP_BAD_OFFER');
    const { sessionId, answer } = await this.whep.createSession(channelId, request.body, principal);
    response
      .status(201)
      .setHeader('Location', `${WHEP_PATH}/${encodeURIComponent(channelId)}/${sessionId}`)
      .type('application/sdp')
      .send(answer);
  }

  @Delete(':channelId/:sessionId')
  @HttpCode(200)
  @Allow('any')
  @ApiBearerAuth()
  remove(
    @CurrentPrincipal() principal: Principal,
    @Param('channelId', new ZodPipe(resourceId)) channelId: string,
    @Param('sessionId', new ZodPipe(resourceId)) sessionId: string,
  ) {
    this.whep.deleteSession(channelId, sessionId, principal);
    return { ok: true };
  }

  /** The channel's viewing room: the program's feed, the sessions and what mediasoup holds (operators, leak checks). */
  @Get(':channelId')
  @Allow('admin')
  @ApiSecurity('admin')
  view(@Param('channelId', new ZodPipe(resourceId)) channelId: string) {
    return this.whep.view(channelId);
  }

  /** CORS preflight (headers set by whepHttp). */
  @Options(':channelId')
  @HttpCode(204)
  preflight(): void {}

  @Options(':channelId/:sessionId')
  @HttpCode(204)
  preflightSession(): void {}
}
