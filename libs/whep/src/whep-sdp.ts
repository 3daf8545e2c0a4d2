/**
 * WHEP offer → answer (draft-ietf-wish-whep, RFC 8829/8843): reads a player's
 * SDP offer into what the SFU needs (the RTP capabilities its m-lines allow,
 * its ICE credentials, DTLS fingerprint and role) and writes the answer from
 * what the SFU made (the transport's ICE and DTLS parameters, one consumer per
 * accepted m-line). Pure: no mediasoup, no I/O; sdp-transform parses and writes.
 *
 * The types below mirror the parts of mediasoup's RtpCapabilities,
 * RtpParameters and IceCandidate this needs, so mediasoup's objects fit them.
 */
import * as sdpTransform from 'sdp-transform';
import { ValidationError } from '@gw/common';

/** The offer cannot be answered: malformed, or missing what a WHEP session needs. 400. */
export class WhepOfferError extends ValidationError {
  constructor(message: string, code: 'WHEP_BAD_OFFER' | 'WHEP_NO_H264' | 'WHEP_NOT_RECVONLY' = 'WHEP_BAD_OFFER') {
    super(message, code);
  }
}

export type MediaKind = 'audio' | 'video';

export interface RtcpFeedback {
  type: string;
  parameter?: string;
}

export interface CodecCapability {
  kind: MediaKind;
  mimeType: string;
  preferredPayloadType: number;
  clockRate: number;
  channels?: number;
  parameters: Record<string, string | number>;
  rtcpFeedback: RtcpFeedback[];
}

export interface HeaderExtensionCapability {
  kind: MediaKind;
  uri: string;
  preferredId: number;
  direction: 'sendrecv';
}

export interface RtpCapabilities {
  codecs: CodecCapability[];
  headerExtensions: HeaderExtensionCapability[];
}

/** What a consumer sends, as mediasoup describes it (consumer.rtpParameters). */
export interface ConsumerRtpParameters {
  codecs: { mimeType: string; payloadType: number; clockRate: number; channels?: number; parameters?: Record<string, unknown>; rtcpFeedback?: RtcpFeedback[] }[];
  headerExtensions?: { uri: string; id: number }[];
  encodings?: { ssrc?: number; rtx?: { ssrc: number } }[];
  rtcp?: { cname?: string };
}

export interface IceCandidate {
  foundation: string;
  priority: number;
  ip: string;
  protocol: 'udp' | 'tcp';
  port: number;
  type: string;
  tcpType?: string;
}

export interface DtlsFingerprint {
  algorithm: string;
  value: string;
}

/** One m-line of the offer, in the offer's order. */
export interface OfferedMedia {
  index: number;
  mid: string;
  type: string;
  protocol: string;
  /** The first payload format listed (a rejected m-line repeats it). */
  firstFormat: string;
  /** The kind this session serves on it; undefined when it is rejected (port 0 in the answer). */
  serves?: MediaKind;
}

export interface WhepOffer {
  media: OfferedMedia[];
  /** Mids of the m-lines that carry the program's audio and video (audio only when the offer allows Opus). */
  mids: { audio?: string; video: string };
  /**
   * The offer's payload types for the one Opus and the one H.264 the session sends. The player
   * demultiplexes by the payload types of its own offer, so the consumers must send with these
   * (mediasoup consumers send with their router's: the SFU delivers through a router whose codecs
   * have these payload types).
   */
  payloadTypes: { audio?: number; video: number };
  /** What the served m-lines accept (Opus and the chosen H.264, no RTX: its payload type would be the router's). */
  rtpCapabilities: RtpCapabilities;
  ice: { usernameFragment: string; password: string };
  /** The player's DTLS parameters for the transport's connect(): `role` is the player's. */
  dtls: { role: 'client' | 'server'; fingerprints: DtlsFingerprint[] };
  /** The offer allowed a=extmap-allow-mixed / a=rtcp-rsize on its media. */
  extmapAllowMixed: boolean;
  rtcpRsize: Set<string>;
}

/** Constrained-baseline H.264 profile-level-ids (RFC 6184 profile_idc + profile_iop), what the router's 42e01f consumers fit. */
export function isConstrainedBaseline(profileLevelId: string | undefined): boolean {
  if (!profileLevelId || !/^[0-9a-f]{6}$/i.test(profileLevelId)) return false;
  const idc = parseInt(profileLevelId.slice(0, 2), 16);
  const iop = parseInt(profileLevelId.slice(2, 4), 16);
  if ((iop & 0x0f) !== 0) return false;
  if (idc === 0x42) return (iop & 0x40) !== 0;
  if (idc === 0x4d) return (iop & 0x80) !== 0;
  if (idc === 0x58) return (iop & 0xc0) === 0xc0;
  return false;
}

type Media = sdpTransform.MediaDescription;

function directionOf(media: Media, session: sdpTransform.SessionDescription): string {
  return media.direction ?? session.direction ?? 'sendrecv';
}

function codecsOf(media: Media, kind: MediaKind): CodecCapability[] {
  return media.rtp.map((rtp) => {
    const fmtp = media.fmtp.find((f) => f.payload === rtp.payload);
    return {
      kind,
      mimeType: `${kind}/${rtp.codec}`,
      preferredPayloadType: rtp.payload,
      clockRate: rtp.rate ?? (kind === 'audio' ? 8000 : 90000),
      ...(kind === 'audio' && rtp.encoding ? { channels: Number(rtp.encoding) } : {}),
      parameters: fmtp ? (sdpTransform.parseParams(fmtp.config) as Record<string, string | number>) : {},
      rtcpFeedback: (media.rtcpFb ?? [])
        .filter((fb) => String(fb.payload) === String(rtp.payload) || String(fb.payload) === '*')
        .map((fb) => (fb.subtype ? { type: fb.type, parameter: fb.subtype } : { type: fb.type })),
    };
  });
}

/**
 * Reads a WHEP offer. Throws WhepOfferError (400): WHEP_BAD_OFFER when it is
 * not SDP or lacks ICE credentials, a fingerprint or bundling; WHEP_NOT_RECVONLY
 * when no video m-line may receive; WHEP_NO_H264 when the video m-line allows
 * no packetization-mode 1 constrained-baseline H.264.
 */
export function parseWhepOffer(text: string): WhepOffer {
  if (!/^v=0\r?\n/.test(text)) throw new WhepOfferError('the body is not an SDP offer (it must start with v=0)');
  let session: sdpTransform.SessionDescription;
  try {
    session = sdpTransform.parse(text);
  } catch (error) {
    throw new WhepOfferError(`the offer cannot be parsed: ${(error as Error).message}`);
  }
  if (!session.media?.length) throw new WhepOfferError('the offer has no m-lines');

  const media: OfferedMedia[] = session.media.map((m, index) => ({
    index,
    mid: m.mid === undefined ? String(index) : String(m.mid),
    type: m.type,
    protocol: m.protocol,
    firstFormat: String(m.payloads ?? '').split(' ')[0] || '0',
  }));
  const receives = (m: Media) => ['recvonly', 'sendrecv'].includes(directionOf(m, session)) && m.port !== 0 && /RTP\/S?AVPF?/.test(m.protocol);
  const videoLines = session.media.map((m, i) => ({ m, i })).filter(({ m }) => m.type === 'video');
  if (videoLines.length === 0) throw new WhepOfferError('the offer has no video m-line', 'WHEP_NO_H264');
  const video = videoLines.find(({ m }) => receives(m));
  if (!video) throw new WhepOfferError('the offer\'s video m-line does not receive (a WHEP player offers recvonly)', 'WHEP_NOT_RECVONLY');
  const videoCodecs = codecsOf(video.m, 'video');
  const h264 = videoCodecs.filter(
    (c) => c.mimeType.toLowerCase() === 'video/h264' && Number(c.parameters['packetization-mode']) === 1 && isConstrainedBaseline(String(c.parameters['profile-level-id'] ?? '')),
  );
  if (h264.length === 0) throw new WhepOfferError('the offer allows no constrained-baseline H.264 with packetization-mode 1', 'WHEP_NO_H264');
  media[video.i].serves = 'video';

  const audio = session.media.map((m, i) => ({ m, i })).find(({ m }) => m.type === 'audio' && receives(m));
  const opus = audio ? codecsOf(audio.m, 'audio').filter((c) => c.mimeType.toLowerCase() === 'audio/opus' && c.clockRate === 48000) : [];
  if (audio && opus.length) media[audio.i].serves = 'audio';

  const served = [video, ...(audio && opus.length ? [audio] : [])];
  // sdp-transform turns numeric values into numbers (mids "1", payload types), hence String().
  const bundle = String(session.groups?.find((g) => g.type === 'BUNDLE')?.mids ?? '').split(' ');
  if (served.length > 1 && !served.every(({ i }) => bundle.includes(media[i].mid))) {
    throw new WhepOfferError('the offer must bundle its audio and video (a=group:BUNDLE): the session has one transport');
  }

  const first = served[0].m;
  const ufrag = first.iceUfrag ?? session.iceUfrag;
  const pwd = first.icePwd ?? session.icePwd;
  if (!ufrag || !pwd) throw new WhepOfferError('the offer has no ICE credentials (a=ice-ufrag, a=ice-pwd)');
  const fingerprint = first.fingerprint ?? session.fingerprint;
  if (!fingerprint) throw new WhepOfferError('the offer has no DTLS fingerprint (a=fingerprint)');
  const setup = first.setup ?? session.setup ?? 'actpass';
  if (!['actpass', 'active', 'passive'].includes(setup)) throw new WhepOfferError(`the offer's a=setup:${setup} cannot be answered`);

  const extensions = (m: Media, kind: MediaKind): HeaderExtensionCapability[] =>
    (m.ext ?? []).map((e) => ({ kind, uri: e.uri, preferredId: e.value, direction: 'sendrecv' as const }));
  return {
    media,
    mids: { video: media[video.i].mid, ...(audio && opus.length ? { audio: media[audio.i].mid } : {}) },
    payloadTypes: { video: h264[0].preferredPayloadType, ...(opus.length ? { audio: opus[0].preferredPayloadType } : {}) },
    rtpCapabilities: {
      codecs: [...opus.slice(0, 1), h264[0]],
      headerExtensions: [...(audio && opus.length ? extensions(audio.m, 'audio') : []), ...extensions(video.m, 'video')],
    },
    ice: { usernameFragment: ufrag, password: pwd },
    // actpass or active: the player takes the DTLS client role and the answer says passive.
    dtls: { role: setup === 'passive' ? 'server' : 'client', fingerprints: [{ algorithm: fingerprint.type.toLowerCase(), value: fingerprint.hash.toUpperCase() }] },
    extmapAllowMixed: session.extmapAllowMixed !== undefined || session.media.some((m) => m.extmapAllowMixed !== undefined),
    rtcpRsize: new Set(served.filter(({ m }) => m.rtcpRsize !== undefined).map(({ i }) => media[i].mid)),
  };
}

/** One served m-line's consumer. */
export interface AnswerTrack {
  kind: MediaKind;
  /** The consumer's id: the track id in a=msid. */
  id: string;
  rtpParameters: ConsumerRtpParameters;
}

export interface WhepAnswerInput {
  offer: WhepOffer;
  ice: { usernameFragment: string; password: string };
  candidates: IceCandidate[];
  fingerprints: DtlsFingerprint[];
  /** Consumers by mid, for the offer's served m-lines. */
  tracks: Record<string, AnswerTrack>;
  /** One media stream id for all tracks, so the player shows them as one stream (audio with its picture). */
  streamId: string;
  /** The o= line's session id. */
  sessionId: string;
}

/**
 * The SDP answer: every m-line of the offer in its order with its mid; served
 * ones with the consumer's codecs (the offer's payload types), extensions,
 * SSRCs (and RTX), the transport's ICE-lite credentials and candidates and its
 * fingerprint, `a=setup:passive` unless the player insisted on being passive;
 * the others rejected (port 0).
 */
export function buildWhepAnswer(input: WhepAnswerInput): string {
  const { offer, ice, candidates, fingerprints, tracks } = input;
  const fingerprint = pickFingerprint(fingerprints);
  const setup = offer.dtls.role === 'server' ? 'active' : 'passive';
  const udp = candidates.find((c) => c.protocol === 'udp') ?? candidates[0];
  const served = offer.media.filter((m) => m.serves && tracks[m.mid]);
  const session: sdpTransform.SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: input.sessionId, sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: served.length ? [{ type: 'BUNDLE', mids: served.map((m) => m.mid).join(' ') }] : [],
    msidSemantic: { semantic: 'WMS', token: input.streamId },
    ...(offer.extmapAllowMixed ? { extmapAllowMixed: 'extmap-allow-mixed' as const } : {}),
    media: offer.media.map((m) => {
      const track = m.serves ? tracks[m.mid] : undefined;
      if (!track) {
        return { type: m.type, port: 0, protocol: m.protocol, payloads: m.firstFormat, rtp: [], fmtp: [], mid: m.mid, direction: 'inactive' as const };
      }
      const p = track.rtpParameters;
      const encoding = p.encodings?.[0];
      const cname = p.rtcp?.cname ?? input.streamId;
      const ssrcs: { id: number; attribute: string; value: string }[] = [];
      const ssrcGroups: { semantics: string; ssrcs: string }[] = [];
      for (const ssrc of [encoding?.ssrc, encoding?.rtx?.ssrc]) {
        if (ssrc === undefined) continue;
        ssrcs.push({ id: ssrc, attribute: 'cname', value: cname }, { id: ssrc, attribute: 'msid', value: `${input.streamId} ${track.id}` });
      }
      if (encoding?.ssrc !== undefined && encoding.rtx?.ssrc !== undefined) ssrcGroups.push({ semantics: 'FID', ssrcs: `${encoding.ssrc} ${encoding.rtx.ssrc}` });
      return {
        type: m.type,
        port: udp?.port ?? 7,
        protocol: m.protocol,
        payloads: p.codecs.map((c) => c.payloadType).join(' '),
        connection: { version: 4, ip: udp?.ip ?? '127.0.0.1' },
        mid: m.mid,
        direction: 'sendonly' as const,
        iceUfrag: ice.usernameFragment,
        icePwd: ice.password,
        candidates: candidates.map((c) => ({
          foundation: c.foundation,
          component: 1,
          transport: c.protocol,
          priority: c.priority,
          ip: c.ip,
          port: c.port,
          type: c.type,
          ...(c.protocol === 'tcp' ? { tcptype: c.tcpType ?? 'passive' } : {}),
        })),
        endOfCandidates: 'end-of-candidates',
        fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value },
        setup,
        rtcpMux: 'rtcp-mux',
        ...(offer.rtcpRsize.has(m.mid) ? { rtcpRsize: 'rtcp-rsize' } : {}),
        rtp: p.codecs.map((c) => ({
          payload: c.payloadType,
          codec: c.mimeType.split('/')[1],
          rate: c.clockRate,
          ...(c.channels && c.channels > 1 ? { encoding: String(c.channels) } : {}),
        })),
        fmtp: p.codecs
          .filter((c) => c.parameters && Object.keys(c.parameters).length)
          .map((c) => ({ payload: c.payloadType, config: Object.entries(c.parameters!).map(([k, v]) => `${k}=${v}`).join(';') })),
        rtcpFb: p.codecs.flatMap((c) => (c.rtcpFeedback ?? []).map((fb) => ({ payload: String(c.payloadType), type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) }))),
        ext: (p.headerExtensions ?? []).map((e) => ({ value: e.id, uri: e.uri })),
        // sdp-transform 3 keeps a=msid as a list (its @types still say string).
        msid: [{ id: input.streamId, appdata: track.id }],
        ssrcs,
        ssrcGroups,
      };
    }),
  } as sdpTransform.SessionDescription;
  return sdpTransform.write(session);
}

/** sha-256 when offered (every browser checks it), else the first. */
function pickFingerprint(fingerprints: DtlsFingerprint[]): DtlsFingerprint {
  const chosen = fingerprints.find((f) => f.algorithm === 'sha-256') ?? fingerprints[0];
  if (!chosen) throw new Error('the transport has no DTLS fingerprint');
  return chosen;
}
