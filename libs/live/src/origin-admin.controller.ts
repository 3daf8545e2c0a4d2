import { Controller, Get, Inject } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Allow } from '@gw/auth';
import { EmbeddedOrigin, OriginProcessView } from './embedded/embedded-origin';
import { LIVE_INGEST, LIVE_ORIGIN, LiveOrigin } from './live-origin';

/**
 * Operator view of the embedded origin's processes: each one's weight and what it
 * serves now. Empty when no embedded origin runs (an external origin with
 * origin-side ingest).
 */
@ApiTags('ops')
@ApiSecurity('admin')
@Controller('admin/origin')
export class OriginAdminController {
  readonly #embedded: EmbeddedOrigin | undefined;

  constructor(@Inject(LIVE_ORIGIN) live: LiveOrigin, @Inject(LIVE_INGEST) ingest: LiveOrigin) {
    this.#embedded = [live, ingest].find((origin): origin is EmbeddedOrigin => origin instanceof EmbeddedOrigin);
  }

  @Get()
  @Allow('admin')
  processes(): { processes: OriginProcessView[] } {
    return { processes: this.#embedded?.processes() ?? [] };
  }
}
