import { Database } from './database';

export interface ChannelRecord {
  id: string;
  title: string;
  publishKey: string;
  createdAt: number;
  /** The viewers' swarm (seed 002), when the channel set its own. */
  p2p?: ChannelP2pSettings;
}

/** How a channel's program is dealt to its viewers' swarm: `substreams` (the seed's s) of groups of `group` blocks (its a). */
export interface ChannelP2pSettings {
  enabled: boolean;
  substreams: number;
  group: number;
}

interface ChannelRow {
  id: string;
  title: string;
  publish_key: string;
  created_at: number;
  p2p: string | null;
}

const parseP2p = (text: string | null): ChannelP2pSettings | undefined => {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as ChannelP2pSettings;
    return typeof v.substreams === 'number' && typeof v.group === 'number' ? { enabled: v.enabled !== false, substreams: v.substreams, group: v.group } : undefined;
  } catch {
    return undefined;
  }
};

const toRecord = (row: ChannelRow): ChannelRecord => ({
  id: row.id,
  title: row.title,
  publishKey: row.publish_key,
  createdAt: row.created_at,
  ...(row.p2p ? { p2p: parseP2p(row.p2p) } : {}),
});

/** Channels as stored: identity, title and the secret publish key. Live state is not stored; the origin owns it. */
export class ChannelRepository {
  constructor(private readonly db: Database) {}

  /** Inserts a channel; returns false when the id is taken. */
  insert(channel: ChannelRecord): boolean {
    const result = this.db.run(
      'save channel',
      `INSERT INTO channels (id, title, publish_key, created_at, p2p) VALUES (@id, @title, @publishKey, @createdAt, @p2p)
       ON CONFLICT(id) DO NOTHING`,
      { id: channel.id, title: channel.title, publishKey: channel.publishKey, createdAt: channel.createdAt, p2p: channel.p2p ? JSON.stringify(channel.p2p) : null },
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

  updateP2p(id: string, p2p: ChannelP2pSettings): boolean {
    return this.db.run('save channel swarm settings', 'UPDATE channels SET p2p = ? WHERE id = ?', [JSON.stringify(p2p), id]).changes === 1;
  }

  delete(id: string): boolean {
    return this.db.run('delete channel', 'DELETE FROM channels WHERE id = ?', [id]).changes === 1;
  }
}
