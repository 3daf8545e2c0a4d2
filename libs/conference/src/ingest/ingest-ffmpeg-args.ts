/**
 * ffmpeg arguments that turn an RTMP push into RTP for a mediasoup PlainTransport
 * pair: Opus audio and H.264 constrained-baseline video (profile-level-id
 * 42e01f, what browsers decode). Pure, so the exact array is asserted in specs.
 */
export interface IngestRtpTarget {
  port: number;
  rtcpPort: number;
  payloadType: number;
  ssrc: number;
}

export interface IngestArgsInput {
  /** RTMP URL the gateway reads the push from. */
  source: string;
  audio: IngestRtpTarget;
  video: IngestRtpTarget;
  /** Video bitrate in kbit/s. Default 1500. */
  videoKbps?: number;
  /**
   * How long to probe the pull, in ms (ffmpeg's default, 5 s, when absent). Short only where the
   * origin sends a new reader its cached GOP at once: then both streams are found at once, and
   * the first RTP leaves ~0.25 s after the pull starts instead of ~2.5 s.
   */
  probeMs?: number;
  /**
   * Pass the push's H.264 through unchanged (see canPassThrough): no decode,
   * no encode. Its SPS/PPS go in-band before every keyframe, as RTP receivers
   * need them; keyframes come as often as the push has them.
   */
  copyVideo?: boolean;
}

/** A push's video as ffmpeg describes it. */
export interface ProbedVideo {
  codec: string;
  profile?: string;
  pixFmt?: string;
  width?: number;
  height?: number;
}

/** The first video stream of ffmpeg's input description (its stderr), if any. */
export function parseProbedVideo(stderr: string): ProbedVideo | undefined {
  const line = stderr.split('\n').find((l) => /Stream #0:\d+.*: Video: /.test(l));
  if (!line) return undefined;
  const m = line.match(/Video: (\w+)(?: \(([^)]+)\))?/);
  const size = line.match(/, (\d{2,5})x(\d{2,5})/);
  const pix = line.match(/\), (\w+)\(|, (yuv\w+|nv12|gray)[,( ]/);
  return {
    codec: m?.[1] ?? 'unknown',
    ...(m?.[2] ? { profile: m[2] } : {}),
    ...(pix ? { pixFmt: pix[1] ?? pix[2] } : {}),
    ...(size ? { width: Number(size[1]), height: Number(size[2]) } : {}),
  };
}

/**
 * Whether a push can enter the SFU as it is: H.264 in a profile the router's
 * codec (profile-level-id 42e01f, level-asymmetry-allowed) covers, i.e.
 * (constrained) baseline, 4:2:0, within the 1280x720 the transcoding path
 * caps at. Anything else (High profile from OBS, B-frames, 4:2:2) is
 * transcoded.
 */
export function canPassThrough(video: ProbedVideo | undefined): boolean {
  if (!video || video.codec !== 'h264') return false;
  if (!video.profile || !/^(Constrained )?Baseline$/.test(video.profile)) return false;
  if (video.pixFmt !== 'yuv420p' && video.pixFmt !== 'yuvj420p') return false;
  return video.width !== undefined && video.height !== undefined && video.width <= 1280 && video.height <= 720;
}

/** ffmpeg arguments that describe a push (parseProbedVideo reads the answer) while decoding at most one picture. */
export function buildProbeArgs(source: string, probeMs?: number): string[] {
  return ['-hide_banner', '-nostdin', '-rw_timeout', '5000000', ...(probeMs ? ['-analyzeduration', String(probeMs * 1000)] : []), '-i', source, '-map', '0:v:0?', '-frames:v', '1', '-f', 'null', '-'];
}

/** Values mediasoup must be told about the streams these arguments produce. */
export const INGEST_CODECS = {
  audio: { mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  video: { mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
} as const;

const rtpUrl = (t: IngestRtpTarget) => `rtp://127.0.0.1:${t.port}?rtcpport=${t.rtcpPort}&pkt_size=1200`;

export function buildIngestArgs({ source, audio, video, videoKbps = 1500, probeMs, copyVideo }: IngestArgsInput): string[] {
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel', 'info',
    // Low-latency decoding. No `-fflags nobuffer`: it would drop the packets read while
    // probing, i.e. the origin's cached keyframe, and delay the first picture a whole GOP.
    '-flags', 'low_delay',
    '-rw_timeout', '5000000',
    ...(probeMs ? ['-analyzeduration', String(probeMs * 1000)] : []),
    '-i', source,
    // Audio: Opus 48 kHz stereo, as the router expects. Timestamps counted in samples
    // (aresample async): the push's are FLV milliseconds, so 20 ms Opus packets got RTP
    // steps of 952/960/968, and a browser's jitter buffer dropped the early ones as late
    // (about a third of the packets, a quarter of the audio concealed). Gaps over 0.1 s
    // are still filled with silence, so audio keeps its place against video.
    '-map', '0:a:0',
    '-af', 'aresample=async=1',
    '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k', '-application', 'lowdelay',
    '-payload_type', String(audio.payloadType), '-ssrc', String(audio.ssrc),
    '-f', 'rtp', rtpUrl(audio),
    // Video: the push's own H.264 where it fits the router (canPassThrough), else transcoded.
    '-map', '0:v:0',
    ...(copyVideo ? ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb'] : transcodeVideo(videoKbps)),
    '-payload_type', String(video.payloadType), '-ssrc', String(video.ssrc),
    '-f', 'rtp', rtpUrl(video),
  ];
}

/**
 * H.264 constrained baseline (no B-frames), at most 1280x720, a keyframe every
 * second so a new consumer (which cannot ask ffmpeg for one) starts fast.
 */
function transcodeVideo(videoKbps: number): string[] {
  return [
    '-vf', 'scale=w=min(1280\\,iw):h=min(720\\,ih):force_original_aspect_ratio=decrease:force_divisible_by=2',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency',
    '-profile:v', 'baseline', '-level:v', '3.1', '-pix_fmt', 'yuv420p', '-bf', '0',
    '-force_key_frames', 'expr:gte(t,n_forced*1)',
    '-b:v', `${videoKbps}k`, '-maxrate', `${videoKbps}k`, '-bufsize', `${videoKbps}k`,
  ];
}
