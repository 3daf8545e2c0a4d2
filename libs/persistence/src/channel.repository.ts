import { Database } from './database';

export interface ChannelRecord {
  id: string;
  title: string;
  publishKey: string;
  createdAt: number;
}

interface ChannelRow {
  id: string;
  title: string;
  publish_key: string;
  created_at: number;
}

const toRecord = (row: ChannelRow): ChannelRecord => ({
  id: row.id,
  title: row.title,
  publishKey: row.publish_key,
  createdAt: row.created_at,
});

/** Channels as stored: identity, title and the secret publish key. Live state is not stored; the origin owns it. */
export class ChannelRepository {
  constructor(private readonly db: Database) {}

  /** Inserts a channel; returns false when the id is taken. */
  insert(channel: ChannelRecord): boolean {
    const result = this.db.run(
      'save channel',
      `INSERT INTO channels (id, title, publish_key, created_at) VALUES (@id, @title, @publishKey, @createdAt)
       ON CONFLICT(id) DO NOTHING`,
      { ...channel },
    );
    return result.changes === 1;
  }

  find(id: string): ChannelRecord | undefined {
    const row = this.db.get<ChannelRow>('read channel', 'SELECT * FROM channels WHERE id = ?', [id]);
    return row && toRecord(row);
  }

  list(): ChannelRecord[] {
    return this.db.all<ChannelRow>('list channels', 'SELECT * FROM channels ORDER BY created_at').map(toRecord);
  }

  updatePublishKey(id: string, publishKey: string): boolean {
    return this.db.run('rotate publish key', 'UPDATE channels SET publish_key = ? WHERE id = ?', [publishKey, id]).changes === 1;
  }

  delete(id: string): boolean {
    return this.db.run('delete channel', 'DELETE FROM channels WHERE id = ?', [id]).changes === 1;
  }
}
