import { Database } from './database';

export interface ConferenceRecord {
  id: string;
  title: string;
  hostUserId?: string;
  createdAt: number;
  members: string[];
}

export interface IngestPointRecord {
  stream: string;
  publishKey: string;
  conferenceId: string;
  userId: string;
  /** What the push carries: the participant's camera (default) or a screen share. */
  kind?: 'camera' | 'screen';
}

/**
 * Running conferences as stored: identity, members and their RTMP ingest points,
 * so a restarted gateway rebuilds them with the same ids (tokens and push URLs
 * stay valid). Deleting a conference deletes everything that hangs off it.
 */
export class ConferenceRepository {
  constructor(private readonly db: Database) {}

  insert(conference: Omit<ConferenceRecord, 'members'>, members: string[]): void {
    this.db.transaction('save conference', () => {
      this.db.run('save conference', 'INSERT INTO conferences (id, title, host_user_id, created_at) VALUES (?, ?, ?, ?)', [
        conference.id,
        conference.title,
        conference.hostUserId ?? null,
        conference.createdAt,
      ]);
      for (const userId of members) this.addMember(conference.id, userId);
    });
  }

  addMember(conferenceId: string, userId: string): void {
    this.db.run('save conference member', 'INSERT INTO conference_members (conference_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [conferenceId, userId]);
  }

  removeMember(conferenceId: string, userId: string): void {
    this.db.run('remove conference member', 'DELETE FROM conference_members WHERE conference_id = ? AND user_id = ?', [conferenceId, userId]);
  }

  delete(id: string): void {
    this.db.run('delete conference', 'DELETE FROM conferences WHERE id = ?', [id]);
  }

  list(): ConferenceRecord[] {
    const rows = this.db.all<{ id: string; title: string; host_user_id: string | null; created_at: number }>('list conferences', 'SELECT * FROM conferences ORDER BY created_at');
    const members = this.db.all<{ conference_id: string; user_id: string }>('list conference members', 'SELECT * FROM conference_members ORDER BY rowid');
    return rows.map((row) => ({
      id: row.id,
      title: row.title,
      ...(row.host_user_id !== null ? { hostUserId: row.host_user_id } : {}),
      createdAt: row.created_at,
      members: members.filter((m) => m.conference_id === row.id).map((m) => m.user_id),
    }));
  }

  insertIngestPoint(point: IngestPointRecord): void {
    this.db.run('save ingest point', 'INSERT INTO ingest_points (stream, publish_key, conference_id, user_id, kind) VALUES (?, ?, ?, ?, ?)', [
      point.stream,
      point.publishKey,
      point.conferenceId,
      point.userId,
      point.kind ?? 'camera',
    ]);
  }

  deleteIngestPoint(stream: string): void {
    this.db.run('delete ingest point', 'DELETE FROM ingest_points WHERE stream = ?', [stream]);
  }

  ingestPoints(): IngestPointRecord[] {
    return this.db
      .all<{ stream: string; publish_key: string; conference_id: string; user_id: string; kind: string }>('list ingest points', 'SELECT * FROM ingest_points')
      .map((r) => ({ stream: r.stream, publishKey: r.publish_key, conferenceId: r.conference_id, userId: r.user_id, kind: r.kind === 'screen' ? ('screen' as const) : ('camera' as const) }));
  }
}
