/**
 * How a host's sender asks a helper device (another phone or laptop on the
 * host's network, with a network of its own) to carry part of the uplink
 * (seed 000). Pure: no I/O.
 *
 * The sender asks first; the helper may refuse, and says how much data it is
 * still willing to carry (its remaining allowance). An accepted helper relays
 * every other datagram of that sender to the receiver as one more SRTLA link,
 * and tells the sender when its allowance is spent.
 *
 * Messages share the relay's UDP port with the SRTLA traffic they carry, so
 * they are tagged: the 4 bytes "UPLH", then one JSON object. An SRT data
 * packet whose sequence number happened to spell the tag would not parse as
 * a valid message, and is relayed as what it is.
 */

export const HELPER_TAG = Buffer.from('UPLH');

export type HelperMessage =
  /** Sender → helper: will you carry about `expectedKbps` to `receiver`? */
  | { type: 'request'; id: string; receiver: { host: string; port: number }; expectedKbps: number }
  /** Helper → sender: yes, up to `allowanceBytes` more. */
  | { type: 'accept'; id: string; allowanceBytes: number }
  /** Helper → sender: no (busy, no allowance left, not allowed). */
  | { type: 'refuse'; id: string; reason: string; allowanceBytes: number }
  /** Helper → sender: the allowance is spent; nothing more is relayed. */
  | { type: 'exhausted'; id: string }
  /** Sender → helper: done with you. */
  | { type: 'release'; id: string };

const MAX_MESSAGE_BYTES = 1024;

export function encodeHelperMessage(message: HelperMessage): Buffer {
  return Buffer.concat([HELPER_TAG, Buffer.from(JSON.stringify(message), 'utf8')]);
}

/** The message a datagram carries, or undefined when it is not one (relay traffic, junk, a malformed message). */
export function decodeHelperMessage(datagram: Buffer): HelperMessage | undefined {
  if (datagram.length <= HELPER_TAG.length || datagram.length > MAX_MESSAGE_BYTES || !datagram.subarray(0, 4).equals(HELPER_TAG)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(datagram.subarray(4).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const m = value as Record<string, unknown>;
  const id = typeof m.id === 'string' && m.id.length > 0 && m.id.length <= 64 ? m.id : undefined;
  if (!id) return undefined;
  const bytes = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);
  switch (m.type) {
    case 'request': {
      const r = m.receiver as Record<string, unknown> | undefined;
      const kbps = bytes(m.expectedKbps);
      if (!r || typeof r.host !== 'string' || !/^[A-Za-z0-9.:-]{1,253}$/.test(r.host) || !Number.isInteger(r.port) || (r.port as number) < 1 || (r.port as number) > 65535 || kbps === undefined) return undefined;
      return { type: 'request', id, receiver: { host: r.host, port: r.port as number }, expectedKbps: kbps };
    }
    case 'accept': {
      const allowanceBytes = bytes(m.allowanceBytes);
      return allowanceBytes === undefined ? undefined : { type: 'accept', id, allowanceBytes };
    }
    case 'refuse': {
      const allowanceBytes = bytes(m.allowanceBytes);
      return allowanceBytes === undefined ? undefined : { type: 'refuse', id, reason: typeof m.reason === 'string' ? m.reason.slice(0, 200) : 'refused', allowanceBytes };
    }
    case 'exhausted':
      return { type: 'exhausted', id };
    case 'release':
      return { type: 'release', id };
    default:
      return undefined;
  }
}

/**
 * How much of a share a helper's allowance supports: 1 when it lasts the
 * horizon at the rate the sender expects to put through it, less in
 * proportion when it runs out sooner (a helper about to run dry gets less).
 */
export function allowanceFactor(allowanceBytes: number, expectedKbps: number, horizonSeconds = 600): number {
  if (expectedKbps <= 0) return 1;
  const needed = (expectedKbps * 1000 * horizonSeconds) / 8;
  return Math.max(0, Math.min(1, allowanceBytes / needed));
}

/** The seed's answer timeout: twice the time an answer is expected to take. */
export function answerTimeoutMs(expectedAnswerMs: number): number {
  return 2 * Math.max(50, expectedAnswerMs);
}
