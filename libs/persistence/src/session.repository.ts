import { Database } from './database';

export interface LiveMappingRecord {
  conferenceId: string;
  channelId: string;
  onDemand: boolean;
  /** The mix layout, as JSON the bypass module owns. */
  layout: unknown;
  createdAt: number;
}

export interface CohostSessionRecord {
  channelId: string;
  conferenceId: string;
  hostUserId: string;
  mixMode: string;
  /** Picture and sound of the session's program (matched to the host's push at the start), as JSON the co-host module owns. */
  mixSettings: unknown;
  startedAt: number;
  guests: string[];
}

export interface PkSessionRecord {
  id: string;
  conferenceId: string;
  /** The PK as the co-host module's PK desk holds it (state, hosts, battle), as JSON it owns. */
  state: unknown;
  /** Per channel, the picture and sound of its mix (matched to its host's push at the start). */
  mixSettings: Record<string, unknown>;
  savedAt: number;
}

/**
 * What runs on channels and must survive a restart: bypass mappings
 * (conference → channel), co-hosting sessions with their guests on mic, and
 * running PKs.
 */
export class SessionRepository {
  constructor(private readonly db: Database) {}

  /** Runs `work` in one transaction (nested calls join it). */
  atomically<T>(operation: string, work: () => T): T {
    return this.db.transaction(operation, work);
  }

  saveMapping(m: LiveMappingRecord): void {
    this.db.run(
      'save live mapping',
      `INSERT INTO live_mappings (conference_id, channel_id, on_demand, layout, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(conference_id) DO UPDATE SET channel_id = excluded.channel_id, on_demand = excluded.on_demand, layout = excluded.layout`,
      [m.conferenceId, m.channelId, m.onDemand ? 1 : 0, JSON.stringify(m.layout), m.createdAt],
    );
  }

  deleteMapping(conferenceId: string): void {
    this.db.run('delete live mapping', 'DELETE FROM live_mappings WHERE conference_id = ?', [conferenceId]);
  }

  mappings(): LiveMappingRecord[] {
    return this.db
      .all<{ conference_id: string; channel_id: string; on_demand: number; layout: string; created_at: number }>('list live mappings', 'SELECT * FROM live_mappings ORDER BY created_at')
      .map((r) => ({ conferenceId: r.conference_id, channelId: r.channel_id, onDemand: r.on_demand === 1, layout: JSON.parse(r.layout), createdAt: r.created_at }));
  }

  saveCohostSession(s: Omit<CohostSessionRecord, 'guests'>): void {
    this.db.run(
      'save co-hosting session',
      'INSERT INTO cohost_sessions (channel_id, conference_id, host_user_id, mix_mode, mix_settings, started_at) VALUES (?, ?, ?, ?, ?, ?)',
      [s.channelId, s.conferenceId, s.hostUserId, s.mixMode, JSON.stringify(s.mixSettings), s.startedAt],
    );
  }

  setCohostMode(channelId: string, mixMode: string): void {
    this.db.run('save co-hosting mix mode', 'UPDATE cohost_sessions SET mix_mode = ? WHERE channel_id = ?', [mixMode, channelId]);
  }

  addCohostGuest(channelId: string, userId: string): void {
    this.db.run('save co-host guest', 'INSERT INTO cohost_guests (channel_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [channelId, userId]);
  }

  removeCohostGuest(channelId: string, userId: string): void {
    this.db.run('remove co-host guest', 'DELETE FROM cohost_guests WHERE channel_id = ? AND user_id = ?', [channelId, userId]);
  }

  deleteCohostSession(channelId: string): void {
    this.db.run('delete co-hosting session', 'DELETE FROM cohost_sessions WHERE channel_id = ?', [channelId]);
  }

  cohostSessions(): CohostSessionRecord[] {
    const guests = this.db.all<{ channel_id: string; user_id: string }>('list co-host guests', 'SELECT * FROM cohost_guests ORDER BY rowid');
    return this.db
      .all<{ channel_id: string; conference_id: string; host_user_id: string; mix_mode: string; mix_settings: string; started_at: number }>(
        'list co-hosting sessions',
        'SELECT * FROM cohost_sessions',
      )
      .map((r) => ({
        channelId: r.channel_id,
        conferenceId: r.conference_id,
        hostUserId: r.host_user_id,
        mixMode: r.mix_mode,
        mixSettings: JSON.parse(r.mix_settings),
        startedAt: r.started_at,
        guests: guests.filter((g) => g.channel_id === r.channel_id).map((g) => g.user_id),
      }));
  }

  /** Saves a running PK as it is about to be (insert or replace). */
  savePkSession(r: PkSessionRecord): void {
    this.db.run(
      'save PK session',
      `INSERT INTO pk_sessions (id, conference_id, state, mix_settings, saved_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET state = excluded.state, mix_settings = excluded.mix_settings, saved_at = excluded.saved_at`,
      [r.id, r.conferenceId, JSON.stringify(r.state), JSON.stringify(r.mixSettings), r.savedAt],
    );
  }

  deletePkSession(id: string): void {
    this.db.run('delete PK session', 'DELETE FROM pk_sessions WHERE id = ?', [id]);
  }

  pkSessions(): PkSessionRecord[] {
    return this.db
      .all<{ id: string; conference_id: string; state: string; mix_settings: string; saved_at: number }>('list PK sessions', 'SELECT * FROM pk_sessions ORDER BY saved_at')
      .map((r) => ({ id: r.id, conferenceId: r.conference_id, state: JSON.parse(r.state), mixSettings: JSON.parse(r.mix_settings), savedAt: r.saved_at }));
  }
}
