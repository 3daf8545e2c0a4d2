/**
 * ffmpeg arguments that carry a channel's program into the SFU for WHEP: the
 * program's FLV tags on stdin, Opus and H.264 RTP out to a PlainTransport
 * pair. Pure, so the exact array is asserted in specs.
 *
 * Why stdin and not a pull of `live/<channelId>` from the origin: the tags are
 * in this process already (the program writes them), so a pipe saves the
 * origin's relay hop and its buffering (latency is the point of WHEP), works
 * the same on every origin (nginx-rtmp sends a new reader no cached GOP, so a
 * pull would probe for seconds), and lets the feed read the program's own
 * codec configs to decide passthrough without an ffprobe.
 */
import { isConstrainedBaseline } from './whep-sdp';

export interface FeedRtpTarget {
  /** Where ffmpeg sends RTP and RTCP: the PlainTransport's ports, or (in ProgramFeed) its RtpRelay's. */
  port: number;
  rtcpPort: number;
  /** ffmpeg's own RTP and RTCP ports (one ffmpeg at a time sends from them). */
  localPort: number;
  localRtcpPort: number;
  payloadType: number;
  ssrc: number;
}

export interface ProgramFeedArgsInput {
  audio: FeedRtpTarget;
  video: FeedRtpTarget;
  /**
   * Pass the program's H.264 through unchanged (no decode, no encode): it
   * fits the router's constrained-baseline consumers (see fitsRouter).
   */
  copyVideo: boolean;
  /** Video bitrate when transcoding, kbit/s. Default 2000. */
  videoKbps?: number;
}

/** The values mediasoup is told about the streams these arguments produce (the ingest's, so one router codec set serves both). */
export const FEED_CODECS = {
  audio: { mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } },
  video: { mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } },
} as const;

/**
 * Whether an AVC sequence header (an FLV video tag with AVCPacketType 0) holds
 * H.264 the router's 42e01f consumers carry as it is: constrained baseline, or
 * baseline (x264 never uses the FMO/ASO that tell the two apart). Its
 * AVCDecoderConfigurationRecord starts with profile_idc, the constraint flags
 * and level_idc: the three bytes of a profile-level-id.
 */
export function fitsRouter(avcSequenceHeaderTag: Buffer): boolean {
  // 11-byte tag header, then FrameType/CodecID, AVCPacketType, 3-byte composition time, then the record.
  const record = avcSequenceHeaderTag.subarray(16);
  if (record.length < 4 || record[0] !== 1) return false;
  const profileLevelId = record.subarray(1, 4).toString('hex');
  return record[1] === 66 || isConstrainedBaseline(profileLevelId);
}

const rtpUrl = (t: FeedRtpTarget) => `rtp://127.0.0.1:${t.port}?rtcpport=${t.rtcpPort}&localrtpport=${t.localPort}&localrtcpport=${t.localRtcpPort}&pkt_size=1200`;

export function buildProgramFeedArgs({ audio, video, copyVideo, videoKbps = 2000 }: ProgramFeedArgsInput): string[] {
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel', 'info',
    '-flags', 'low_delay',
    // The feed writes the configs and then a keyframe first, so probing ends with that one
    // picture (its size is what the RTP muxer needs): ~0.1 s instead of ffmpeg's default 5 s.
    '-probesize', '1000000',
    '-analyzeduration', '100000',
    '-f', 'flv',
    '-i', 'pipe:0',
    // Audio: the program's AAC as Opus 48 kHz stereo, timestamps counted in samples (see the ingest's
    // arguments: FLV milliseconds gave 20 ms packets uneven RTP steps a browser's jitter buffer dropped).
    '-map', '0:a:0',
    '-af', 'aresample=async=1',
    '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '64k', '-application', 'lowdelay',
    '-payload_type', String(audio.payloadType), '-ssrc', String(audio.ssrc),
    '-f', 'rtp', rtpUrl(audio),
    '-map', '0:v:0',
    ...(copyVideo ? ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb'] : transcodeVideo(videoKbps)),
    '-payload_type', String(video.payloadType), '-ssrc', String(video.ssrc),
    '-f', 'rtp', rtpUrl(video),
  ];
}

/**
 * Constrained baseline (no B-frames) at most 1280x720, a keyframe every
 * second: a viewer who arrives waits at most that long for the picture (the
 * ffmpeg encoder cannot hear the SFU's keyframe requests).
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
