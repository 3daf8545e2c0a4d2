import type { Socket } from 'socket.io-client';
import { ask, connectAs, nextEvent, removeDir, RunningGateway, startGateway } from '../bench/support/gateway';

/**
 * Mixes are admitted by CPU cost (libs/mixing/src/mix-cost.ts): the built
 * gateway with NODE_CPU_BUDGET=1.0 holds two 2-party 640x360@15 mixes (0.4
 * cores each); a third is refused with 503 MIX_CAPACITY, a co-hosting accept
 * that would start one is refused in its ack with nothing changed, and a
 * stopped mix frees its room. Real gateway, origin and ffmpeg mixers.
 */
describe('mix admission by CPU cost', () => {
  let gw: RunningGateway;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    gw = await startGateway({ env: { NODE_CPU_BUDGET: '1.0', SFU_WORKERS: '1' } });
  }, 60000);

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await gw?.stop();
    if (gw) removeDir(gw.dataDir);
  });

  const mix = async (conferenceId: string, channelId: string) => {
    const channel = (await gw.admin('POST', '/api/v1/channels', { id: channelId, title: channelId })).body;
    return gw.admin('POST', '/api/v1/mix-tasks', {
      conferenceId,
      outputs: [{ url: channel.publishUrl }],
      layout: { mode: 'grid' },
      video: { width: 640, height: 360, fps: 15, bitrateKbps: 400, gopSeconds: 1 },
      audio: { sampleRate: 48000, channels: 2, bitrateKbps: 64 },
    });
  };

  it('admits what the budget holds, refuses the next with MIX_CAPACITY, and frees the room of a stopped mix', async () => {
    const conferenceId = (await gw.admin('POST', '/api/v1/conferences', { title: 'admission' })).body.id as string;
    const first = await mix(conferenceId, 'out1');
    const second = await mix(conferenceId, 'out2');
    expect([first.status, second.status]).toEqual([201, 201]);
    const third = await mix(conferenceId, 'out3');
    expect(third).toMatchObject({ status: 503, body: { error: { code: 'MIX_CAPACITY', message: expect.stringMatching(/costs 0\.39\d cores, 0\.80 of the 1 budgeted/) } } });

    const [node] = (await gw.admin('GET', '/api/v1/admin/nodes')).body;
    expect(node).toMatchObject({ state: 'up', cpuBudget: 1, mixTasks: 2 });
    expect(node.cpuReserved).toBeCloseTo(0.8, 1);

    // A co-hosting accept that would start a third server mix is refused in its ack, and nothing changes.
    expect((await gw.admin('POST', '/api/v1/channels', { id: 'stage', title: 'Stage' })).status).toBe(201);
    const host = await connectAs(gw, 'anchor', 'host', 'stage');
    const guest = await connectAs(gw, 'guest1', 'viewer');
    sockets.push(host, guest);
    const invitedSeen = nextEvent(guest, 'cohost:invited');
    const invited = await ask(host, 'cohost:invite', { channelId: 'stage', userId: 'guest1' });
    await invitedSeen;
    expect(await ask(guest, 'cohost:accept', { invitationId: invited.invitationId })).toMatchObject({ ok: false, error: { code: 'MIX_CAPACITY' } });
    // Still pending: the guest can still answer it.
    expect(await ask(guest, 'cohost:reject', { invitationId: invited.invitationId })).toEqual({ ok: true });
    expect((await gw.admin('GET', '/api/v1/channels/stage')).body.state).not.toBe('cohosting');

    expect((await gw.admin('DELETE', `/api/v1/mix-tasks/${first.body.id}`)).status).toBeLessThan(300);
    // (The channel's publish URL is shown once, at creation: a new channel.)
    const again = await mix(conferenceId, 'out4');
    expect(again.status).toBe(201);
    const [after] = (await gw.admin('GET', '/api/v1/admin/nodes')).body;
    expect(after.mixTasks).toBe(2);
    expect(after.cpuReserved).toBeCloseTo(0.8, 1);
  }, 60000);
});
