import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAs, RunningGateway, startGateway } from '../bench/support/gateway';
import { waitFor } from '../bench/support/processes';

/**
 * The disk under DATA_DIR fills up while the gateway runs. DATA_DIR is a real
 * 8 MiB tmpfs (mounted here; the test machine runs as root) that the test fills
 * with a file until the kernel says ENOSPC. The real SQLite file then cannot
 * grow: every save must answer a typed PERSISTENCE_FAILED, leave nothing
 * half-made, and the gateway carries on, and saves work again once there is room.
 */
describe('disk full when saving state', () => {
  let gw: RunningGateway;
  let mountPoint: string;
  const filler = () => join(mountPoint, 'filler');

  function fillDisk(): void {
    const fd = openSync(filler(), 'w');
    const block = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) writeSync(fd, block);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      closeSync(fd);
    }
    // The last partial block, byte-sized, so not even a page is left.
    const tail = openSync(filler(), 'a');
    try {
      for (;;) writeSync(tail, Buffer.alloc(512, 1));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      closeSync(tail);
    }
  }

  beforeAll(async () => {
    mountPoint = mkdtempSync(join(tmpdir(), 'gw-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint]);
    gw = await startGateway({ dataDir: mountPoint });
  });
  afterAll(async () => {
    await gw?.stop();
    execFileSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('answers PERSISTENCE_FAILED, writes nothing half, keeps serving, and recovers when space is back', async () => {
    expect((await gw.admin('POST', '/api/v1/channels', { id: 'before' })).status).toBe(201);
    const host = await connectAs(gw, 'anchor', 'host', 'before');
    const guest = await connectAs(gw, 'guest1', 'viewer', 'before');
    fillDisk();

    // Channels: the first save that needs a new page fails (SQLite may still fit one in its log).
    let failed: { status: number; body: any } | undefined;
    const made: string[] = [];
    for (let i = 0; i < 40 && !failed; i++) {
      const res = await gw.admin('POST', '/api/v1/channels', { id: `full${i}`, title: 'x'.repeat(200) });
      if (res.status === 201) made.push(`full${i}`);
      else failed = res;
    }
    expect(failed).toMatchObject({ status: 503, body: { error: { code: 'PERSISTENCE_FAILED', message: expect.stringMatching(/could not save channel \(SQLITE_FULL\)/) } } });
    const listed = (await gw.admin('GET', '/api/v1/channels')).body.map((c: { id: string }) => c.id);
    expect(listed.sort()).toEqual(['before', ...made].sort());

    // A conference is not created when it cannot be saved.
    const conferences = async () => (await gw.admin('GET', '/api/v1/conferences')).body.length;
    const before = await conferences();
    expect(await gw.admin('POST', '/api/v1/conferences', { title: 'x' })).toMatchObject({ status: 503, body: { error: { code: 'PERSISTENCE_FAILED' } } });
    expect(await conferences()).toBe(before);

    // Co-hosting: the acceptance fails with the typed error; no session, no conference, the channel is not co-hosting.
    const invited = await host.emitWithAck('cohost:invite', { channelId: 'before', userId: 'guest1' });
    expect(invited).toMatchObject({ ok: true });
    const accepted = await guest.emitWithAck('cohost:accept', { invitationId: invited.invitationId });
    expect(accepted).toMatchObject({ ok: false, error: { code: 'PERSISTENCE_FAILED' } });
    expect((await gw.admin('GET', '/api/v1/channels/before')).body).not.toMatchObject({ state: 'cohosting' });
    expect(await conferences()).toBe(before);

    // The gateway is alive and serves reads and sockets the whole time.
    expect((await gw.request('GET', '/healthz')).status).toBe(200);
    expect(host.connected && guest.connected).toBe(true);
    expect(gw.child.exitCode).toBeNull();

    // Space comes back: saving works again, with no restart.
    rmSync(filler());
    await waitFor('saves work again', async () => ((await gw.admin('POST', '/api/v1/channels', { id: 'after' })).status === 201 ? true : undefined), 5000);
    const again = await host.emitWithAck('cohost:invite', { channelId: 'before', userId: 'guest1' });
    expect(await guest.emitWithAck('cohost:accept', { invitationId: again.invitationId })).toMatchObject({ ok: true, conferenceId: expect.any(String) });
    expect((await gw.admin('GET', '/api/v1/channels/before')).body).toMatchObject({ state: 'cohosting' });
    host.close();
    guest.close();
  }, 60000);
});
