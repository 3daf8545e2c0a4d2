import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from './database';
import { RecordingRepository } from './recording.repository';

// A real SQLite file in a temporary directory.
describe('RecordingRepository', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-db-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores recordings and their progress across reopening the file', () => {
    const file = join(dir, 'gateway.db');
    const db = new Database(file);
    const repo = new RecordingRepository(db);
    repo.insert({ id: 'rec_a', channelId: 'show', state: 'recording', startedAt: 10, durationMs: 0, hasMp4: false });
    repo.insert({ id: 'rec_b', mixTaskId: 'mix_1', ownerUserId: 'boss', state: 'recording', startedAt: 20, durationMs: 0, hasMp4: false });
    repo.insert({ id: 'rec_c', channelId: 'show', state: 'recording', startedAt: 30, durationMs: 0, hasMp4: false });
    repo.update({ id: 'rec_a', state: 'done', endedAt: 15, durationMs: 5000, hasMp4: true });
    db.close();

    const again = new RecordingRepository(new Database(file));
    expect(again.find('rec_a')).toEqual({ id: 'rec_a', channelId: 'show', state: 'done', startedAt: 10, endedAt: 15, durationMs: 5000, hasMp4: true });
    expect(again.find('rec_b')).toEqual({ id: 'rec_b', mixTaskId: 'mix_1', ownerUserId: 'boss', state: 'recording', startedAt: 20, durationMs: 0, hasMp4: false });
    expect(again.listByChannel('show').map((r) => r.id)).toEqual(['rec_a', 'rec_c']);
    expect(again.listInState('recording').map((r) => r.id)).toEqual(['rec_b', 'rec_c']);
    expect(again.find('nope')).toBeUndefined();
  });
});
