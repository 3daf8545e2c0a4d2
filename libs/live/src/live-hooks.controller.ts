import { Body, Controller, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { ForbiddenError, NotFoundError } from '@gw/common';
import { adminKeyMatches } from '@gw/auth';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { ExternalOrigin } from './external-origin';
import { LIVE_ORIGIN, LiveOrigin } from './live-origin';
import { hookStreamRef } from './own-publish';

/** Fields of an SRS http_hooks JSON body or an nginx-rtmp form callback that we read. */
interface HookBody {
  /** SRS */
  action?: string;
  stream?: string;
  param?: string;
  client_id?: string | number;
  /** nginx-rtmp */
  call?: string;
  name?: string;
  clientid?: string;
  key?: string;
  app?: string;
}

/**
 * Callbacks from an external origin, so the gateway learns of publishes and
 * plays it does not serve itself, and decides who may publish:
 * - SRS `http_hooks` (JSON, answers `{"code":0}` to allow);
 * - nginx-rtmp `on_publish`/`on_play`/`on_done` (form, 2xx allows, 403 refuses).
 * Point them at `/api/v1/live/hooks/<event>?secret=<LIVE_HOOK_SECRET>`. The
 * gateway's own publishes always pass: channel programs by their key, mix
 * outputs by the key the gateway signs them with (ExternalOrigin.ownPublishUrl).
 */
@ApiExcludeController()
@Controller('live/hooks')
export class LiveHooksController {
  constructor(
    @Inject(LIVE_ORIGIN) private readonly origin: LiveOrigin,
    @Inject(GATEWAY_CONFIG) private readonly config: ResolvedConfig,
  ) {}

  @Post(':event')
  @HttpCode(200)
  handle(@Param('event') event: string, @Query('secret') secret: string | undefined, @Body() body: HookBody, @Res() res: Response) {
    const expected = this.config.live.hookSecret;
    if (!(this.origin instanceof ExternalOrigin) || !expected) throw new NotFoundError('live hooks are not enabled', 'ROUTE_NOT_FOUND');
    if (!secret || !adminKeyMatches(secret, expected)) throw new ForbiddenError('bad hook secret');
    const origin = this.origin;
    const stream = body.stream ?? body.name ?? '';
    const { app } = hookStreamRef(body.app, stream);
    const sessionId = String(body.client_id ?? body.clientid ?? stream);
    const key = body.key ?? new URLSearchParams(body.param ?? '').get('key') ?? undefined;
    const allow = () => res.status(200).json({ code: 0 });

    switch (event) {
      case 'on_publish': {
        const role = key ? origin.roleOf(app, stream, key) : undefined;
        if (!role) {
          origin.emit('publishRejected', { path: `/${app}/${stream}`, reason: 'bad publish key' });
          res.status(403).json({ code: 403 });
          return;
        }
        origin.emit('publish', { app, stream, sessionId, role });
        return allow();
      }
      case 'on_unpublish':
      case 'on_publish_done':
        origin.emit('unpublish', { app, stream, sessionId });
        return allow();
      case 'on_play':
        origin.emit('play', { app, stream, sessionId, protocol: 'external' });
        return allow();
      case 'on_stop':
      case 'on_play_done':
        origin.emit('playDone', { app, stream, sessionId });
        return allow();
      default:
        return allow();
    }
  }
}
