/**
 * Every ffmpeg command line of the mixer, built by pure functions so specs can
 * assert the exact arrays (the immich style). The pipeline:
 *
 *   participant RTP ──► decoder (one per participant) ──► raw I420 cells + s16le PCM ──┐
 *                                                                                     ▼
 *   compositor in Node (blits cells on the canvas at a steady clock, mixes PCM) ──► encoder
 *   encoder (H.264 + AAC in FLV) ──► Node fan-out (GOP cache) ──► one relay per RTMP output
 */
import type { Fit } from './layout';

export interface RtpStreamDescription {
  kind: 'audio' | 'video';
  port: number;
  payloadType: number;
  /** e.g. opus, VP8, H264 */
  codecName: string;
  clockRate: number;
  channels?: number;
  /** fmtp parameters */
  parameters?: Record<string, string | number>;
}

/** An SDP that tells ffmpeg where RTP for each stream arrives (RTCP on port + 1). */
export function buildSdp(streams: RtpStreamDescription[]): string {
  const lines = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=mix-input', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (const s of streams) {
    lines.push(`m=${s.kind} ${s.port} RTP/AVP ${s.payloadType}`);
    lines.push(`a=rtpmap:${s.payloadType} ${s.codecName}/${s.clockRate}${s.channels ? `/${s.channels}` : ''}`);
    const fmtp = Object.entries(s.parameters ?? {}).map(([k, v]) => `${k}=${v}`);
    if (fmtp.length) lines.push(`a=fmtp:${s.payloadType} ${fmtp.join(';')}`);
    lines.push('a=recvonly');
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Scales (and pads or crops) a picture to exactly width × height. */
export function fitFilter(width: number, height: number, fit: Fit, padColor = 'black'): string {
  if (fit === 'contain-down') {
    // Never enlarged: a source smaller than the cell keeps its size, centred (a screen's text stays sharp).
    return `scale=w='min(iw,${width})':h='min(ih,${height})':force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bicubic,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=${padColor}`;
  }
  return fit === 'contain'
    ? `scale=${width}:${height}:force_original_aspect_ratio=decrease:flags=bilinear,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=${padColor}`
    : `scale=${width}:${height}:force_original_aspect_ratio=increase:flags=bilinear,crop=${width}:${height}`;
}

export interface DecoderArgsInput {
  /** The SDP of the participant's video stream, when it sends video. */
  videoSdp?: string;
  /** The SDP of its audio stream, when it sends audio. */
  audioSdp?: string;
  /** Present with videoSdp: the cell it is drawn into. */
  video?: { width: number; height: number; fps: number; fit: Fit };
  /** Present with audioSdp. */
  audio?: { sampleRate: number; channels: number };
  /** How long to probe the RTP, in ms. Default 2000. */
  probeMs?: number;
}

/**
 * How long a participant's decoder waits for a missing video packet before it gives up on it (ffmpeg's
 * default for SDP input is 100 ms). The queue only holds anything while a packet is missing, and a packet
 * the SFU lost on a sender's uplink comes back by NACK/RTX one round trip later, so the wait covers one
 * retransmission on a path of up to ~120 ms RTT; past it the picture is broken and the mix asks for a
 * keyframe at once. Measured on the lossy bench (no delay there: this kernel has no netem) with worker
 * patch 0002 (before it most losses were never NACKed, and 80-500 ms all gave ~0.8x at 5 % loss): 150 ms
 * gave 0.97x of the clean picture rate at 5 % loss and 0.90x at 15 %, 250 ms 0.80x at 15 % (each late
 * packet held the picture longer, then its frames came as a burst the compositor shows only the last of).
 */
export const VIDEO_REORDER_WAIT_MS = 150;
/**
 * The same for audio: nothing resends a lost Opus packet, so waiting for it only holds the sound back
 * (each loss held the audio 100–250 ms, then came as a burst the mix's jitter buffer trimmed).
 */
export const AUDIO_REORDER_WAIT_MS = 20;
/** The audio input's probe (see buildDecoderArgs). */
export const AUDIO_PROBE_MS = 200;

/**
 * Prints `frame:<n> pts:<pts> pts_time:<seconds>` (then `mix_pts=1`) for every picture to fd 3, flushed at
 * once: the metadata filter prints only frames that carry the key it is given, so the key is added first.
 * Two levels of escaping for the colon of `pipe:3` (the filter graph's, then the filter's options').
 */
export const PICTURE_TIMESTAMPS_FILTER = 'metadata=mode=add:key=mix_pts:value=1,metadata=mode=print:key=mix_pts:file=pipe\\\\:3:direct=1';

/** The seconds of one `pts_time:` line of PICTURE_TIMESTAMPS_FILTER, with the picture's number. */
export function parsePictureTimestamp(line: string): { n: number; seconds: number } | undefined {
  const m = /^frame:(\d+)\s+pts:\S+\s+pts_time:(-?[\d.e+-]+)/.exec(line);
  if (!m) return undefined;
  const seconds = Number(m[2]);
  return Number.isFinite(seconds) ? { n: Number(m[1]), seconds } : undefined;
}

/**
 * One participant's decoder: RTP in (each kind's SDP passed inline as a data: URL, so no temporary
 * file; one input per kind, so each has its own reorder wait), raw I420 frames of the cell's size on
 * stdout with their timestamps on fd 3, s16le PCM on fd 3 (fd 4 in a decoder of both kinds). Every packet is flushed at once so no audio waits in an I/O buffer.
 */
export function buildDecoderArgs({ videoSdp, audioSdp, video, audio, probeMs = 2000 }: DecoderArgsInput): string[] {
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'warning',
    '-protocol_whitelist', 'data,udp,rtp',
  ];
  const input = (sdp: string, waitMs: number, analyzeMs: number) => [
    '-fflags', 'discardcorrupt', '-flags', 'low_delay',
    // One small stream per decoder: threads would cost more in overhead and delay than they save.
    '-threads', '1',
    '-max_delay', String(waitMs * 1000),
    '-analyzeduration', String(analyzeMs * 1000), '-probesize', '2000000',
    '-f', 'sdp', '-i', `data:application/sdp;base64,${Buffer.from(sdp).toString('base64')}`,
  ];
  const withVideo = Boolean(video && videoSdp);
  const withAudio = Boolean(audio && audioSdp);
  // ffmpeg opens its inputs one after the other, and nothing flows until all are open: the audio's probe
  // is short (the SDP names the codec, the first packets settle the rest) so that it adds little after the
  // video's. Video first: with audio first, a video input waiting for a retransmission held the audio too
  // (ffmpeg interleaves its outputs by timestamp), and a tone dropped out of a third of its 100 ms blocks
  // at 5 % loss (1 % with video first).
  if (withVideo) args.push(...input(videoSdp!, VIDEO_REORDER_WAIT_MS, probeMs));
  if (withAudio) args.push(...input(audioSdp!, AUDIO_REORDER_WAIT_MS, Math.min(probeMs, AUDIO_PROBE_MS)));
  args.push('-filter_threads', '1');
  if (video && withVideo) {
    args.push(
      '-map', '0:v:0',
      // No fps filter: it holds every frame until the next one arrives (measured: ~90 ms of
      // A/V offset); the compositor samples the latest frame at its own rate anyway.
      // Last in the chain, so its n-th line is the n-th picture written: each picture's timestamp (from
      // the RTP timestamps) on fd 3, so the mix shows it by the sender's clock (video-playout.ts).
      '-vf', `${fitFilter(video.width, video.height, video.fit)},setsar=1,format=yuv420p,${PICTURE_TIMESTAMPS_FILTER}`,
      // Each decoded picture once. rawvideo's default is constant frame rate at the rate ffmpeg
      // guessed from the RTP timestamps, and a bad guess made a decoder repeat pictures 1,300 to
      // 9,900 times a second: it fell seconds behind its input, and a stalled sender still showed.
      '-fps_mode', 'passthrough',
      '-f', 'rawvideo', '-flush_packets', '1', 'pipe:1',
    );
  }
  if (audio && withAudio) {
    args.push(
      '-map', `${withVideo ? 1 : 0}:a:0`,
      // async: a packet that never came (no NACK for audio) or a DTX pause leaves a hole in the RTP
      // timestamps; filled with silence in place (min_hard_comp: any hole of 10 ms or more) the audio keeps
      // its pace. Unfilled, the pipe ran short, the mix's jitter buffer ran dry and refilled 40 ms
      // each time: at 5 % loss a fifth of a tone's 100 ms blocks dropped out.
      '-af', `aresample=${audio.sampleRate}:async=1:min_hard_comp=0.01`, '-ac', String(audio.channels),
      // fd 3 is the pictures' timestamps when this decoder has video too.
      '-f', 's16le', '-flush_packets', '1', withVideo ? 'pipe:4' : 'pipe:3',
    );
  }
  return args;
}

export interface OutputSettings {
  video: { width: number; height: number; fps: number; bitrateKbps: number; gopSeconds: number };
  audio: { sampleRate: number; channels: number; bitrateKbps: number };
}

/** x264 settings shared by the mix encoder and the bench's bare-encode floor. */
export function h264EncodeArgs(v: OutputSettings['video']): string[] {
  const gop = Math.max(1, Math.round(v.fps * v.gopSeconds));
  return [
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-bf', '0',
    '-b:v', `${v.bitrateKbps}k`, '-maxrate', `${v.bitrateKbps}k`, '-bufsize', `${v.bitrateKbps * 2}k`,
  ];
}

export function aacEncodeArgs(a: OutputSettings['audio']): string[] {
  return ['-c:a', 'aac', '-b:a', `${a.bitrateKbps}k`, '-ar', String(a.sampleRate), '-ac', String(a.channels)];
}

/**
 * The encoder: raw I420 canvas frames on stdin and s16le PCM on fd 3, both at a
 * steady rate from the compositor's clock; H.264 + AAC in FLV on stdout.
 */
export function buildEncoderArgs(o: OutputSettings): string[] {
  const { video: v, audio: a } = o;
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'warning',
    // Raw inputs are fully described here, so skip probing: it would hold the first frames back.
    '-probesize', '32', '-analyzeduration', '0',
    '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${v.width}x${v.height}`, '-framerate', String(v.fps), '-i', 'pipe:0',
    '-probesize', '32', '-analyzeduration', '0',
    '-f', 's16le', '-ar', String(a.sampleRate), '-ac', String(a.channels), '-i', 'pipe:3',
    '-map', '0:v', '-map', '1:a',
    ...h264EncodeArgs(v),
    ...fastStartKeyframes(v.gopSeconds),
    ...aacEncodeArgs(a),
    // Each packet leaves as soon as it is encoded: interleaving by timestamp held a video frame until the
    // next AAC packet (1024 samples, plus the encoder's delay) was out, jitter the viewer saw as gaps.
    '-max_interleave_delta', '1',
    '-flush_packets', '1', '-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1',
  ];
}

/** How long a new encoder session sends keyframes at FAST_START_INTERVAL_S. */
const FAST_START_S = 4;
const FAST_START_INTERVAL_S = 0.25;

/**
 * A channel's program splices a new mix in at the mix's next keyframe, and
 * a mix goes on air a moment after it starts (once its participants are in
 * the picture): keyframes every quarter second in an encoder session's
 * first seconds cut that wait from up to a GOP to a quarter second (and the
 * program's wait when it must skip one, see KEYFRAME_HOLD_FRAMES), then the
 * GOP takes over (keyframes at FAST_START_S, then every gopSeconds). Measured
 * at 0.5 s: the last 0.1–0.85 s of accept → guest visible at the viewer.
 */
export function fastStartKeyframes(gopSeconds: number): string[] {
  const n = FAST_START_S / FAST_START_INTERVAL_S;
  return ['-force_key_frames', `expr:if(lt(t,${FAST_START_S}),gte(t,n_forced*${FAST_START_INTERVAL_S}),gte(t,${FAST_START_S}+(n_forced-${n})*${gopSeconds}))`];
}


/** A still I420 picture: a colour, or an image (http/https only), with an optional text file drawn centred. */
export function buildStillArgs(input: { width: number; height: number; color?: string; imageUrl?: string; textFile?: string; fontFile: string; fontSize?: number }): string[] {
  const { width, height, color = '0x202020', imageUrl, textFile, fontFile } = input;
  const filters: string[] = [];
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  if (imageUrl) {
    args.push('-protocol_whitelist', 'http,https,tcp,tls', '-i', imageUrl);
    filters.push(fitFilter(width, height, 'cover'));
  } else {
    args.push('-f', 'lavfi', '-i', `color=c=${color}:s=${width}x${height}`);
  }
  if (textFile) {
    const size = input.fontSize ?? Math.max(12, Math.round(Math.min(width, height) / 8));
    // expansion=none: a name such as "50% off" or "%{localtime}" is drawn as written.
    filters.push(`drawtext=fontfile=${fontFile}:textfile=${textFile}:expansion=none:fontcolor=white:fontsize=${size}:x=(w-text_w)/2:y=(h-text_h)/2`);
  }
  filters.push('format=yuv420p');
  args.push('-vf', filters.join(','), '-frames:v', '1', '-f', 'rawvideo', 'pipe:1');
  return args;
}

/**
 * The client-mix packager: a composed program arriving as RTP (the host page's
 * canvas + WebAudio mix) to H.264 + AAC in FLV on stdout. H.264 from the
 * browser is copied (`videoCopy`); anything else (VP8) is encoded once.
 */
export function buildPackagerArgs(o: { sdp: string; videoCopy: boolean; settings: OutputSettings }): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'warning',
    '-protocol_whitelist', 'data,udp,rtp',
    '-fflags', 'discardcorrupt', '-flags', 'low_delay',
    '-analyzeduration', '1000000', '-probesize', '1000000',
    '-f', 'sdp', '-i', `data:application/sdp;base64,${Buffer.from(o.sdp).toString('base64')}`,
    '-map', '0:v:0', '-map', '0:a:0',
    // WebRTC senders lower their resolution under load; the channel keeps one size (scaled, letterboxed).
    ...(o.videoCopy
      ? ['-c:v', 'copy']
      : ['-vf', `${fitFilter(o.settings.video.width, o.settings.video.height, 'contain')},setsar=1,format=yuv420p`, ...h264EncodeArgs(o.settings.video), '-r', String(o.settings.video.fps)]),
    ...aacEncodeArgs(o.settings.audio),
    '-flush_packets', '1', '-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1',
  ];
}
