import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ForbiddenError, NotFoundError, resourceId, ZodPipe } from '@gw/common';
import { GATEWAY_CONFIG, ResolvedConfig } from '@gw/config';
import { Allow, CurrentPrincipal, Principal } from '@gw/auth';
import type { RecordingRecord } from '@gw/persistence';
import { RECORDING_FILES } from './recording-files';
import { RecordingService } from './recording.service';

/**
 * Recordings over REST: start one for a channel, stop, read, list, download.
 * Admin, or the host of the recording's channel (a token of role host scoped
 * to it); a mix task's recording also its conference's host.
 */
@ApiTags('recordings')
@ApiSecurity('admin')
@ApiBearerAuth()
@Controller()
export class RecordingsController {
  constructor(
    @Inject(RecordingService) private readonly recordings: RecordingService,
    @Inject(GATEWAY_CONFIG) private readonly config: ResolvedConfig,
  ) {}

  /** Starts recording the channel's program: 201 `{id, state: "recording", …}`; 409 RECORDING_IN_PROGRESS, 503 DISK_FULL. */
  @Post('channels/:id/recordings')
  @HttpCode(201)
  @Allow('admin', 'host')
  start(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) channelId: string) {
    assertChannelHost(principal, channelId);
    return this.#view(this.recordings.startChannel(channelId));
  }

  @Get('channels/:id/recordings')
  @Allow('admin', 'host')
  list(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) channelId: string) {
    assertChannelHost(principal, channelId);
    return this.recordings.listByChannel(channelId).map((r) => this.#view(r));
  }

  @Get('recordings/:id')
  @Allow('admin', 'host')
  get(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string) {
    return this.#view(this.#readable(principal, id));
  }

  /** Stops it; answers once it is closed and its MP4 made (or given up: the fragmented file and HLS stay). */
  @Delete('recordings/:id')
  @HttpCode(200)
  @Allow('admin', 'host')
  async stop(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string) {
    this.#readable(principal, id);
    return this.#view(await this.recordings.stop(id));
  }

  /** The recording as HLS (byte ranges of fragmented.mp4): VOD once it ended, EVENT while it records. */
  @Get('recordings/:id/index.m3u8')
  @Allow('admin', 'host')
  playlist(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string, @Res() res: Response): void {
    this.#readable(principal, id);
    res.setHeader('content-type', 'application/vnd.apple.mpegurl');
    res.setHeader('cache-control', 'no-cache');
    res.status(200).send(this.recordings.playlist(id));
  }

  @Get('recordings/:id/fragmented.mp4')
  @Allow('admin', 'host')
  fragmented(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string, @Res() res: Response): void {
    this.#readable(principal, id);
    this.#sendFile(res, this.recordings.filePath(id, RECORDING_FILES.fragmented));
  }

  @Get('recordings/:id/recording.mp4')
  @Allow('admin', 'host')
  mp4(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string, @Res() res: Response): void {
    this.#readable(principal, id);
    this.#sendFile(res, this.recordings.filePath(id, RECORDING_FILES.mp4));
  }

  #readable(principal: Principal, id: string): RecordingRecord {
    const record = this.recordings.get(id);
    if (principal.kind === 'admin') return record;
    const ownsChannel = record.channelId !== undefined && principal.role === 'host' && principal.channelId === record.channelId;
    const owns = record.ownerUserId !== undefined && principal.userId === record.ownerUserId;
    if (!ownsChannel && !owns) throw new ForbiddenError(`not the host of recording ${id}`, 'NOT_RECORDING_HOST');
    return record;
  }

  /** Whole files and byte ranges (HLS players ask for ranges), typed 404 if it went away. */
  #sendFile(res: Response, path: string): void {
    res.sendFile(path, { acceptRanges: true, cacheControl: false, headers: { 'content-type': 'video/mp4', 'cache-control': 'no-cache' } }, (error) => {
      if (error && !res.headersSent) {
        const notFound = new NotFoundError('the recording file is gone', 'RECORDING_FILE_NOT_FOUND');
        res.status(notFound.status).json({ error: { code: notFound.code, message: notFound.message } });
      }
    });
  }

  #view(r: RecordingRecord) {
    const base = `http://${this.config.publicHost}:${this.config.port}/api/v1/recordings/${r.id}`;
    return {
      id: r.id,
      channelId: r.channelId ?? null,
      ...(r.mixTaskId ? { mixTaskId: r.mixTaskId } : {}),
      state: r.state,
      ...(r.reason ? { reason: r.reason } : {}),
      startedAt: new Date(r.startedAt).toISOString(),
      ...(r.endedAt !== undefined ? { endedAt: new Date(r.endedAt).toISOString() } : {}),
      durationSeconds: Math.round(r.durationMs) / 1000,
      files: {
        hls: `${base}/index.m3u8`,
        mp4: r.hasMp4 ? `${base}/${RECORDING_FILES.mp4}` : null,
        fragmented: `${base}/${RECORDING_FILES.fragmented}`,
      },
    };
  }
}

function assertChannelHost(principal: Principal, channelId: string): void {
  if (principal.kind === 'user' && principal.channelId !== channelId) throw new ForbiddenError(`not the host of channel ${channelId}`, 'NOT_CHANNEL_HOST');
}
