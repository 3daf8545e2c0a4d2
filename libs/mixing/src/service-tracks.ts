import type { types } from 'mediasoup';
import type { Conference } from '@gw/conference';
import { RtpStreamDescription } from './ffmpeg-args';
import { UdpPortAllocator } from './udp-ports';

/** One producer consumed into a loopback PlainTransport that an ffmpeg reads (mixer decoders, the client-mix packager). */
export interface ServiceTrack {
  kind: 'audio' | 'video';
  port: number;
  transport: types.PlainTransport;
  consumer: types.Consumer;
}

/**
 * Consumes the given producers (paused) into loopback PlainTransports, one UDP
 * port pair each, pushing each track as it is made so a failure part-way can be
 * cleaned up with closeServiceTracks.
 */
export async function openServiceTracks(
  conference: Conference,
  ports: UdpPortAllocator,
  producers: { audio?: string; video?: string },
  into: ServiceTrack[],
): Promise<void> {
  for (const kind of ['audio', 'video'] as const) {
    const producerId = producers[kind];
    if (!producerId) continue;
    const port = await ports.allocate();
    const transport = await conference.createServiceTransport(port, port + 1);
    const consumer = await conference.consumeForService(transport, producerId);
    into.push({ kind, port, transport, consumer });
  }
}

export function closeServiceTracks(tracks: ServiceTrack[], ports: UdpPortAllocator): void {
  for (const track of tracks) {
    track.transport.close();
    ports.release(track.port);
  }
}

/** The SDP description an ffmpeg needs to receive the tracks. */
export function describeServiceTracks(tracks: ServiceTrack[]): RtpStreamDescription[] {
  return tracks.map(({ kind, port, consumer }) => {
    const codec = consumer.rtpParameters.codecs[0];
    return {
      kind,
      port,
      payloadType: codec.payloadType,
      codecName: codec.mimeType.split('/')[1],
      clockRate: codec.clockRate,
      channels: kind === 'audio' ? codec.channels : undefined,
      parameters: codec.parameters as Record<string, string | number> | undefined,
    };
  });
}

/** The producer each track consumes, by kind. */
export function serviceTrackProducers(tracks: ServiceTrack[]): { audio?: string; video?: string } {
  return Object.fromEntries(tracks.map((t) => [t.kind, t.consumer.producerId]));
}
