import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { resourceId, ZodPipe } from '@gw/common';
import { Allow } from '@gw/auth';
import { layoutSchema } from '@gw/mixing';
import { BypassService } from './bypass.service';

/** `record`: the channel is recorded from the mapping's start until it is unmapped. */
const mapBody = z.strictObject({ channelId: resourceId, onDemand: z.boolean(), layout: layoutSchema.optional(), record: z.boolean().optional() });

/** Bypass live: conference ↔ channel mappings, and the viewers' directory of live-able conferences. */
@ApiTags('bypass live')
@ApiBearerAuth()
@ApiSecurity('admin-key')
@Controller()
export class BypassController {
  constructor(@Inject(BypassService) private readonly bypass: BypassService) {}

  @Put('conferences/:id/live')
  @HttpCode(200)
  @Allow('admin')
  @ApiBody({ schema: z.toJSONSchema(mapBody) as object })
  map(@Param('id', new ZodPipe(resourceId)) id: string, @Body(new ZodPipe(mapBody)) body: z.infer<typeof mapBody>) {
    return this.bypass.map(id, body);
  }

  @Delete('conferences/:id/live')
  @HttpCode(200)
  @Allow('admin')
  async unmap(@Param('id', new ZodPipe(resourceId)) id: string) {
    await this.bypass.unmap(id);
    return { conferenceId: id, unmapped: true };
  }

  @Get('live-map')
  @Allow('admin')
  list() {
    return this.bypass.list();
  }

  @Get('directory')
  @Allow('any')
  directory() {
    return this.bypass.directory();
  }
}
