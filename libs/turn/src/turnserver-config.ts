/** What the embedded coturn turnserver is told (all of it goes into its config file). */
export interface TurnServerSettings {
  /** Interface to listen and relay on (RTC_LISTEN_IP); a wildcard lets coturn use every interface. */
  listenIp: string;
  /** UDP and TCP (TURN_PORT). */
  port: number;
  /** UDP ports relays are allocated on. */
  relayPorts: { min: number; max: number };
  tls?: { port: number; certFile: string; keyFile: string };
  /** Public address written into relayed candidates, when it differs from the listening one (RTC_ANNOUNCED_IP). */
  externalIp?: string;
  /** use-auth-secret's static secret. */
  secret: string;
  realm: string;
  /**
   * The only peers a relay may send to: the SFU's addresses. TURN here exists to
   * reach our SFU, not to be an open relay into the host's network.
   */
  allowedPeerIps: string[];
  /** The admin CLI on loopback, through which the gateway reads sessions (client protocol, relay address). */
  cli: { port: number; password: string };
  /** Files coturn writes: its pid file and its (unused, but always opened) user database. */
  pidFile: string;
  userDbFile: string;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);
const isLoopback = (ip: string) => /^127\./.test(ip) || ip === '::1';
const isIpv4 = (ip: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);

/**
 * The turnserver config file, one option per line (coturn's own syntax). The
 * secret lives here rather than on the command line, so `ps` never shows it;
 * the file is written mode 0600 in the data dir.
 */
export function turnServerConfig(s: TurnServerSettings): string[] {
  const lines: string[] = [];
  if (!WILDCARDS.has(s.listenIp)) lines.push(`listening-ip=${s.listenIp}`, `relay-ip=${s.listenIp}`);
  lines.push(`listening-port=${s.port}`, `min-port=${s.relayPorts.min}`, `max-port=${s.relayPorts.max}`);
  if (s.tls) lines.push(`tls-listening-port=${s.tls.port}`, `cert=${s.tls.certFile}`, `pkey=${s.tls.keyFile}`, 'no-tlsv1', 'no-tlsv1_1');
  else lines.push('no-tls');
  lines.push('no-dtls');
  if (s.externalIp) lines.push(`external-ip=${s.externalIp}`);
  lines.push('use-auth-secret', `static-auth-secret=${s.secret}`, `realm=${s.realm}`, 'fingerprint');
  // Media relays to the SFU over UDP only: no RFC 6062 TCP relays, no multicast.
  lines.push('no-tcp-relay', 'no-multicast-peers');
  if (s.allowedPeerIps.length) {
    lines.push('denied-peer-ip=0.0.0.0-255.255.255.255', 'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
    for (const ip of s.allowedPeerIps) lines.push(`allowed-peer-ip=${ip}`);
    // A loopback SFU (the default, RTC_LISTEN_IP=127.0.0.1) is reachable only with this; the deny-all above keeps it to the SFU's address.
    if (s.allowedPeerIps.some(isLoopback)) lines.push('allow-loopback-peers');
  }
  lines.push(`cli-ip=127.0.0.1`, `cli-port=${s.cli.port}`, `cli-password=${s.cli.password}`);
  // stdout, line by line, to the supervisor (listener and session lines need `verbose`).
  lines.push('log-file=stdout', 'simple-log', 'verbose', `pidfile=${s.pidFile}`, `userdb=${s.userDbFile}`);
  return lines;
}

/** The turnserver command line: our config file only (`-c`), never /etc/turnserver.conf. */
export function turnServerArgs(configFile: string): string[] {
  return ['-c', configFile];
}

/** The SFU addresses relays may reach: its listening address and its announced one, when those are IP literals. */
export function sfuPeerIps(listenIp: string, announcedIp: string | undefined): string[] {
  const ips = [listenIp, announcedIp].filter((ip): ip is string => !!ip && !WILDCARDS.has(ip) && (isIpv4(ip) || ip.includes(':')));
  return [...new Set(ips)];
}
