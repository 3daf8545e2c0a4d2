import { parseCliSessions } from './cli-sessions';
import { countByPath, pathOfTuple } from './media-path';
import { sfuPeerIps, turnServerArgs, turnServerConfig } from './turnserver-config';

const base = {
  listenIp: '127.0.0.1',
  port: 3478,
  relayPorts: { min: 49152, max: 49999 },
  secret: 's3cret-s3cret-s3cret',
  realm: 'cohost-gateway',
  allowedPeerIps: ['127.0.0.1'],
  cli: { port: 45766, password: 'cli-pass' },
  pidFile: '/data/turn/turnserver.pid',
  userDbFile: '/data/turn/turndb',
};

describe('turnserver config', () => {
  it('listens and relays on the SFU address, relays only to the SFU, secret in the file', () => {
    expect(turnServerConfig(base)).toEqual([
      'listening-ip=127.0.0.1',
      'relay-ip=127.0.0.1',
      'listening-port=3478',
      'min-port=49152',
      'max-port=49999',
      'no-tls',
      'no-dtls',
      'use-auth-secret',
      'static-auth-secret=s3cret-s3cret-s3cret',
      'realm=cohost-gateway',
      'fingerprint',
      'no-tcp-relay',
      'no-multicast-peers',
      'denied-peer-ip=0.0.0.0-255.255.255.255',
      'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      'allowed-peer-ip=127.0.0.1',
      'allow-loopback-peers',
      'cli-ip=127.0.0.1',
      'cli-port=45766',
      'cli-password=cli-pass',
      'log-file=stdout',
      'simple-log',
      'verbose',
      'pidfile=/data/turn/turnserver.pid',
      'userdb=/data/turn/turndb',
    ]);
    expect(turnServerArgs('/data/turn/turnserver.conf')).toEqual(['-c', '/data/turn/turnserver.conf']);
  });

  it('adds TLS and the external address; a wildcard listens everywhere; a public SFU needs no loopback peers', () => {
    const lines = turnServerConfig({
      ...base,
      listenIp: '0.0.0.0',
      tls: { port: 5349, certFile: '/tls/c.pem', keyFile: '/tls/k.pem' },
      externalIp: '203.0.113.7',
      allowedPeerIps: ['203.0.113.7'],
    });
    expect(lines.slice(0, 8)).toEqual(['listening-port=3478', 'min-port=49152', 'max-port=49999', 'tls-listening-port=5349', 'cert=/tls/c.pem', 'pkey=/tls/k.pem', 'no-tlsv1', 'no-tlsv1_1']);
    expect(lines).toContain('external-ip=203.0.113.7');
    expect(lines).toContain('allowed-peer-ip=203.0.113.7');
    expect(lines).not.toContain('no-tls');
    expect(lines).not.toContain('allow-loopback-peers');
    expect(lines.some((l) => l.startsWith('listening-ip') || l.startsWith('relay-ip'))).toBe(false);
  });

  it('lets relays reach the SFU addresses that are IP literals', () => {
    expect(sfuPeerIps('127.0.0.1', undefined)).toEqual(['127.0.0.1']);
    expect(sfuPeerIps('0.0.0.0', '203.0.113.7')).toEqual(['203.0.113.7']);
    expect(sfuPeerIps('10.0.0.2', 'sfu.example.test')).toEqual(['10.0.0.2']);
    expect(sfuPeerIps('127.0.0.1', '127.0.0.1')).toEqual(['127.0.0.1']);
  });
});

describe('coturn CLI sessions', () => {
  // As coturn 4.6.1 prints `ps` (captured from a real session).
  const ps =
    "> \r\n    1) id=000000000000000002, user <1796217510:alice>:\r\n      realm: cohost\r\n      started 2 secs ago\r\n      expiring in 598 secs\r\n" +
    '      client protocol TCP, relay protocol UDP\r\n      client addr 127.0.0.1:56080, server addr 127.0.0.1:34780\r\n      relay addr 127.0.0.1:56919\r\n' +
    '      fingerprints enforced: ON\r\n      mobile: OFF\r\n      usage: rp=10, rb=1140, sp=9, sb=760\r\n       rate: r=0, s=0, total=0 (bytes per sec)\r\n' +
    '      peers:\r\n          127.0.0.1:3481\r\n\r\n    2) id=001000000000000001, user <1796217510:bob>:\r\n      client protocol UDP, relay protocol UDP\r\n' +
    '      client addr 127.0.0.1:5000, server addr 127.0.0.1:34780\r\n      relay addr 127.0.0.1:61000\r\n\r\n  Total sessions: 2\r\n\r\n> ';

  it('reads each session: user, client protocol, relay address', () => {
    expect(parseCliSessions(ps)).toEqual([
      { id: '000000000000000002', username: '1796217510:alice', clientProtocol: 'tcp', clientAddress: '127.0.0.1:56080', relayAddress: '127.0.0.1:56919' },
      { id: '001000000000000001', username: '1796217510:bob', clientProtocol: 'udp', clientAddress: '127.0.0.1:5000', relayAddress: '127.0.0.1:61000' },
    ]);
    expect(parseCliSessions('\r\n  Total sessions: 0\r\n\r\n> ')).toEqual([]);
  });
});

describe('media path', () => {
  it('is the relayed client leg through TURN, else the tuple protocol', () => {
    const tuple = { remoteIp: '127.0.0.1', remotePort: 50000, protocol: 'udp' as const };
    expect(pathOfTuple(tuple)).toBe('sfu-udp');
    expect(pathOfTuple({ ...tuple, protocol: 'tcp' })).toBe('sfu-tcp');
    expect(pathOfTuple(tuple, 'udp')).toBe('turn-udp');
    expect(pathOfTuple(tuple, 'tcp')).toBe('turn-tcp');
    expect(pathOfTuple(tuple, 'tls')).toBe('turn-tls');
  });

  it('counts every rung', () => {
    expect(countByPath(['sfu-udp', 'turn-tcp', undefined, 'sfu-udp'])).toEqual({ p2p: 0, 'sfu-udp': 2, 'sfu-tcp': 0, 'turn-udp': 0, 'turn-tcp': 1, 'turn-tls': 0 });
  });
});
