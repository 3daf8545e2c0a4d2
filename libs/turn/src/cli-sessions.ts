import { TurnClientProtocol } from './media-path';

/** One allocation as coturn's CLI `ps` lists it. */
export interface TurnSession {
  id: string;
  username: string;
  clientProtocol: TurnClientProtocol;
  clientAddress: string;
  /** `ip:port` of the relayed transport: the address the SFU sees this client at. */
  relayAddress: string;
}

const PROTOCOLS: Record<string, TurnClientProtocol> = { UDP: 'udp', TCP: 'tcp', TLS: 'tls', DTLS: 'dtls', 'TLS/TCP': 'tls', 'DTLS/UDP': 'dtls' };

/**
 * Parses the output of coturn's CLI `ps` command:
 * ```
 *     1) id=000000000000000002, user <1796217510:alice>:
 *       client protocol TCP, relay protocol UDP
 *       client addr 127.0.0.1:56080, server addr 127.0.0.1:34780
 *       relay addr 127.0.0.1:56919
 * ```
 * Sessions missing any of these lines are skipped.
 */
export function parseCliSessions(text: string): TurnSession[] {
  const sessions: TurnSession[] = [];
  const blocks = text.replace(/\r/g, '').split(/^\s*\d+\) /m).slice(1);
  for (const block of blocks) {
    const head = /^id=(\d+), user <([^>]*)>/.exec(block);
    const protocol = /client protocol ([A-Z/]+)/.exec(block);
    const client = /client addr (\S+?),/.exec(block);
    const relay = /relay addr (\S+)/.exec(block);
    const clientProtocol = protocol ? PROTOCOLS[protocol[1]] : undefined;
    if (!head || !clientProtocol || !client || !relay) continue;
    sessions.push({ id: head[1], username: head[2], clientProtocol, clientAddress: client[1], relayAddress: relay[1] });
  }
  return sessions;
}
