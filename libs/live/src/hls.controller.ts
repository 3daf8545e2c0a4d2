import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { NotFoundError, resourceId, UnavailableError, ValidationError, ZodPipe } from '@gw/common';
import { ChannelNotFoundError, ChannelService } from './channel.service';
import { HlsChannel } from './hls/hls-channel';
import { parseHlsUri } from './hls/hls-playlist';
import { ProgramService } from './program/program.service';

const PLAYLIST = 'application/vnd.apple.mpegurl';
/** Media (init, segments, parts) never change under their name while the channel's program runs. */
const MEDIA_CACHE = 'public, max-age=60';

const directive = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value)) throw new ValidationError(`${name} must be a non-negative integer`, 'HLS_BAD_DIRECTIVE');
  return Number(value);
};

/**
 * The channels' programs as HLS, served by the gateway itself (public, as
 * viewers' FLV URLs are): `index.m3u8` is LL-HLS with blocking reload,
 * `plain.m3u8` the same segments without parts for any HLS reader,
 * `master.m3u8` the multivariant playlist naming codecs and resolution. Under
 * `/hls`, outside `/api/v1`.
 */
/**
 * How long a playlist request waits for a channel to come on air and cut its
 * first segment (an on-demand bypass mix takes about two seconds to show
 * everyone, its first segment one more).
 */
const HLS_START_WAIT_MS = 8000;

@ApiExcludeController()
@Controller('hls')
export class HlsController {
  constructor(
    @Inject(ChannelService) private readonly channels: ChannelService,
    @Inject(ProgramService) private readonly programs: ProgramService,
  ) {}

  @Get(':channelId/index.m3u8')
  async lowLatency(
    @Param('channelId', new ZodPipe(resourceId)) channelId: string,
    @Query('_HLS_msn') msnParam: string | undefined,
    @Query('_HLS_part') partParam: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const hls = await this.#playable(channelId, req);
    const decision = hls.reloadDecision(directive(msnParam, '_HLS_msn'), directive(partParam, '_HLS_part'));
    if (decision.kind === 'bad') throw new ValidationError(decision.reason, 'HLS_BAD_DIRECTIVE');
    if (decision.kind === 'wait' && !(await hls.waitFor(decision.until, hls.holdMs))) {
      throw new UnavailableError(`channel ${channelId}: the requested segment or part did not appear in time`, 'HLS_NOT_READY');
    }
    this.#send(res, PLAYLIST, 'no-cache', this.#text(channelId, hls.playlist(true)));
  }

  @Get(':channelId/plain.m3u8')
  async plain(@Param('channelId', new ZodPipe(resourceId)) channelId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const hls = await this.#playable(channelId, req);
    this.#send(res, PLAYLIST, 'no-cache', this.#text(channelId, hls.playlist(false)));
  }

  @Get(':channelId/master.m3u8')
  async multivariant(@Param('channelId', new ZodPipe(resourceId)) channelId: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const hls = await this.#playable(channelId, req);
    this.#send(res, PLAYLIST, 'no-cache', this.#text(channelId, hls.multivariant('index.m3u8')));
  }

  /** init-<id>.mp4, seg-<msn>.m4s, part-<msn>.<index>.m4s; the part the preload hint names is held until it is cut. */
  @Get(':channelId/:name')
  async media(@Param('channelId', new ZodPipe(resourceId)) channelId: string, @Param('name') name: string, @Res() res: Response): Promise<void> {
    const hls = this.#hls(channelId);
    const uri = parseHlsUri(name);
    if (!uri) throw new NotFoundError(`no HLS resource ${name}`, 'HLS_NOT_FOUND');
    let body: Buffer | undefined;
    if (uri.kind === 'init') body = hls.init(uri.id)?.data;
    else if (uri.kind === 'segment') body = hls.segment(uri.msn)?.data;
    else {
      if (!hls.part(uri.msn, uri.index) && hls.isUpcomingPart(uri.msn, uri.index)) await hls.waitFor(() => hls.part(uri.msn, uri.index) !== undefined, hls.holdMs);
      body = hls.part(uri.msn, uri.index)?.data;
    }
    if (!body) throw new NotFoundError(`channel ${channelId} has no ${name} (not cut yet, or out of the window)`, 'HLS_NOT_FOUND');
    this.channels.countHlsBytes(channelId, body.length);
    this.#send(res, 'video/mp4', MEDIA_CACHE, body);
  }

  /** The channel's HLS, or a typed 404: an unknown channel, or one whose program is not running. */
  #hls(channelId: string): HlsChannel {
    if (!this.channels.exists(channelId)) throw new ChannelNotFoundError(channelId);
    const hls = this.programs.hls(channelId);
    if (!hls) throw new NotFoundError(`channel ${channelId} is not on air`, 'CHANNEL_NOT_LIVE');
    return hls;
  }

  /**
   * As #hls, once it has a first segment. The player asking counts as a
   * viewer (ChannelService.hlsRequest), so an on-demand channel starts its
   * mix for it: a channel coming on air is waited for (HLS_START_WAIT_MS),
   * and a program that just started, up to the hold time.
   */
  async #playable(channelId: string, req: Request): Promise<HlsChannel> {
    if (!this.channels.exists(channelId)) throw new ChannelNotFoundError(channelId);
    this.channels.hlsRequest(channelId, `${req.ip ?? req.socket.remoteAddress ?? '?'} ${req.headers['user-agent'] ?? ''}`);
    const starting = !this.programs.hls(channelId);
    const deadline = Date.now() + HLS_START_WAIT_MS;
    while (!this.programs.hls(channelId) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const hls = this.#hls(channelId);
    // A program that came on air for this request gets the rest of the start wait for its first segment.
    const readyWithin = starting ? Math.max(hls.holdMs, deadline - Date.now()) : hls.holdMs;
    if (!hls.ready && !(await hls.waitFor(() => hls.ready, readyWithin))) {
      throw new UnavailableError(`channel ${channelId} has no HLS segment yet`, 'HLS_NOT_READY');
    }
    return hls;
  }

  #text(channelId: string, text: string | undefined): string {
    if (text === undefined) throw new NotFoundError(`channel ${channelId} is not on air`, 'CHANNEL_NOT_LIVE');
    return text;
  }

  #send(res: Response, contentType: string, cacheControl: string, body: string | Buffer): void {
    res.setHeader('content-type', contentType);
    res.setHeader('cache-control', cacheControl);
    res.setHeader('access-control-allow-origin', '*');
    res.status(200).send(body);
  }
}
