import { Body, Controller, Get, HttpCode, Inject, Param, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { ForbiddenError, NotFoundError, resourceId, ValidationError, ZodPipe } from '@gw/common';
import { Allow, CurrentPrincipal, Principal } from '@gw/auth';
import { BlockInfo, ChannelNotFoundError, ChannelService, HlsChannel, ProgramService } from '@gw/live';
import { blocksOf, substreamOf } from './substreams';
import { swarmSchemas } from './swarm.schemas';
import { SwarmService } from './swarm.service';

const count = (value: string | undefined, name: string, min: number): number | undefined => {
  if (value === undefined) return undefined;
  if (!/^-?\d{1,12}$/.test(value) || Number(value) < min) throw new ValidationError(`${name} must be an integer ≥ ${min}`, 'P2P_BAD_QUERY');
  return Number(value);
};

/**
 * The origin's side of seed 002: the channel's program as numbered blocks
 * (its LL-HLS parts) with their hashes, each block on its own, and which
 * blocks each sub-stream holds. Public, as the channel's HLS is, under
 * `/hls/<channel>/p2p/…`. The swarm's settings and totals are REST under
 * `/api/v1/channels/:id/p2p`.
 */
@ApiTags('channels')
@Controller()
export class SwarmController {
  constructor(
    @Inject(SwarmService) private readonly swarms: SwarmService,
    @Inject(ChannelService) private readonly channels: ChannelService,
    @Inject(ProgramService) private readonly programs: ProgramService,
  ) {}

  /**
   * The block index: every block held (number, segment and part, duration,
   * size, SHA-256), the complete segments as runs of blocks, and the
   * sub-stream layout now. `after=N` lists only blocks newer than N (and the
   * three newest segments), waiting up to three target durations for one to
   * exist; `substream=b` lists only sub-stream b's.
   */
  @Get('hls/:channelId/p2p/blocks.json')
  @ApiExcludeEndpoint()
  async blocks(
    @Param('channelId', new ZodPipe(resourceId)) channelId: string,
    @Query('after') afterParam: string | undefined,
    @Query('substream') substreamParam: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const hls = this.#hls(channelId);
    const after = count(afterParam, 'after', -1);
    const substream = count(substreamParam, 'substream', 1);
    if (after !== undefined && hls.newestBlock <= after) await hls.waitFor(() => hls.newestBlock > after, hls.holdMs);
    const layout = this.swarms.layout(channelId);
    if (substream !== undefined && substream > layout.s) throw new ValidationError(`sub-stream ${substream} is outside 1…${layout.s}`, 'P2P_BAD_QUERY');
    let blocks: BlockInfo[] = hls.blocks();
    // A viewer following the index asks with `after`: it gets what is new, and the newest segments.
    if (after !== undefined) blocks = blocks.filter((b) => b.n > after);
    if (substream !== undefined) blocks = blocks.filter((b) => substreamOf(b.n, layout) === substream);
    const segments = hls.segmentBlocks();
    this.#json(res, { channelId, ...layout, newest: hls.newestBlock, blocks, segments: after === undefined ? segments : segments.slice(-3) });
  }

  /** Which blocks sub-stream b holds among those held now (both of the seed's forms: a = 1, and groups of a). */
  @Get('hls/:channelId/p2p/substreams/:b')
  @ApiExcludeEndpoint()
  substream(@Param('channelId', new ZodPipe(resourceId)) channelId: string, @Param('b') bParam: string, @Res() res: Response): void {
    const hls = this.#hls(channelId);
    const b = count(bParam, 'b', 1)!;
    const layout = this.swarms.layout(channelId);
    if (b > layout.s) throw new ValidationError(`sub-stream ${b} is outside 1…${layout.s}`, 'P2P_BAD_QUERY');
    const held = hls.blocks();
    const blocks = held.length ? blocksOf(b, layout, held[0].n, held.at(-1)!.n) : [];
    this.#json(res, { channelId, substream: b, ...layout, blocks });
  }

  /** One block's bytes (an fMP4 fragment: moof + mdat). */
  @Get('hls/:channelId/p2p/blocks/:n')
  @ApiExcludeEndpoint()
  block(@Param('channelId', new ZodPipe(resourceId)) channelId: string, @Param('n') nParam: string, @Res() res: Response): void {
    const hls = this.#hls(channelId);
    const part = hls.block(count(nParam, 'n', 0)!);
    if (!part) throw new NotFoundError(`channel ${channelId} holds no block ${nParam} (not cut yet, or out of the window)`, 'P2P_BLOCK_NOT_FOUND');
    this.channels.countHlsBytes(channelId, part.data.length);
    res.setHeader('content-type', 'video/mp4');
    res.setHeader('cache-control', 'public, max-age=60');
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('x-block-sha256', part.sha256);
    res.status(200).send(part.data);
  }

  /**
   * The channel's swarm: its settings, the sub-streams in use, its viewers and
   * where their media came from (what they reported), and the media bytes the
   * origin served for the channel's HLS and blocks.
   */
  @Get('channels/:id/p2p')
  @Allow('any')
  @ApiBearerAuth()
  status(@Param('id', new ZodPipe(resourceId)) id: string) {
    this.#channel(id);
    return { ...this.swarms.status(id), originMediaBytes: this.channels.hlsBytesServed(id) };
  }

  /** Sets how the channel's program is shared: `enabled`, `substreams` (s) and `group` (a). Admin, or the channel's host. */
  @Put('channels/:id/p2p')
  @HttpCode(200)
  @Allow('admin', 'host')
  @ApiBearerAuth()
  @ApiBody({ schema: z.toJSONSchema(swarmSchemas.settings) as object })
  setSettings(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ZodPipe(resourceId)) id: string,
    @Body(new ZodPipe(swarmSchemas.settings)) body: z.infer<typeof swarmSchemas.settings>,
  ) {
    if (principal.kind === 'user' && principal.channelId !== id) throw new ForbiddenError(`not the host of channel ${id}`, 'NOT_CHANNEL_HOST');
    this.#channel(id);
    const current = this.swarms.settings(id);
    const next = { enabled: body.enabled ?? current.enabled, substreams: body.substreams ?? current.substreams, group: body.group ?? current.group };
    this.channels.setP2pSettings(id, next);
    this.swarms.settingsChanged(id);
    return next;
  }

  #channel(id: string): void {
    if (!this.channels.exists(id)) throw new ChannelNotFoundError(id);
  }

  #hls(channelId: string): HlsChannel {
    this.#channel(channelId);
    const hls = this.programs.hls(channelId);
    if (!hls) throw new NotFoundError(`channel ${channelId} is not on air`, 'CHANNEL_NOT_LIVE');
    return hls;
  }

  #json(res: Response, body: object): void {
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('access-control-allow-origin', '*');
    res.status(200).send(JSON.stringify(body));
  }
}
