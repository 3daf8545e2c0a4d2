import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ZodPipe } from '@gw/common';
import { Allow } from '@gw/auth';
import { pkId, pkSchemas } from './pk.schemas';
import { PkService } from './pk.service';

/** PK for the platform (admin): battle scores (gifts turned into points) and the PKs running. */
@ApiTags('pk')
@ApiSecurity('admin')
@Controller('pk')
export class PkController {
  constructor(@Inject(PkService) private readonly pk: PkService) {}

  @Post(':id/score')
  @HttpCode(200)
  @Allow('admin')
  @ApiOperation({
    summary: "Adds points to a channel's score in the PK's running battle",
    description:
      'Both pictures redraw their score bar at once. `delta` may be negative (a score never goes below 0). 409 NO_BATTLE when no battle runs, 400 NOT_IN_PK for a channel outside the PK, 404 PK_NOT_FOUND. Returns `{pkId, scores, endsAt}`.',
  })
  @ApiBody({ schema: z.toJSONSchema(pkSchemas.score, { io: 'input' }) as object })
  score(@Param('id', new ZodPipe(pkId)) id: string, @Body(new ZodPipe(pkSchemas.score)) body: z.infer<typeof pkSchemas.score>) {
    return this.pk.score(id, body.channelId, body.delta);
  }

  @Get()
  @Allow('admin')
  @ApiOperation({ summary: 'PKs pending or active, with their battle' })
  list() {
    return this.pk.list();
  }

  @Get(':id')
  @Allow('admin')
  @ApiOperation({ summary: 'One PK (kept a minute after it ends): state, conference, mix task per channel, battle' })
  get(@Param('id', new ZodPipe(pkId)) id: string) {
    return this.pk.view(id);
  }
}
