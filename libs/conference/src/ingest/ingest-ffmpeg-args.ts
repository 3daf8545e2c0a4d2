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
}

/** Values mediasoup must be told about the streams these arguments produce. */
export const INGEST_CODECS = {
  audio: { mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  video: { mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
} as const;

const rtpUrl = (t: IngestRtpTarget) => `rtp://127.0.0.1:${t.port}?rtcpport=${t.rtcpPort}&pkt_size=1200`;

export function buildIngestArgs({ source, audio, video, videoKbps = 1500, probeMs }: IngestArgsInput): string[] {
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
    // Audio: Opus 48 kHz stereo, as the router expects.
    '-map', '0:a:0',
    '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k', '-application', 'lowdelay',
    '-payload_type', String(audio.payloadType), '-ssrc', String(audio.ssrc),
    '-f', 'rtp', rtpUrl(audio),
    // Video: H.264 constrained baseline (no B-frames), at most 1280x720, a keyframe
    // every second so a new consumer (which cannot ask ffmpeg for one) starts fast.
    '-map', '0:v:0',
    '-vf', 'scale=w=min(1280\\,iw):h=min(720\\,ih):force_original_aspect_ratio=decrease:force_divisible_by=2',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency',
    '-profile:v', 'baseline', '-level:v', '3.1', '-pix_fmt', 'yuv420p', '-bf', '0',
    '-force_key_frames', 'expr:gte(t,n_forced*1)',
    '-b:v', `${videoKbps}k`, '-maxrate', `${videoKbps}k`, '-bufsize', `${videoKbps}k`,
    '-payload_type', String(video.payloadType), '-ssrc', String(video.ssrc),
    '-f', 'rtp', rtpUrl(video),
  ];
}
