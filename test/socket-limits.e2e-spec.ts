import { io, Socket } from 'socket.io-client';
import { connectAs, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';

/**
 * Socket message sizes as docs/signalling.md states them: every request gets
 * an ack (the contract), so an event over 64 KiB and up to 1 MiB of payload is
 * answered PAYLOAD_TOO_LARGE on a connection that stays usable; only a message
 * over the hard limit (1 MiB + 4 KiB on the wire) closes the connection.
 */
describe('socket message size limits', () => {
  let gw: RunningGateway;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    gw = await startGateway();
    await gw.admin('POST', '/api/v1/channels', { id: 'sizes' });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await gw?.stop();
    removeDir(gw.dataDir);
  });
  const connect = async (userId: string, role: string) => {
    const socket = await connectAs(gw, userId, role, 'sizes');
    sockets.push(socket);
    return socket;
  };

  it('answers 200 KB and ~1 MiB payloads with PAYLOAD_TOO_LARGE and the same socket keeps working', async () => {
    const host = await connect('size-host', 'host');
    const disconnects: string[] = [];
    host.on('disconnect', (reason) => disconnects.push(reason));

    for (const bytes of [200 * 1024, 1024 * 1024 - 64]) {
      // The event's whole payload is `bytes` of JSON: {"channelId":"…","userId":"u"}.
      const filler = 'x'.repeat(bytes - '{"channelId":"","userId":"u"}'.length);
      const answer = await host.timeout(10000).emitWithAck('cohost:invite', { channelId: filler, userId: 'u' });
      expect({ bytes, answer }).toEqual({ bytes, answer: { ok: false, error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) } } });
      expect(host.connected).toBe(true);
      // Usable afterwards: a normal request on the same socket succeeds.
      const invited = await host.timeout(5000).emitWithAck('cohost:invite', { channelId: 'sizes', userId: `fan-${bytes}` });
      expect(invited).toMatchObject({ ok: true, invitationId: expect.stringMatching(/^inv_/) });
    }
    // Just under the working limit is handled as usual (a typed answer of the handler, not a size refusal).
    const near = await host.timeout(5000).emitWithAck('cohost:invite', { channelId: 'x'.repeat(60 * 1024), userId: 'u' });
    expect(near).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    expect(disconnects).toEqual([]);

    // The same answer over HTTP long-polling (the hard limit there is per request).
    const token = (await gw.admin('POST', '/api/v1/tokens', { userId: 'size-poller', role: 'viewer', channelId: 'sizes' })).body.token;
    const poller = io(gw.baseUrl, { auth: { token }, transports: ['polling'], reconnection: false, forceNew: true });
    sockets.push(poller);
    await new Promise<void>((resolve, reject) => {
      poller.once('connect', () => resolve());
      poller.once('connect_error', reject);
    });
    expect(await poller.timeout(10000).emitWithAck('cohost:apply', { channelId: 'x'.repeat(200 * 1024) })).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await poller.timeout(5000).emitWithAck('cohost:apply', { channelId: 'sizes' })).toMatchObject({ ok: true });
    expect(poller.connected).toBe(true);
  }, 60000);

  it('closes the connection, without an ack, for a message over the hard limit; the server carries on', async () => {
    const viewer = await connect('size-viewer', 'viewer');
    const closed = new Promise<string>((resolve) => viewer.once('disconnect', resolve));
    let acked: unknown;
    viewer.emit('cohost:apply', { channelId: 'x'.repeat(1024 * 1024 + 8 * 1024) }, (answer: unknown) => (acked = answer));
    let timer: NodeJS.Timeout | undefined;
    const reason = await Promise.race([closed, new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still connected'), 10000)))]);
    clearTimeout(timer);
    expect(reason).toMatch(/^transport (close|error)$/);
    expect(acked).toBeUndefined();
    // A new connection (same user) is served normally.
    await connect('size-host', 'host');
    const again = await connect('size-viewer', 'viewer');
    expect(await again.timeout(5000).emitWithAck('cohost:apply', { channelId: 'sizes' })).toMatchObject({ ok: true, invitationId: expect.stringMatching(/^inv_/) });
    expect((await gw.request('GET', '/healthz')).status).toBe(200);
  }, 30000);
});
