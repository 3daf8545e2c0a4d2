import { labelBox, MAX_LABEL_CHARS } from './labels';
import { ConflictError, LineLogger, redactUrl, TypedEmitter } from '@gw/common';
import type { Conference } from '@gw/conference';
import { Compositor, CellPicture } from './compositor';
import { OutputSettings } from './ffmpeg-args';
import { FLV_VIDEO, FlvTag, FlvTagReader, GopCache, isCodecConfig, isVideoKeyframe, RtmpOutput, TimelineStitcher } from '@gw/live';
import { Cell, computeLayout, LayoutSpec } from './layout';
import { MixInput } from './mix-input';
import { OverlaySpec, PlacedOverlay, placeOverlays } from './overlay';
import { assertOutputAllowed } from './output-policy';
import { SpeakerSelector } from './speaker-selector';
import { parseColor, StillRenderer } from './stills';
import { UdpPortAllocator } from './udp-ports';
import { blankFrame, rgbToYuv, YuvFrame } from './yuv-frame';

export type MixTaskState = 'starting' | 'active' | 'stopping' | 'stopped' | 'failed';

export interface MixTaskSpec {
  conferenceId: string;
  outputs: string[];
  layout: LayoutSpec;
  settings: OutputSettings;
  background: { color?: string; imageUrl?: string };
  /** Per-user placeholder image for when they show no video. */
  placeholders?: Record<string, { imageUrl?: string }>;
  /** Main picture for `float`; default the conference host. */
  hostUserId?: string;
  /** Pictures over every cell (see overlay.ts); replaced live with setOverlays or a patch. */
  overlays?: OverlaySpec[];
  /**
   * Who this mix shows and hears; default everyone in the conference. Others
   * are not decoded at all (a PK side leaves out the other channel's guests).
   * Changed live with setScope.
   */
  participants?: string[];
  /** Whether camera tiles carry their participants' display names (default true); changed live by a patch. */
  names?: boolean;
}

export interface MixTaskPatch {
  sequence: number;
  layout?: LayoutSpec;
  volumes?: Record<string, number>;
  addOutputs?: string[];
  removeOutputs?: string[];
  /** Replaces every overlay ([] removes them). */
  overlays?: OverlaySpec[];
  /** Shows (true) or hides (false) the display names on the tiles. */
  names?: boolean;
}

export class SequenceOutOfOrderError extends ConflictError {
  constructor(current: number, got: number) {
    super(`sequence ${got} is not after ${current}`, 'SEQUENCE_OUT_OF_ORDER');
  }
}

export class MixTaskEndedError extends ConflictError {
  constructor(id: string) {
    super(`mix task ${id} has ended`, 'MIX_TASK_ENDED');
  }
}

interface MixTaskEvents extends Record<string, unknown[]> {
  state: [{ taskId: string; conferenceId: string; state: MixTaskState; reason?: string }];
  /** A patch was applied (what a node taking the mix over must start it with; mix-placement.ts). */
  patched: [MixTaskPatch];
}

/** An in-process consumer of the mix (a channel's program): gets every tag; closed when the task ends. */
export interface MixSink {
  readonly name: string;
  push(tag: FlvTag): void;
  close(): void;
}

export interface MixTaskDeps {
  conference: Conference;
  /** Optional in-process output besides the RTMP outputs. */
  sink?: MixSink;
  ffmpegPath: string;
  ports: UdpPortAllocator;
  stills: StillRenderer;
  outputAllow: string[];
  /** See MixingServiceOptions.publishUrl. */
  publishUrl?: (url: string) => string;
  audioDelayMs?: number;
  logger: LineLogger;
}

/** A picture older than this is a stall: the cell shows the placeholder and a keyframe is requested. */
const STALL_MS = 2000;
/**
 * A participant who has just joined is left out of the layout until their
 * first picture is decoded, for at most this long: viewers see the picture
 * as it was, then the newcomer, never a placeholder card for the second or
 * so a new sender takes to start. After it, a sender that shows nothing gets
 * its placeholder (it is there, and silent or broken).
 */
const FIRST_PICTURE_GRACE_MS = 3000;

/** A screen share's tile id (a cell's `userId` in the layout): its participant's id and `:screen`. */
const screenTile = (userId: string) => `${userId}:screen`;
const isScreenTile = (id: string) => id.endsWith(':screen');

/**
 * A mix task (MCS): every participant of a conference composed into one stream
 * and pushed to its RTMP outputs. It owns its inputs (one decoder per
 * participant), the compositor (canvas clock + encoder), the FLV fan-out with
 * its GOP cache, and one relay per output. Participants come and go, layouts,
 * volumes and outputs change, and the encoder may be restarted, all without
 * the outputs reconnecting. stop() is idempotent and ends every process.
 */
export class MixTask extends TypedEmitter<MixTaskEvents> {
  #state: MixTaskState = 'starting';
  #reason: string | undefined;
  #sequence = 0;
  #layout: LayoutSpec;
  /** See MixTaskSpec.participants (undefined: everyone). */
  #scope: Set<string> | undefined;
  readonly #inputs = new Map<string, MixInput>();
  /** Each participant's latest decoded picture's time, and the picture last drawn of them (kept through a rejoin). */
  readonly #frames = new Map<string, { frame?: YuvFrame; at: number }>();
  readonly #placeholders = new Map<string, YuvFrame>();
  readonly #outputs = new Map<string, RtmpOutput>();
  readonly #volumes = new Map<string, number>();
  readonly #compositor: Compositor;
  readonly #gop = new GopCache();
  /** In-process readers of the output beside the outputs and the sink (a recording). */
  readonly #taps = new Set<(tag: FlvTag) => void>();
  readonly #stitcher = new TimelineStitcher();
  #reader = new FlvTagReader();
  readonly #speaker = new SpeakerSelector();
  #cells: Cell[] = [];
  #reconcile: Promise<void> = Promise.resolve();
  #speakerTimer: NodeJS.Timeout | undefined;
  #flvBytes: { at: number; bytes: number }[] = [];
  #mediaClock: { at: number; ts: number }[] = [];
  readonly #unsubscribe: (() => void)[] = [];
  readonly createdAt = Date.now();
  #firstOutputAt: number | undefined;
  /** Participants whose picture this task has decoded at least once (they keep their cell through a stall or a rejoin). */
  readonly #shown = new Set<string>();
  /** When each screen share showed its first picture (the newest is the presentation's large one). */
  readonly #shareShownAt = new Map<string, number>();
  #lastOrder = '';
  /** The encoder session's number and its video frames put out so far (see whenKeyframeShows). */
  #encoderSession = 0;
  #videoTagsThisSession = 0;
  readonly #keyframeWaiters = new Set<{ session: number; from: number; fire: () => void; giveUp: () => void }>();
  /** The speaker the layout last showed large. */
  #lastMain: string | undefined;
  /** The overlays on the canvas now, and the number of the latest set asked for (a newer set supersedes one still rendering). */
  #overlays: PlacedOverlay[] = [];
  /** The name labels drawn now (for the REST view), and the number of the latest set asked for. */
  #labels: { userId: string; text: string; x: number; y: number; width: number; height: number }[] = [];
  #labelGeneration = 0;
  #overlayGeneration = 0;

  private constructor(
    readonly id: string,
    readonly spec: MixTaskSpec,
    private readonly deps: MixTaskDeps,
    background: YuvFrame,
  ) {
    super();
    this.#layout = spec.layout;
    this.#scope = spec.participants ? new Set(spec.participants) : undefined;
    this.#compositor = new Compositor(
      { taskId: id, settings: spec.settings, ffmpegPath: deps.ffmpegPath, audioDelayMs: deps.audioDelayMs, logger: deps.logger },
      background,
    );
  }

  static async start(id: string, spec: MixTaskSpec, deps: MixTaskDeps): Promise<MixTask> {
    for (const url of spec.outputs) assertOutputAllowed(url, deps.outputAllow);
    const { width, height } = spec.settings.video;
    const background = await deps.stills.render({ width, height, color: spec.background.color ?? '#101010', imageUrl: spec.background.imageUrl });
    const task = new MixTask(id, spec, deps, background);
    await task.#begin();
    return task;
  }

  get state(): MixTaskState {
    return this.#state;
  }

  get conferenceId(): string {
    return this.spec.conferenceId;
  }

  get ended(): boolean {
    return this.#state === 'stopped' || this.#state === 'failed';
  }

  #finishing(): boolean {
    return this.ended || this.#state === 'stopping';
  }

  /** Epoch ms when the first output went live (for the start-time figure). */
  get firstOutputAt(): number | undefined {
    return this.#firstOutputAt;
  }

  async patch(patch: MixTaskPatch): Promise<void> {
    if (this.#finishing()) throw new MixTaskEndedError(this.id);
    if (patch.sequence <= this.#sequence) throw new SequenceOutOfOrderError(this.#sequence, patch.sequence);
    for (const url of patch.addOutputs ?? []) assertOutputAllowed(url, this.deps.outputAllow);
    const removing = new Set(patch.removeOutputs ?? []);
    for (const url of removing) {
      if (!this.#findOutput(url)) throw new ConflictError(`output ${redactUrl(url)} is not part of this task`, 'OUTPUT_NOT_FOUND');
    }
    this.#sequence = patch.sequence;
    for (const [userId, volume] of Object.entries(patch.volumes ?? {})) {
      this.#volumes.set(userId, volume);
      this.#compositor.mixer.setGain(userId, volume);
    }
    for (const url of removing) {
      const key = this.#findOutput(url)!;
      const output = this.#outputs.get(key)!;
      this.#outputs.delete(key);
      await output.stop();
    }
    for (const url of patch.addOutputs ?? []) if (!this.#outputs.has(url)) this.#addOutput(url);
    if (patch.overlays) await this.setOverlays(patch.overlays);
    if (patch.names !== undefined && patch.names !== (this.spec.names !== false)) {
      this.spec.names = patch.names;
      await this.#refreshLabels();
    }
    if (patch.layout) {
      this.#layout = patch.layout;
      this.#relayout();
    }
    this.emit('patched', patch);
  }

  /**
   * Replaces the overlays drawn over the picture. They are rendered first and
   * swapped in as a whole at the next frame (the outputs go on unchanged);
   * when calls overlap, the latest one wins even if an earlier one finishes
   * rendering after it. Solid fills are made in-process; images and text by
   * the still renderer (cached by what they show, so a countdown's texts are
   * rendered once per task size).
   */
  async setOverlays(overlays: OverlaySpec[]): Promise<void> {
    if (this.#finishing()) throw new MixTaskEndedError(this.id);
    const generation = ++this.#overlayGeneration;
    const { width, height } = this.spec.settings.video;
    const placed = placeOverlays(overlays, { width, height });
    const frames = await Promise.all(
      placed.map((o) =>
        o.imageUrl || o.text
          ? this.deps.stills.render({ width: o.width, height: o.height, color: o.color, imageUrl: o.imageUrl, text: o.text, fontSize: Math.max(10, Math.round(o.height * 0.7)) })
          : Promise.resolve(blankFrame(o.width, o.height, rgbToYuv(parseColor(o.color)))),
      ),
    );
    if (generation !== this.#overlayGeneration || this.#finishing()) return;
    this.#overlays = placed;
    this.#compositor.setOverlays(placed.map((o, i) => ({ x: o.x, y: o.y, frame: frames[i] })));
  }

  /**
   * Changes who the mix shows and hears (undefined: everyone) and, with it,
   * the layout, live: newcomers are decoded, those left out stop at once.
   */
  async setScope(participants: string[] | undefined, layout?: LayoutSpec): Promise<void> {
    if (this.#finishing()) throw new MixTaskEndedError(this.id);
    this.#scope = participants ? new Set(participants) : undefined;
    if (layout) this.#layout = layout;
    this.#relayout();
    await this.#schedule(() => this.#syncInputs());
  }

  async stop(reason = 'stopped'): Promise<void> {
    if (this.#finishing()) return;
    this.#setState('stopping', reason);
    await this.#teardown();
    this.#setState('stopped', reason);
  }

  view() {
    const now = Date.now();
    this.#flvBytes = this.#flvBytes.filter((b) => now - b.at < 5000);
    this.#mediaClock = this.#mediaClock.filter((m) => now - m.at < 5000);
    const bytes = this.#flvBytes.reduce((a, b) => a + b.bytes, 0);
    const span = this.#flvBytes.length > 1 ? (now - this.#flvBytes[0].at) / 1000 : 0;
    const clock = this.#mediaClock;
    const speed = clock.length > 1 ? (clock[clock.length - 1].ts - clock[0].ts) / Math.max(1, clock[clock.length - 1].at - clock[0].at) : 0;
    return {
      id: this.id,
      conferenceId: this.conferenceId,
      state: this.#state,
      ...(this.#reason ? { reason: this.#reason } : {}),
      sequence: this.#sequence,
      layout: { ...this.#layout, cells: this.#cells },
      overlays: this.#overlays,
      names: this.spec.names !== false,
      labels: this.#labels,
      video: this.spec.settings.video,
      audio: this.spec.settings.audio,
      volumes: Object.fromEntries(this.#volumes),
      // The URL as given (the output may publish to a signed one).
      outputs: [...this.#outputs].map(([url, o]) => ({ url: redactUrl(url), state: o.state, retries: o.retries })),
      ...(this.deps.sink ? { sink: this.deps.sink.name } : {}),
      stats: {
        fps: this.#compositor.fps,
        bitrateKbps: span > 0 ? Math.round((bytes * 8) / span / 1000) : 0,
        speed: Math.round(speed * 100) / 100,
        encoderRestarts: this.#compositor.restarts,
        droppedFrames: this.#compositor.droppedFrames,
        maxWriteGapMs: this.#compositor.maxWriteGapMs,
      },
      participants: [...this.#inputs.keys()],
      // How old each participant's latest decoded picture is (null: none yet); past STALL_MS the cell shows the placeholder.
      pictures: Object.fromEntries(
        [...this.#inputs].map(([u, input]) => {
          const latest = this.#frames.get(u);
          const layers = input.layers;
          return [u, { ageMs: latest ? now - latest.at : null, stalled: !latest || now - latest.at >= STALL_MS, fps: input.fps, keyframesAfterLoss: input.keyframesAfterLoss, playout: input.playout, ...(layers ? { layers } : {}) }];
        }),
      ),
      processes: {
        encoder: this.#compositor.pid ?? null,
        decoders: Object.fromEntries([...this.#inputs].map(([u, i]) => [u, i.pid ?? null])),
        // Each participant's audio has its own decoder (mix-input.ts): for a participant without video, decoders names it too.
        audioDecoders: Object.fromEntries([...this.#inputs].map(([u, i]) => [u, i.audioPid ?? null])),
        outputs: [...this.#outputs.values()].map((o) => o.pid ?? null),
      },
    };
  }

  /**
   * Resolves true once every one of `userIds` has a fresh decoded picture in
   * the mix (what the next frames will show), false after `timeoutMs` or when
   * the task ends first.
   */
  /**
   * Once every one of `userIds` has a fresh picture, waits for the encoder's
   * first keyframe composed after that and calls `onKeyframe` synchronously
   * just before that keyframe goes to the sink: a channel's program asked
   * there to show this feed splices it in at exactly that keyframe, so from
   * it on every frame shows them. Resolves true then; false (without calling
   * `onKeyframe`) after `timeoutMs` or when the task ends first.
   */
  async whenKeyframeShows(userIds: string[], timeoutMs: number, onKeyframe: () => void): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    // Fresh pictures of each, from decoders that caught up with their input: a keyframe composed from a
    // decoder still racing through its start-up backlog showed the host up to 640 ms in the past, and the
    // viewer saw time go back at the splice.
    if (!(await this.waitForPictures(userIds, timeoutMs, true))) return false;
    return new Promise((resolve) => {
      // Frames from this index on were composed with those pictures; the encoder emits them in order, one
      // video tag each (no B-frames, no drops), so a keyframe at or past this index shows them.
      const waiter = {
        session: this.#encoderSession,
        from: this.#compositor.framesWritten,
        fire: () => {
          clearTimeout(timer);
          this.#keyframeWaiters.delete(waiter);
          onKeyframe();
          resolve(true);
        },
        giveUp: () => {
          clearTimeout(timer);
          this.#keyframeWaiters.delete(waiter);
          resolve(false);
        },
      };
      const timer = setTimeout(() => waiter.giveUp(), Math.max(0, deadline - Date.now()));
      this.#keyframeWaiters.add(waiter);
    });
  }

  waitForPictures(userIds: string[], timeoutMs: number, caughtUp = false): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve) => {
      const check = () => {
        const now = Date.now();
        const fresh = (userId: string) => {
          const latest = this.#frames.get(userId);
          return latest !== undefined && now - latest.at < STALL_MS && (!caughtUp || this.#inputs.get(userId)?.caughtUp !== false);
        };
        if (userIds.every(fresh)) return resolve(true);
        if (this.ended || now >= deadline) return resolve(false);
        setTimeout(check, 20);
      };
      check();
    });
  }

  /** Every process this task runs (for leak checks). */
  pids(): number[] {
    return [this.#compositor.pid, ...[...this.#inputs.values()].flatMap((i) => [i.pid, i.audioPid]), ...[...this.#outputs.values()].map((o) => o.pid)].filter(
      (p): p is number => p !== undefined,
    );
  }

  async #begin(): Promise<void> {
    const { conference } = this.deps;
    const resync = () => this.#schedule(() => this.#syncInputs());
    for (const event of ['participantJoined', 'participantLeft', 'newProducer', 'producerClosed'] as const) {
      conference.on(event, resync);
      this.#unsubscribe.push(() => conference.off(event, resync));
    }
    const onName = () => void this.#refreshLabels();
    conference.on('displayName', onName);
    this.#unsubscribe.push(() => conference.off('displayName', onName));
    const onClosed = () => void this.stop('conference ended');
    conference.once('closed', onClosed);
    this.#unsubscribe.push(() => conference.off('closed', onClosed));
    // The mix needs everyone's media on the SFU: no direct paths between its participants while it runs.
    this.#unsubscribe.push(conference.holdServerMedia());

    this.#compositor.setPictureSource((atMs) => this.#pictures(atMs));
    this.#compositor.on('session', ({ restarted, pid }) => {
      this.#encoderSession += 1;
      this.#videoTagsThisSession = 0;
      this.#reader = new FlvTagReader();
      this.#stitcher.newSession();
      if (restarted) this.deps.logger.warn(`mix ${this.id}: encoder restarted (pid ${pid}); outputs kept`);
    });
    this.#compositor.on('flv', (chunk) => this.#onFlv(chunk));
    this.#compositor.on('failed', ({ reason }) => void this.#fail(reason));
    if (this.spec.overlays?.length) await this.setOverlays(this.spec.overlays);
    await this.#compositor.start();
    this.#relayout();
    for (const url of this.spec.outputs) this.#addOutput(url);
    await this.#schedule(() => this.#syncInputs());
    this.#speakerTimer = setInterval(() => this.#checkSpeakerAndStalls(), 250);
  }

  #onFlv(chunk: Buffer): void {
    let tags;
    try {
      tags = this.#reader.push(chunk);
    } catch (error) {
      this.deps.logger.error(`mix ${this.id}: bad encoder output: ${(error as Error).message}`);
      return;
    }
    if (this.#reader.header) this.#gop.setHeader(this.#reader.header);
    const now = Date.now();
    this.#flvBytes.push({ at: now, bytes: chunk.length });
    // Stats keep five seconds; prune here, on the hot path's own schedule, so nothing grows unread.
    while (this.#flvBytes.length && now - this.#flvBytes[0].at >= 5000) this.#flvBytes.shift();
    while (this.#mediaClock.length && now - this.#mediaClock[0].at >= 5000) this.#mediaClock.shift();
    for (const raw of tags) {
      if (raw.type === FLV_VIDEO && !isCodecConfig(raw) && raw.raw[12] !== 2) {
        if (isVideoKeyframe(raw)) {
          // A waiter from an earlier encoder session: this session began after it was ready.
          for (const w of [...this.#keyframeWaiters]) if (w.session !== this.#encoderSession || this.#videoTagsThisSession >= w.from) w.fire();
        }
        this.#videoTagsThisSession += 1;
      }
      const tag = this.#stitcher.place(raw);
      this.#gop.add(tag);
      if (tag.type === FLV_VIDEO) this.#mediaClock.push({ at: now, ts: tag.timestamp });
      for (const output of this.#outputs.values()) output.write(tag);
      for (const listener of this.#taps) listener(tag);
      if (this.deps.sink) {
        this.deps.sink.push(tag);
        if (this.#state === 'starting' && isVideoKeyframe(tag)) {
          this.#firstOutputAt ??= now;
          this.#setState('active');
        }
      }
    }
  }

  /** Hears every tag of the mix's output (on its one timeline, across encoder restarts) until the returned function is called. */
  tap(listener: (tag: FlvTag) => void): () => void {
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  /** What a new reader of the output needs first: FLV header, configs and the current GOP; null before the first keyframe. */
  snapshot(): Buffer | null {
    return this.#gop.snapshot();
  }

  #addOutput(url: string): void {
    const output = new RtmpOutput({
      taskId: this.id,
      url: this.deps.publishUrl?.(url) ?? url,
      ffmpegPath: this.deps.ffmpegPath,
      logger: this.deps.logger,
      snapshot: () => this.#gop.snapshot(),
    });
    output.on('state', ({ state }) => this.#onOutputState(state));
    this.#outputs.set(url, output);
    output.start();
  }

  #onOutputState(state: string): void {
    if (state === 'live' && this.#state === 'starting') {
      this.#firstOutputAt ??= Date.now();
      this.#setState('active');
    }
    const outputs = [...this.#outputs.values()];
    if (!this.deps.sink && outputs.length > 0 && outputs.every((o) => o.state === 'failed')) void this.#fail('every output failed');
  }

  #findOutput(url: string): string | undefined {
    if (this.#outputs.has(url)) return url;
    // Callers may only know the redacted form.
    return [...this.#outputs.keys()].find((u) => redactUrl(u) === url);
  }

  /** Serialises input changes so concurrent conference events cannot race. */
  #schedule(work: () => Promise<void>): Promise<void> {
    this.#reconcile = this.#reconcile.then(work).catch((error: Error) => this.deps.logger.error(`mix ${this.id}: ${error.message}`));
    return this.#reconcile;
  }

  /** Brings the inputs in line with the conference: one per participant with producers. */
  async #syncInputs(): Promise<void> {
    if (this.#finishing()) return;
    const { conference } = this.deps;
    // By tile: a participant's camera and microphone, and its screen share (with the share's sound) apart.
    const wanted = new Map<string, { audio?: string; video?: string }>();
    for (const tile of this.#tiles()) wanted.set(tile.id, {});
    for (const p of conference.producersExcept('')) {
      const entry = wanted.get(p.screen ? screenTile(p.userId) : p.userId);
      if (entry) entry[p.kind] = p.producerId;
    }
    const stopping: Promise<void>[] = [];
    for (const [userId, input] of [...this.#inputs]) {
      const want = wanted.get(userId);
      const have = input.producerIds;
      if (!want || want.audio !== have.audio || want.video !== have.video) {
        this.#inputs.delete(userId);
        stopping.push(input.stop());
        if (!want) {
          // A share that ends leaves the layout; the next one enters it with its first picture again.
          if (isScreenTile(userId)) {
            this.#shown.delete(userId);
            this.#shareShownAt.delete(userId);
          }
          this.#frames.delete(userId);
          this.#compositor.mixer.remove(userId);
          this.#speaker.remove(userId);
        }
      }
    }
    // Who left is off the layout at once (a departed guest's cell would show its placeholder while
    // its decoder stops); the layout is computed again below for who is still being set up.
    this.#relayout();
    // In parallel: a worker's death takes every input at once.
    await Promise.all(stopping);
    this.#relayout();
    for (const [userId, producers] of wanted) {
      if (this.#inputs.has(userId) || (!producers.audio && !producers.video)) continue;
      // A newcomer not in the layout yet is decoded at the size of the cell they will get.
      const cell = this.#cells.find((c) => c.userId === userId) ?? this.#computeCells(this.#tiles().map((t) => t.id)).find((c) => c.userId === userId);
      const { fps } = this.spec.settings.video;
      try {
        const input = await MixInput.start({
          taskId: this.id,
          conference,
          userId,
          producers,
          cell: cell ? { width: cell.width, height: cell.height, fit: cell.fit } : { width: 160, height: 90, fit: 'cover' },
          fps,
          audio: { sampleRate: this.spec.settings.audio.sampleRate, channels: this.spec.settings.audio.channels },
          ports: this.deps.ports,
          ffmpegPath: this.deps.ffmpegPath,
          logger: this.deps.logger,
          onFrame: () => {
            const seen = this.#frames.get(userId);
            if (seen) seen.at = Date.now();
            else this.#frames.set(userId, { at: Date.now() });
            if (!this.#shown.has(userId)) {
              this.#shown.add(userId);
              if (isScreenTile(userId)) this.#shareShownAt.set(userId, Date.now());
              this.#relayout();
            }
          },
          onAudio: (pcm) => this.#compositor.mixer.push(userId, pcm),
          onAudioPaused: () => this.#compositor.mixer.flush(userId),
          onLost: () => this.#onInputLost(userId),
        });
        if (this.#finishing()) {
          await input.stop();
          return;
        }
        this.#inputs.set(userId, input);
        const volume = this.#volumes.get(userId);
        if (volume !== undefined) this.#compositor.mixer.setGain(userId, volume);
      } catch (error) {
        this.deps.logger.warn(`mix ${this.id}: cannot add ${userId}: ${(error as Error).message}`);
      }
    }
  }

  /**
   * An input's consumers closed under it (the worker hosting the mixer's transport
   * died) while its producers may live on: drop it, and the next sync makes a new one.
   */
  #onInputLost(userId: string): void {
    void this.#schedule(async () => {
      const input = this.#inputs.get(userId);
      if (!input || !input.lost) return;
      this.#inputs.delete(userId);
      await input.stop();
      this.deps.logger.warn(`mix ${this.id}: lost its consumers of ${userId}; consuming again`);
      await this.#syncInputs();
    });
  }

  /** Who is in the layout, in the order they joined (see FIRST_PICTURE_GRACE_MS). */
  /**
   * The tiles in the layout, in order: a participant's camera once it showed a picture or its grace
   * ran out; a screen share once it showed a picture (never a placeholder for a share that has not
   * begun), after everyone's cameras.
   */
  #order(): string[] {
    const now = Date.now();
    return this.#tiles()
      .filter((t) => this.#shown.has(t.id) || (!t.screen && now - t.joinedAt >= FIRST_PICTURE_GRACE_MS))
      .map((t) => t.id);
  }

  /**
   * Every tile this mix may show: each participant in scope has one for its
   * camera (a placeholder when it sends no video), unless all it sends is a
   * screen share (an RTMP presentation PC); each screen share has its own
   * (`<userId>:screen`), after the cameras, in the order the shares began.
   */
  #tiles(): { id: string; screen: boolean; joinedAt: number }[] {
    const producers = this.deps.conference.producersExcept('');
    const cameras: { id: string; screen: boolean; joinedAt: number }[] = [];
    const screens: { id: string; screen: boolean; joinedAt: number }[] = [];
    for (const p of this.#inScope()) {
      const own = producers.filter((x) => x.userId === p.userId);
      if (own.some((x) => x.screen)) screens.push({ id: screenTile(p.userId), screen: true, joinedAt: p.joinedAt });
      if (own.length === 0 || own.some((x) => !x.screen)) cameras.push({ id: p.userId, screen: false, joinedAt: p.joinedAt });
    }
    // Shares in the order they began (their first picture): the presentation layout shows the newest large.
    const began = (id: string) => this.#shareShownAt.get(id) ?? Infinity;
    screens.sort((a, b) => began(a.id) - began(b.id));
    return [...cameras, ...screens];
  }

  /** The conference's participants this mix composes (see MixTaskSpec.participants). */
  #inScope() {
    const scope = this.#scope;
    const all = this.deps.conference.participants;
    return scope ? all.filter((p) => scope.has(p.userId)) : all;
  }

  #computeCells(userIds: string[]): Cell[] {
    const { width, height } = this.spec.settings.video;
    return computeLayout({
      spec: this.#layout,
      canvas: { width, height },
      userIds,
      hostUserId: this.spec.hostUserId ?? this.deps.conference.hostUserId,
      activeSpeaker: this.#speaker.current(Date.now()),
      screens: userIds.filter(isScreenTile),
    });
  }

  #relayout(): void {
    const order = this.#order();
    this.#lastOrder = order.join('\n');
    this.#cells = this.#computeCells(order);
    for (const cell of this.#cells) {
      void this.#inputs.get(cell.userId)?.resize({ width: cell.width, height: cell.height, fit: cell.fit });
      const key = `${cell.userId}:${cell.width}x${cell.height}`;
      if (!this.#placeholders.has(key)) {
        void this.deps.stills
          .render({ width: cell.width, height: cell.height, color: '#303030', text: cell.userId, imageUrl: this.spec.placeholders?.[cell.userId]?.imageUrl })
          .then((frame) => this.#placeholders.set(key, frame));
      }
    }
    void this.#refreshLabels();
  }

  /**
   * Renders the display name of every cell's participant that has one
   * (labels.ts places it), and hands the set to the compositor once all are
   * rendered; a newer set (a name or the layout changed meanwhile) wins.
   */
  async #refreshLabels(): Promise<void> {
    const generation = ++this.#labelGeneration;
    const wanted = this.spec.names === false ? [] : this.#cells.flatMap((cell) => {
      const text = this.deps.conference.displayName(cell.userId);
      const box = text ? labelBox(cell, text) : undefined;
      return box && text ? [{ userId: cell.userId, text, ...box }] : [];
    });
    const frames = await Promise.all(
      wanted.map((l) => this.deps.stills.render({ width: l.width, height: l.height, color: '#101010', text: [...l.text].slice(0, MAX_LABEL_CHARS).join(''), fontSize: l.fontSize })),
    );
    if (generation !== this.#labelGeneration || this.ended) return;
    this.#labels = wanted.map(({ userId, text, x, y, width, height }) => ({ userId, text, x, y, width, height }));
    this.#compositor.setLabels(wanted.map((l, i) => ({ x: l.x, y: l.y, frame: frames[i] })));
  }

  /** What each cell shows in the output frame due at atMs (performance.now()). */
  #pictures(atMs: number): CellPicture[] {
    const now = Date.now();
    return this.#cells.map((cell) => {
      const latest = this.#frames.get(cell.userId);
      const input = this.#inputs.get(cell.userId);
      // The input's picture for this frame; without an input (between a leave and a rejoin), the last one drawn.
      if (latest && input) latest.frame = input.pictureAt(atMs) ?? latest.frame;
      const fresh = latest?.frame && now - latest.at < STALL_MS && !input?.videoPaused;
      return { cell, frame: fresh ? latest.frame : this.#placeholders.get(`${cell.userId}:${cell.width}x${cell.height}`) };
    });
  }

  #checkSpeakerAndStalls(): void {
    const order = this.#order().join('\n');
    if (order !== this.#lastOrder) {
      // A newcomer's grace ran out without a picture: they get their cell (and its placeholder) now.
      this.#lastOrder = order;
      this.#relayout();
    }
    if (this.#layout.mode === 'speaker') {
      // The mixer hears every participant as mixed, RTMP ones included (their RTP carries no
      // RFC 6464 audio levels, so mediasoup's observers cannot rank them): the loudest decoded
      // source is the candidate, and the selector's hysteresis decides when the layout follows.
      const loudest = this.#compositor.mixer.loudest();
      if (loudest) this.#speaker.observe(loudest, Date.now());
      const speaker = this.#speaker.current(Date.now());
      if (speaker !== this.#lastMain) {
        this.#lastMain = speaker;
        this.#relayout();
      }
    }
    const now = Date.now();
    for (const [userId, input] of this.#inputs) {
      const latest = this.#frames.get(userId);
      if (input.producerIds.video && !input.videoPaused && latest && now - latest.at > STALL_MS) input.requestKeyframe();
    }
  }

  async #fail(reason: string): Promise<void> {
    if (this.ended) return;
    await this.#teardown();
    this.#setState('failed', reason);
  }

  async #teardown(): Promise<void> {
    clearInterval(this.#speakerTimer);
    for (const waiter of [...this.#keyframeWaiters]) waiter.giveUp();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await this.#reconcile;
    await Promise.all([...this.#outputs.values()].map((o) => o.stop()));
    await this.#compositor.stop();
    await Promise.all([...this.#inputs.values()].map((i) => i.stop()));
    this.#inputs.clear();
    this.deps.sink?.close();
  }

  #setState(state: MixTaskState, reason?: string): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#reason = reason;
    this.deps.logger.log(`mix ${this.id}: ${state}${reason ? ` (${reason})` : ''}`);
    this.emit('state', { taskId: this.id, conferenceId: this.conferenceId, state, reason });
  }
}
