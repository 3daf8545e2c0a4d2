import { turnCredentials, turnPassword } from './credentials';
import { embeddedTurnUrls, iceServersView } from './ice-servers';

// Vectors computed outside this code: `printf %s "$username" | openssl dgst -sha1 -hmac "$secret" -binary | base64`.
const SECRET = 'north-wind-secret-0123';

describe('TURN REST credentials', () => {
  it('signs the username with HMAC-SHA1 of the secret, base64', () => {
    expect(turnPassword(SECRET, '1796217450:alice')).toBe('IdJfl/5pCUWxICFac1cDG6UT1og=');
    expect(turnPassword(SECRET, '1700003600:guest-7')).toBe('yHDmsmsddwWAblz9MgLmBqSCEv4=');
    expect(turnPassword(SECRET, '1700000100:bob')).toBe('71/CLEovvozgkiFwX8HcUJZTwwY=');
    expect(turnPassword('another-secret-000000', '1700003600:guest-7')).not.toBe('yHDmsmsddwWAblz9MgLmBqSCEv4=');
  });

  it('expires TURN_TTL_SECONDS from now when the token lives longer', () => {
    const c = turnCredentials({ secret: SECRET, userId: 'guest-7', ttlSeconds: 3600, tokenExpiresAtMs: 1_700_090_000_000, nowMs: 1_700_000_000_400 });
    expect(c).toEqual({ username: '1700003600:guest-7', credential: 'yHDmsmsddwWAblz9MgLmBqSCEv4=', ttlSeconds: 3600, expiresAt: 1_700_003_600 });
  });

  it('never outlives the token that asked (rounded down to its second)', () => {
    const c = turnCredentials({ secret: SECRET, userId: 'bob', ttlSeconds: 3600, tokenExpiresAtMs: 1_700_000_100_999, nowMs: 1_700_000_000_000 });
    expect(c).toEqual({ username: '1700000100:bob', credential: '71/CLEovvozgkiFwX8HcUJZTwwY=', ttlSeconds: 100, expiresAt: 1_700_000_100 });
    const expiring = turnCredentials({ secret: SECRET, userId: 'bob', ttlSeconds: 3600, tokenExpiresAtMs: 1_700_000_000_500, nowMs: 1_700_000_000_200 });
    expect(expiring.ttlSeconds).toBe(0);
    expect(expiring.expiresAt).toBe(1_700_000_000);
  });

  it('without a token (the admin key) lasts the full TTL', () => {
    expect(turnCredentials({ secret: SECRET, userId: 'admin', ttlSeconds: 60, nowMs: 1_000_000 }).username).toBe('1060:admin');
  });
});

describe('ICE server list', () => {
  it('offers STUN and TURN over UDP and TCP, and TURNS with TLS', () => {
    expect(embeddedTurnUrls({ host: '203.0.113.7', port: 3478 })).toEqual([
      'stun:203.0.113.7:3478',
      'turn:203.0.113.7:3478?transport=udp',
      'turn:203.0.113.7:3478?transport=tcp',
    ]);
    expect(embeddedTurnUrls({ host: 'gw.example.test', port: 3478, tlsPort: 5349 })).toEqual([
      'stun:gw.example.test:3478',
      'turn:gw.example.test:3478?transport=udp',
      'turn:gw.example.test:3478?transport=tcp',
      'turns:gw.example.test:5349?transport=tcp',
    ]);
    expect(embeddedTurnUrls({ host: '2001:db8::1', port: 3478 })[0]).toBe('stun:[2001:db8::1]:3478');
  });

  it('is one entry with the credentials, or empty', () => {
    const credentials = { username: '1:u', credential: 'c', ttlSeconds: 9, expiresAt: 1 };
    expect(iceServersView(['stun:h:1'], credentials)).toEqual({ iceServers: [{ urls: ['stun:h:1'], username: '1:u', credential: 'c' }], ttlSeconds: 9 });
    expect(iceServersView([], credentials)).toEqual({ iceServers: [], ttlSeconds: 0 });
    expect(iceServersView(['stun:h:1'], undefined)).toEqual({ iceServers: [], ttlSeconds: 0 });
  });
});
