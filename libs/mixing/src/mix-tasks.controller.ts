import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { resourceId, ZodPipe } from '@gw/common';
import { RecordingService } from '@gw/live';
import { Allow, CurrentPrincipal, Principal } from '@gw/auth';
import { assertConferenceHost, ConferenceService } from '@gw/conference';
import { MixTask, MixTaskSpec } from './mix-task';
import { MixPlacement } from './mix-placement';
import { MAX_OVERLAYS } from './overlay';
import { MixingService } from './mixing.service';

const even = (min: number, max: number) => z.number().int().min(min).max(max).refine((n) => n % 2 === 0, 'must be even');
const cellSchema = z.strictObject({
  userId: resourceId,
  x: z.number().int().min(0).max(7680),
  y: z.number().int().min(0).max(4320),
  width: z.number().int().min(2).max(7680),
  height: z.number().int().min(2).max(4320),
  zOrder: z.number().int().min(0).max(100).default(0),
  fit: z.enum(['cover', 'contain', 'contain-down']).default('cover'),
});
export const layoutSchema = z
  .strictObject({ mode: z.enum(['grid', 'float', 'speaker', 'presentation', 'custom']), cells: z.array(cellSchema).max(16).optional() })
  .refine((l) => l.mode !== 'custom' || (l.cells && l.cells.length > 0), 'custom layout needs cells');
const urlSchema = z.string().min(1).max(2048);
const outputRef = z.union([urlSchema, z.strictObject({ url: urlSchema })]).transform((o) => (typeof o === 'string' ? o : o.url));
const colorSchema = z.string().regex(/^(#|0x)?[0-9a-fA-F]{6}$/, 'must be #rrggbb');
const imageUrl = z.url({ protocol: /^https?$/ }).max(2048);
/** A picture over every cell (overlay.ts): a solid colour, an image, or a line of text on a colour. */
const overlaySchema = z.strictObject({
  x: z.number().int().min(0).max(7680),
  y: z.number().int().min(0).max(4320),
  width: z.number().int().min(2).max(7680),
  height: z.number().int().min(2).max(4320),
  color: colorSchema.optional(),
  imageUrl: imageUrl.optional(),
  text: z.string().min(1).max(64).optional(),
});
const overlaysSchema = z.array(overlaySchema).max(MAX_OVERLAYS);

export const createMixTaskBody = z.strictObject({
  conferenceId: resourceId,
  outputs: z.array(z.strictObject({ url: urlSchema })).min(1).max(8),
  layout: layoutSchema.default({ mode: 'grid' }),
  video: z
    .strictObject({
      width: even(64, 1920).default(1280),
      height: even(64, 1080).default(720),
      fps: z.number().int().min(5).max(60).default(30),
      bitrateKbps: z.number().int().min(100).max(20000).default(2500),
      gopSeconds: z.number().min(0.5).max(10).default(2),
    })
    .default({ width: 1280, height: 720, fps: 30, bitrateKbps: 2500, gopSeconds: 2 }),
  audio: z
    .strictObject({
      sampleRate: z.union([z.literal(44100), z.literal(48000)]).default(48000),
      channels: z.union([z.literal(1), z.literal(2)]).default(2),
      bitrateKbps: z.number().int().min(32).max(320).default(128),
    })
    .default({ sampleRate: 48000, channels: 2, bitrateKbps: 128 }),
  background: z.strictObject({ color: colorSchema.optional(), imageUrl: imageUrl.optional() }).default({}),
  placeholders: z.record(resourceId, z.strictObject({ imageUrl })).optional(),
  overlays: overlaysSchema.optional(),
  /** Whether camera tiles carry the participants' display names (default true). */
  names: z.boolean().optional(),
  /** Records the task's own output from its start until it ends (GET /recordings/:id; admin or the conference's host). */
  record: z.boolean().optional(),
});

export const patchMixTaskBody = z.strictObject({
  sequence: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  layout: layoutSchema.optional(),
  volumes: z.record(resourceId, z.number().min(0).max(200)).optional(),
  addOutputs: z.array(outputRef).max(8).optional(),
  removeOutputs: z.array(outputRef).max(8).optional(),
  /** Replaces every overlay; `[]` removes them. */
  overlays: overlaysSchema.optional(),
  names: z.boolean().optional(),
});

@ApiTags('mix-tasks')
@ApiSecurity('admin')
@ApiBearerAuth()
@Controller('mix-tasks')
export class MixTasksController {
  constructor(
    @Inject(MixingService) private readonly mixing: MixingService,
    @Inject(ConferenceService) private readonly conferences: ConferenceService,
    @Inject(RecordingService) private readonly recordings: RecordingService,
    @Inject(MixPlacement) private readonly placement: MixPlacement,
  ) {}

  @Post()
  @HttpCode(201)
  @Allow('admin', 'host')
  @ApiBody({ schema: z.toJSONSchema(createMixTaskBody, { io: 'input' }) as object })
  async create(@CurrentPrincipal() principal: Principal, @Body(new ZodPipe(createMixTaskBody)) body: z.infer<typeof createMixTaskBody>) {
    // In a cluster the conference may live on another node (this node's copy of it answers).
    const conference = await this.conferences.obtain(body.conferenceId);
    assertConferenceHost(principal, body.conferenceId, conference);
    const spec: MixTaskSpec = {
      conferenceId: body.conferenceId,
      outputs: body.outputs.map((o) => o.url),
      layout: body.layout,
      settings: { video: body.video, audio: body.audio },
      background: body.background,
      placeholders: body.placeholders,
      overlays: body.overlays,
      ...(body.names !== undefined ? { names: body.names } : {}),
    };
    if (!body.record) {
      // Here when this node has room, else on the cluster's node with the most (mix-placement.ts).
      const { id, state, node } = await this.placement.create(spec);
      return { id, state, node };
    }
    // A recording is written on this node, so its mix runs here.
    const task = await this.mixing.create(spec);
    const { id, state } = task.view();
    return { id, state, node: this.placement.nodeId, recordingId: this.#record(task, conference.hostUserId) };
  }

  /** Records the task's output until it ends; a refusal (disk full) stops the task again, as it asked for what cannot be done. */
  #record(task: MixTask, hostUserId: string | undefined): string {
    let recordingId: string;
    try {
      recordingId = this.recordings.startSource(task, { mixTaskId: task.id, ownerUserId: hostUserId }).id;
    } catch (error) {
      void task.stop('its recording could not start');
      throw error;
    }
    const onState = ({ state }: { state: string }) => {
      if (state !== 'stopped' && state !== 'failed') return;
      task.off('state', onState);
      void this.recordings.stop(recordingId).catch(() => undefined);
    };
    task.on('state', onState);
    return recordingId;
  }

  @Get()
  @Allow('admin', 'host')
  list(@CurrentPrincipal() principal: Principal) {
    // Every node's mixes in a cluster, each with the `node` that runs it.
    return this.placement.list(principal);
  }

  @Get(':id')
  @Allow('admin', 'host')
  get(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string) {
    // On whichever node runs it (cluster mode); `node` names that node.
    return this.placement.operate(principal, id, { op: 'get' });
  }

  @Patch(':id')
  @Allow('admin', 'host')
  @ApiBody({ schema: z.toJSONSchema(patchMixTaskBody, { io: 'input' }) as object })
  async patch(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string, @Body(new ZodPipe(patchMixTaskBody)) body: z.infer<typeof patchMixTaskBody>) {
    return this.placement.operate(principal, id, {
      op: 'patch',
      patch: {
        sequence: body.sequence,
        layout: body.layout,
        volumes: body.volumes && Object.fromEntries(Object.entries(body.volumes).map(([u, v]) => [u, v / 100])),
        addOutputs: body.addOutputs,
        removeOutputs: body.removeOutputs,
        overlays: body.overlays,
        names: body.names,
      },
    });
  }

  @Delete(':id')
  @Allow('admin', 'host')
  async remove(@CurrentPrincipal() principal: Principal, @Param('id', new ZodPipe(resourceId)) id: string) {
    return this.placement.operate(principal, id, { op: 'stop' });
  }
}
