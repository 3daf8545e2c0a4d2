import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { resourceId, ZodPipe } from '@gw/common';
import { Allow, CurrentPrincipal, Principal } from '@gw/auth';
import { SrtService } from '@gw/live';
import { Conference } from './conference';
import { ConferenceLivePort } from './conference-live';
import { ConferenceSpans } from './conference-span';
import { ConferenceService } from './conference.service';
import { assertConferenceHost, NotAMemberError } from './errors';
import { ingestAccess } from './ingest/ingest-access';
import { IngestService } from './ingest/ingest.service';

const createBody = z.strictObject({
  title: z.string().min(1).max(200).optional(),
  /** Also create a channel for the conference and map it (bypass live), in one step. The layout is checked by bypass live. */
  live: z.strictObject({ onDemand: z.boolean(), layout: z.record(z.string(), z.unknown()).optional() }).optional(),
});
const userBody = z.strictObject({ userId: resourceId });
const ingestBody = z.strictObject({ userId: resourceId, kind: z.enum(['camera', 'screen']).optional() });

/** Extra fields a view of a conference carries, supplied by later modules (mix tasks). */

@ApiTags('conferences')
@ApiSecurity('admin')
@ApiBearerAuth()
@Controller('conferences')
export class ConferencesController {
  constructor(
    @Inject(ConferenceService) private readonly conferences: ConferenceService,
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(ConferenceLivePort) private readonly live: ConferenceLivePort,
    @Inject(SrtService) private readonly srt: SrtService,
    @Inject(ConferenceSpans) private readonly spans: ConferenceSpans,
  ) {}

  @Post()
  @HttpCode(201)
  @Allow('admin', 'host')
  @ApiBody({ schema: z.toJSONSchema(createBody) as object })
  async create(@CurrentPrincipal() principal: Principal, @Body(new ZodPipe(createBody)) body: z.infer<typeof createBody>) {
    const conference = await this.conferences.create({
      title: body.title,
      hostUserId: principal.kind === 'user' ? principal.userId : undefined,
    });
    if (!body.live) return this.#view(conference);
    try {
      return { ...this.#view(conference), live: this.live.goLive(conference, body.live) };
    } catch (error) {
      // All or nothing: a conference that could not go live as asked is not left behind.
      conference.close('could not go live');
      throw error;
    }
  }

  @Get()
  @Allow('any')
  list(@CurrentPrincipal() principal: Principal) {
    return this.conferences
      .list()
      .filter((c) => principal.kind === 'admin' || c.isMember(principal.userId))
      .map((c) => this.#view(c));
  }

  @Get(':id')
  @Allow('any')
  get(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string) {
    const conference = this.conferences.get(id);
    if (principal.kind !== 'admin' && !conference.isMember(principal.userId)) throw new NotAMemberError(id);
    return this.#view(conference);
  }

  @Delete(':id')
  @HttpCode(200)
  @Allow('admin', 'host')
  remove(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string) {
    const conference = this.conferences.get(id);
    assertConferenceHost(principal, id, conference);
    conference.close('deleted');
    return { id, ended: true };
  }

  /** Admits a member (extension; the co-host flow admits guests the same way). */
  @Post(':id/members')
  @HttpCode(200)
  @Allow('admin', 'host')
  @ApiBody({ schema: z.toJSONSchema(userBody) as object })
  admit(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string, @Body(new ZodPipe(userBody)) body: z.infer<typeof userBody>) {
    const conference = this.conferences.get(id);
    assertConferenceHost(principal, id, conference);
    conference.admit(body.userId);
    return this.#view(conference);
  }

  /**
   * An RTMP push URL (and `srt`, the same over SRT) that makes the member a participant while the push lasts.
   * Any token: membership decides (see ingestAccess), so an accepted co-host with
   * a viewer token may ingest as themself; an admin or the conference's host
   * asking for a user admits them.
   */
  @Post(':id/ingest')
  @HttpCode(201)
  @Allow('any')
  @ApiBody({ schema: z.toJSONSchema(ingestBody) as object })
  async createIngest(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string, @Body(new ZodPipe(ingestBody)) body: z.infer<typeof ingestBody>) {
    // In a cluster the push may come to another node than the conference's: it joins this node's copy.
    const conference = await this.conferences.obtain(id, body.userId);
    if (ingestAccess(principal, conference, body.userId) === 'admit') await this.spans.admit(conference, body.userId);
    // `kind: "screen"`: the push is the member's screen share (a presentation PC running OBS).
    const kind = body.kind ?? 'camera';
    const url = this.ingest.urlFor(id, body.userId, kind);
    // Extension: the same point over SRT (libs/live/src/srt), when the gateway takes SRT.
    const { app, stream, key } = this.ingest.pointFor(id, body.userId, kind);
    const srt = this.srt.publishUrl(app, stream, key);
    return { url, ...(srt ? { srt } : {}) };
  }

  #view(conference: Conference) {
    const { id, title, hostUserId, participants, members, workerSlots } = conference.snapshot();
    return { id, title, hostUserId, participants, members, mixTaskIds: this.conferences.mixTaskIds(id), workerSlots };
  }
}
