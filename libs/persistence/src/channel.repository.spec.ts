import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelRepository } from './channel.repository';
import { Database } from './database';

// A real SQLite file in a temporary directory.
describe('ChannelRepository', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-db-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores channels that survive reopening the file', () => {
    const file = join(dir, 'gateway.db');
    const db = new Database(file);
    const repo = new ChannelRepository(db);
    expect(repo.insert({ id: 'c1', title: 'One', publishKey: 'k1', createdAt: 1 })).toBe(true);
    expect(repo.insert({ id: 'c1', title: 'Dup', publishKey: 'k2', createdAt: 2 })).toBe(false);
    db.close();
    db.close(); // idempotent

    const reopened = new Database(file);
    const again = new ChannelRepository(reopened);
    expect(again.find('c1')).toEqual({ id: 'c1', title: 'One', publishKey: 'k1', createdAt: 1 });
    expect(again.updatePublishKey('c1', 'k9')).toBe(true);
    expect(again.find('c1')?.publishKey).toBe('k9');
    expect(again.list().map((c) => c.id)).toEqual(['c1']);
    expect(again.find('nope')).toBeUndefined();
    reopened.close();
  });

  it('turns a driver failure into a typed PERSISTENCE_FAILED error and rolls back', () => {
    const db = new Database(join(dir, 'gateway.db'));
    const repo = new ChannelRepository(db);
    expect(() =>
      db.transaction('save two channels', () => {
        repo.insert({ id: 'a', title: 'A', publishKey: 'k', createdAt: 1 });
        db.run('break', 'INSERT INTO no_such_table VALUES (1)');
      }),
    ).toThrow(expect.objectContaining({ code: 'PERSISTENCE_FAILED', status: 503 }));
    expect(repo.find('a')).toBeUndefined();
    db.close();
  });
});
