/**
 * Reads the gateway's producer byte counters (/metrics
 * `gateway_producer_rtp_bytes`, an extension): RTP bytes each participant's
 * mediasoup producers received. "Producing again" in the benches and tests
 * means these grow, not that the producer objects exist.
 */
import type { RunningGateway } from './gateway';

export interface ProducerBytes {
  producerId: string;
  userId: string;
  kind: string;
  bytes: number;
}

/** Every producer series of `conferenceId` on one scrape. */
export async function producerBytes(gw: RunningGateway, conferenceId: string): Promise<ProducerBytes[]> {
  const text = (await gw.request('GET', '/metrics')).body as string;
  const out: ProducerBytes[] = [];
  for (const m of text.matchAll(/^gateway_producer_rtp_bytes\{conference="([^"]+)",user="([^"]+)",kind="([^"]+)",producer="([^"]+)"\} (\d+)$/gm)) {
    if (m[1] === conferenceId) out.push({ userId: m[2], kind: m[3], producerId: m[4], bytes: Number(m[5]) });
  }
  return out;
}

/**
 * Scrapes until every one of `userIds` has an audio and a video producer (not
 * in `exclude`: the producers of before a fault) whose bytes grew from one
 * scrape to the next. Resolves with the time of the scrape that completed it
 * and the producer ids seen growing.
 */
export async function waitForBytesFlowing(
  gw: RunningGateway,
  conferenceId: string,
  userIds: string[],
  options: { exclude?: Set<string>; timeoutMs?: number; intervalMs?: number } = {},
): Promise<{ at: number; producerIds: string[] }> {
  const deadline = Date.now() + (options.timeoutMs ?? 20000);
  const previous = new Map<string, number>();
  const grown = new Map<string, string>();
  for (;;) {
    const scrape = await producerBytes(gw, conferenceId).catch(() => [] as ProducerBytes[]);
    const at = Date.now();
    for (const p of scrape) {
      if (options.exclude?.has(p.producerId) || !userIds.includes(p.userId)) continue;
      const before = previous.get(p.producerId);
      if (before !== undefined && p.bytes > before) grown.set(`${p.userId}/${p.kind}`, p.producerId);
      previous.set(p.producerId, p.bytes);
    }
    if (userIds.every((u) => grown.has(`${u}/audio`) && grown.has(`${u}/video`))) return { at, producerIds: [...grown.values()] };
    if (at > deadline) throw new Error(`bytes not increasing at every producer of ${userIds.join(', ')} (growing: ${[...grown.keys()].join(', ') || 'none'})`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
