import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ForbiddenError, resourceId, ZodPipe } from '@gw/common';
import { HOST_SOURCE_SUFFIX, hostSourceStream, LIVE_APP } from './origin-protocol';
import { Allow, CurrentPrincipal, Principal } from '@gw/auth';
import { ChannelService } from './channel.service';
import { ProgramService } from './program/program.service';
import { SrtService } from './srt/srt.service';

const createChannelBody = z.strictObject({
  id: resourceId.refine((id) => !id.endsWith(HOST_SOURCE_SUFFIX), `must not end with ${HOST_SOURCE_SUFFIX} (reserved for the host's source stream)`).optional(),
  title: z.string().min(1).max(200).optional(),
  /** How viewers share the program (seed 002); without it the gateway's P2P_* defaults. */
  p2p: z
    .strictObject({ enabled: z.boolean().default(true), substreams: z.number().int().min(1).max(32).default(4), group: z.number().int().min(1).max(16).default(1) })
    .optional(),
});

@ApiTags('channels')
@Controller('channels')
export class ChannelsController {
  constructor(
    @Inject(ChannelService) private readonly channels: ChannelService,
    @Inject(ProgramService) private readonly programs: ProgramService,
    @Inject(SrtService) private readonly srt: SrtService,
  ) {}

  /** Creates a channel. The response is the only place its publish URL (with its key) appears. */
  @Post()
  @HttpCode(201)
  @Allow('admin')
  @ApiSecurity('admin')
  @ApiBody({ schema: z.toJSONSchema(createChannelBody) as object })
  create(@Body(new ZodPipe(createChannelBody)) body: z.infer<typeof createChannelBody>) {
    return this.channels.create(body);
  }

  @Get()
  @Allow('admin')
  @ApiSecurity('admin')
  list() {
    return this.channels.list();
  }

  /**
   * Replaces the channel's publish key: the old key is refused from now on and
   * a push using it is ended. Admin, or the channel's host. Returns the new URL.
   */
  @Post(':id/rotate-key')
  @HttpCode(200)
  @Allow('admin', 'host')
  @ApiBearerAuth()
  rotateKey(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string) {
    if (principal.kind === 'user' && principal.channelId !== id) throw new ForbiddenError(`not the host of channel ${id}`, 'NOT_CHANNEL_HOST');
    return this.channels.rotateKey(id);
  }

  /**
   * The paths the host's push arrives over now (issue 17): a bonding sender's
   * links through SRTLA (share of the packets, loss the SRT listener reported,
   * round trip, rate, whether a link only repeats others' packets), one path
   * for a plain SRT push, none for RTMP. Admin, or the channel's host.
   */
  @Get(':id/uplink')
  @Allow('admin', 'host')
  @ApiBearerAuth()
  uplink(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string) {
    if (principal.kind === 'user' && principal.channelId !== id) throw new ForbiddenError(`not the host of channel ${id}`, 'NOT_CHANNEL_HOST');
    this.channels.status(id);
    return { paths: this.srt.uplink(LIVE_APP, hostSourceStream(id)) };
  }

  @Get(':id')
  @Allow('any')
  @ApiBearerAuth()
  get(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string) {
    const status = this.channels.status(id);
    // Extension: while the host pushes, the quality of its uplink as the push arrives (uplink-meter.ts).
    const hostUplink = this.programs.hostUplink(id);
    // Where the host pushes (keys included) only to the admin and the channel's own host.
    const own = principal.kind === 'admin' || (principal.role === 'host' && principal.channelId === id);
    return { ...status, ...(hostUplink ? { hostUplink } : {}), ...(own ? { ingest: this.channels.ingestUrls(id) } : {}) };
  }
}
