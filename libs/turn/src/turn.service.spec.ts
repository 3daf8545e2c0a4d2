import { turnPassword } from './credentials';
import { TurnService } from './turn.service';

const now = () => 1_700_000_000_000;

describe('TurnService', () => {
  it('with TURN off hands out no servers', () => {
    const turn = new TurnService({ mode: 'off', ttlSeconds: 3600, p2pTimeoutMs: 2500 }, undefined, now);
    expect(turn.iceServers({ userId: 'u', tokenExpiresAtMs: now() + 60_000 })).toEqual({ iceServers: [], ttlSeconds: 0 });
  });

  it('points at an external TURN server with credentials signed by its secret', () => {
    const urls = ['turn:turn.example.test:3478?transport=udp', 'turns:turn.example.test:443?transport=tcp'];
    const turn = new TurnService({ mode: 'external', urls, secret: 'external-secret-0000', ttlSeconds: 600, p2pTimeoutMs: 2500 }, undefined, now);
    const view = turn.iceServers({ userId: 'guest', tokenExpiresAtMs: now() + 3_600_000 });
    expect(view).toEqual({ iceServers: [{ urls, username: '1700000600:guest', credential: turnPassword('external-secret-0000', '1700000600:guest') }], ttlSeconds: 600 });
  });

  it('announces the embedded server at its public host, credentials clamped to the token', () => {
    const turn = new TurnService(
      { mode: 'embedded', port: 3478, listenIp: '10.0.0.2', relayPorts: { min: 49152, max: 49999 }, announcedHost: '203.0.113.7', secret: 'embedded-secret-0000', ttlSeconds: 3600, p2pTimeoutMs: 2500 },
      undefined,
      now,
    );
    const view = turn.iceServers({ userId: 'alice', tokenExpiresAtMs: now() + 120_000 });
    expect(view.iceServers[0].urls).toEqual(['stun:203.0.113.7:3478', 'turn:203.0.113.7:3478?transport=udp', 'turn:203.0.113.7:3478?transport=tcp']);
    expect(view.iceServers[0].username).toBe('1700000120:alice');
    expect(view.ttlSeconds).toBe(120);
  });

  it('does not start without its secret resolved', () => {
    expect(() => new TurnService({ mode: 'embedded', port: 3478, listenIp: '127.0.0.1', relayPorts: { min: 1, max: 2 }, announcedHost: 'h', ttlSeconds: 1, p2pTimeoutMs: 1 }, undefined)).toThrow(/secret/);
  });

  it('knows no relays without a running embedded server', async () => {
    const turn = new TurnService({ mode: 'off', ttlSeconds: 3600, p2pTimeoutMs: 2500 }, undefined);
    expect(await turn.relayedClientProtocol('127.0.0.1', 50000)).toBeUndefined();
  });
});
