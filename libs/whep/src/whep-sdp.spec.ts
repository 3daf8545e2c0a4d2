import * as sdpTransform from 'sdp-transform';
import { buildWhepAnswer, isConstrainedBaseline, parseWhepOffer, WhepAnswerInput } from './whep-sdp';
import { CHROMIUM_RECVONLY_OFFER } from './testing/chromium-offer';

/** What mediasoup's consumers of the program look like for the Chromium offer (payload types and ids are the offer's). */
function answerInput(offer = parseWhepOffer(CHROMIUM_RECVONLY_OFFER)): WhepAnswerInput {
  return {
    offer,
    ice: { usernameFragment: 'ufragX', password: 'pwdY' },
    candidates: [
      { foundation: 'udpcandidate', priority: 1076558079, ip: '127.0.0.1', protocol: 'udp', port: 40012, type: 'host' },
      { foundation: 'tcpcandidate', priority: 1076302079, ip: '127.0.0.1', protocol: 'tcp', port: 40013, type: 'host', tcpType: 'passive' },
    ],
    fingerprints: [
      { algorithm: 'sha-1', value: 'AA:BB' },
      { algorithm: 'sha-256', value: '01:02:03' },
    ],
    tracks: {
      '0': {
        kind: 'audio',
        id: 'consumer-a',
        rtpParameters: {
          codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 }, rtcpFeedback: [{ type: 'transport-cc' }] }],
          headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 }],
          encodings: [{ ssrc: 1111 }],
          rtcp: { cname: 'prog' },
        },
      },
      '1': {
        kind: 'video',
        id: 'consumer-v',
        rtpParameters: {
          codecs: [
            { mimeType: 'video/H264', payloadType: 108, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 }, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] },
            { mimeType: 'video/rtx', payloadType: 109, clockRate: 90000, parameters: { apt: 108 }, rtcpFeedback: [] },
          ],
          headerExtensions: [
            { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 },
            { uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 2 },
          ],
          encodings: [{ ssrc: 2222, rtx: { ssrc: 3333 } }],
          rtcp: { cname: 'prog' },
        },
      },
    },
    streamId: 'whep-show',
    sessionId: '42',
  };
}

/** An offer with one line replaced (Chromium's offer uses \r\n). */
function edited(from: RegExp, to: string): string {
  const out = CHROMIUM_RECVONLY_OFFER.replace(from, to);
  if (out === CHROMIUM_RECVONLY_OFFER) throw new Error(`${from} not in the offer`);
  return out;
}

describe('parseWhepOffer', () => {
  it('reads a Chromium recvonly audio+video offer: mids, Opus and constrained-baseline H.264 with their payload types, ICE, DTLS', () => {
    const offer = parseWhepOffer(CHROMIUM_RECVONLY_OFFER);
    expect(offer.mids).toEqual({ audio: '0', video: '1' });
    expect(offer.media.map((m) => [m.mid, m.type, m.serves])).toEqual([
      ['0', 'audio', 'audio'],
      ['1', 'video', 'video'],
    ]);
    const codecs = offer.rtpCapabilities.codecs.map((c) => `${c.mimeType}:${c.preferredPayloadType}`);
    // 42001f (baseline, not constrained), packetization-mode 0 and 4d001f/f4001f are left out, and RTX.
    expect(codecs).toEqual(['audio/opus:111', 'video/H264:108']);
    expect(offer.payloadTypes).toEqual({ audio: 111, video: 108 });
    const h264 = offer.rtpCapabilities.codecs[1];
    expect(h264.parameters).toEqual({ 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' });
    expect(h264.rtcpFeedback).toContainEqual({ type: 'nack', parameter: 'pli' });
    expect(offer.rtpCapabilities.headerExtensions).toContainEqual({ kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 4, direction: 'sendrecv' });
    expect(offer.rtpCapabilities.headerExtensions).toContainEqual({ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', preferredId: 1, direction: 'sendrecv' });
    expect(offer.ice).toEqual({ usernameFragment: 'gc33', password: 'zL/ZfC5C47IGMzYHEl3m/N1w' });
    expect(offer.dtls.role).toBe('client');
    expect(offer.dtls.fingerprints).toEqual([{ algorithm: 'sha-256', value: expect.stringMatching(/^B6:9C:77:/) }]);
    expect([...offer.rtcpRsize].sort()).toEqual(['0', '1']);
    expect(offer.extmapAllowMixed).toBe(true);
  });

  it('takes a player that insists on being the DTLS server (a=setup:passive)', () => {
    expect(parseWhepOffer(CHROMIUM_RECVONLY_OFFER.replace(/a=setup:actpass/g, 'a=setup:passive')).dtls.role).toBe('server');
  });

  it('serves video alone when the audio m-line allows no Opus', () => {
    const offer = parseWhepOffer(edited(/m=audio 9 UDP\/TLS\/RTP\/SAVPF 111 63 9 0 8 13 110 126/, 'm=audio 9 UDP/TLS/RTP/SAVPF 0 8').replace(/a=rtpmap:111 opus\/48000\/2\r\n/, ''));
    expect(offer.mids).toEqual({ video: '1' });
    expect(offer.media[0].serves).toBeUndefined();
  });

  it.each([
    ['not SDP', 'hello', 'WHEP_BAD_OFFER'],
    ['no m-lines', 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n', 'WHEP_BAD_OFFER'],
    ['no H.264', () => CHROMIUM_RECVONLY_OFFER.replace(/a=rtpmap:\d+ H264\/90000\r\n/g, ''), 'WHEP_NO_H264'],
    ['only packetization-mode 0', () => CHROMIUM_RECVONLY_OFFER.replace(/packetization-mode=1/g, 'packetization-mode=0'), 'WHEP_NO_H264'],
    ['only high-profile H.264', () => CHROMIUM_RECVONLY_OFFER.replace(/profile-level-id=42e01f/g, 'profile-level-id=64001f'), 'WHEP_NO_H264'],
    ['an audio-only offer', () => CHROMIUM_RECVONLY_OFFER.slice(0, CHROMIUM_RECVONLY_OFFER.indexOf('m=video')), 'WHEP_NO_H264'],
    ['a sendonly video m-line (a publisher\'s, WHIP)', () => CHROMIUM_RECVONLY_OFFER.replace(/a=recvonly/g, 'a=sendonly'), 'WHEP_NOT_RECVONLY'],
    ['an inactive video m-line', () => CHROMIUM_RECVONLY_OFFER.replace(/a=recvonly/g, 'a=inactive'), 'WHEP_NOT_RECVONLY'],
    ['no ICE credentials', () => CHROMIUM_RECVONLY_OFFER.replace(/a=ice-(ufrag|pwd):.*\r\n/g, ''), 'WHEP_BAD_OFFER'],
    ['no fingerprint', () => CHROMIUM_RECVONLY_OFFER.replace(/a=fingerprint:.*\r\n/g, ''), 'WHEP_BAD_OFFER'],
    ['audio and video not bundled', () => CHROMIUM_RECVONLY_OFFER.replace(/a=group:BUNDLE 0 1\r\n/, ''), 'WHEP_BAD_OFFER'],
  ])('refuses %s with a typed 400', (_name, offer, code) => {
    const text = typeof offer === 'function' ? offer() : offer;
    expect(() => parseWhepOffer(text)).toThrow(expect.objectContaining({ status: 400, code }));
  });

  it('recognises constrained-baseline profile-level-ids only', () => {
    expect(['42e01f', '42c01e', '42E034', '4d801f', '58c01f'].map(isConstrainedBaseline)).toEqual([true, true, true, true, true]);
    expect(['42001f', '4d001f', '640c1f', 'f4001f', '42e0', undefined].map(isConstrainedBaseline)).toEqual([false, false, false, false, false, false]);
  });
});

describe('buildWhepAnswer', () => {
  it('answers each m-line in the offer\'s order with the consumers\' codecs, SSRCs and the transport\'s ICE-lite/DTLS', () => {
    const answer = buildWhepAnswer(answerInput());
    const sdp = sdpTransform.parse(answer);
    expect(sdp.icelite).toBe('ice-lite');
    expect(sdp.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
    expect(sdp.media.map((m) => [m.type, String(m.mid), m.direction, m.port])).toEqual([
      ['audio', '0', 'sendonly', 40012],
      ['video', '1', 'sendonly', 40012],
    ]);
    const [audio, video] = sdp.media;
    for (const m of sdp.media) {
      expect(m.iceUfrag).toBe('ufragX');
      expect(m.icePwd).toBe('pwdY');
      expect(m.setup).toBe('passive');
      expect(m.fingerprint).toEqual({ type: 'sha-256', hash: '01:02:03' });
      expect(m.rtcpMux).toBe('rtcp-mux');
      expect(m.candidates?.map((c) => `${c.transport} ${c.ip}:${c.port}${c.tcptype ? ` ${c.tcptype}` : ''}`)).toEqual(['udp 127.0.0.1:40012', 'tcp 127.0.0.1:40013 passive']);
      expect(m.msid).toEqual([{ id: 'whep-show', appdata: `consumer-${m.type[0]}` }]);
    }
    expect(String(audio.payloads)).toBe('111');
    expect(audio.rtp).toEqual([{ payload: 111, codec: 'opus', rate: 48000, encoding: 2 }]);
    expect(audio.fmtp).toEqual([{ payload: 111, config: 'sprop-stereo=1' }]);
    expect(audio.ssrcs).toContainEqual({ id: 1111, attribute: 'cname', value: 'prog' });
    expect(video.payloads).toBe('108 109');
    expect(video.fmtp).toContainEqual({ payload: 109, config: 'apt=108' });
    expect(video.rtcpFb).toContainEqual({ payload: 108, type: 'nack', subtype: 'pli' });
    expect(video.ext).toEqual([
      { value: 4, uri: 'urn:ietf:params:rtp-hdrext:sdes:mid' },
      { value: 2, uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time' },
    ]);
    expect(video.ssrcGroups).toEqual([{ semantics: 'FID', ssrcs: '2222 3333' }]);
    expect(video.ssrcs?.filter((s) => s.attribute === 'msid').map((s) => s.id)).toEqual([2222, 3333]);
  });

  it('says a=setup:active to a player that wants to be passive', () => {
    const answer = buildWhepAnswer(answerInput(parseWhepOffer(CHROMIUM_RECVONLY_OFFER.replace(/a=setup:actpass/g, 'a=setup:passive'))));
    expect(sdpTransform.parse(answer).media.map((m) => m.setup)).toEqual(['active', 'active']);
  });

  it('rejects (port 0) the m-lines it does not serve, keeping their place and mid', () => {
    const withData = `${CHROMIUM_RECVONLY_OFFER}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n`.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0 1 2');
    const input = answerInput(parseWhepOffer(withData));
    const sdp = sdpTransform.parse(buildWhepAnswer(input));
    expect(sdp.media.map((m) => [m.type, String(m.mid), m.port])).toEqual([
      ['audio', '0', 40012],
      ['video', '1', 40012],
      ['application', '2', 0],
    ]);
    expect(sdp.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
  });

  it('rejects the audio m-line when it has no consumer (the program has no audio)', () => {
    const input = answerInput();
    delete input.tracks['0'];
    const sdp = sdpTransform.parse(buildWhepAnswer(input));
    expect(sdp.media.map((m) => [m.type, m.port, m.direction])).toEqual([
      ['audio', 0, 'inactive'],
      ['video', 40012, 'sendonly'],
    ]);
    expect(sdp.groups?.map((g) => [g.type, String(g.mids)])).toEqual([['BUNDLE', '1']]);
  });
});
