import { Database } from './database';

export type RecordingStateName = 'recording' | 'done' | 'interrupted' | 'failed';

export interface RecordingRecord {
  id: string;
  /** The channel whose program is recorded; unset for a mix task's own output. */
  channelId?: string;
  /** The mix task whose output is recorded (a mix task recording), or that a channel recording came with. */
  mixTaskId?: string;
  /** Besides admins, who may read it when no channel says so (a mix task's conference host). */
  ownerUserId?: string;
  state: RecordingStateName;
  /** Why it failed or was interrupted. */
  reason?: string;
  startedAt: number;
  endedAt?: number;
  /** Media written so far (ms). */
  durationMs: number;
  /** The finalised MP4 exists. */
  hasMp4: boolean;
}

interface RecordingRow {
  id: string;
  channel_id: string | null;
  mix_task_id: string | null;
  owner_user_id: string | null;
  state: RecordingStateName;
  reason: string | null;
  started_at: number;
  ended_at: number | null;
  duration_ms: number;
  has_mp4: number;
}

const toRecord = (r: RecordingRow): RecordingRecord => ({
  id: r.id,
  ...(r.channel_id !== null ? { channelId: r.channel_id } : {}),
  ...(r.mix_task_id !== null ? { mixTaskId: r.mix_task_id } : {}),
  ...(r.owner_user_id !== null ? { ownerUserId: r.owner_user_id } : {}),
  state: r.state,
  ...(r.reason !== null ? { reason: r.reason } : {}),
  startedAt: r.started_at,
  ...(r.ended_at !== null ? { endedAt: r.ended_at } : {}),
  durationMs: r.duration_ms,
  hasMp4: r.has_mp4 === 1,
});

/** Recordings as stored: what they record, their state and how much is written. The media is on disk. */
export class RecordingRepository {
  constructor(private readonly db: Database) {}

  insert(r: RecordingRecord): void {
    this.db.run(
      'save recording',
      `INSERT INTO recordings (id, channel_id, mix_task_id, owner_user_id, state, reason, started_at, ended_at, duration_ms, has_mp4)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [r.id, r.channelId ?? null, r.mixTaskId ?? null, r.ownerUserId ?? null, r.state, r.reason ?? null, r.startedAt, r.endedAt ?? null, r.durationMs, r.hasMp4 ? 1 : 0],
    );
  }

  /** Saves what changes over a recording's life. */
  update(r: Pick<RecordingRecord, 'id' | 'state' | 'reason' | 'endedAt' | 'durationMs' | 'hasMp4'>): void {
    this.db.run('update recording', 'UPDATE recordings SET state = ?, reason = ?, ended_at = ?, duration_ms = ?, has_mp4 = ? WHERE id = ?', [
      r.state,
      r.reason ?? null,
      r.endedAt ?? null,
      r.durationMs,
      r.hasMp4 ? 1 : 0,
      r.id,
    ]);
  }

  find(id: string): RecordingRecord | undefined {
    const row = this.db.get<RecordingRow>('read recording', 'SELECT * FROM recordings WHERE id = ?', [id]);
    return row && toRecord(row);
  }

  /** A channel's recordings, oldest first. */
  listByChannel(channelId: string): RecordingRecord[] {
    return this.db.all<RecordingRow>('list recordings', 'SELECT * FROM recordings WHERE channel_id = ? ORDER BY started_at, rowid', [channelId]).map(toRecord);
  }

  listInState(state: RecordingStateName): RecordingRecord[] {
    return this.db.all<RecordingRow>('list recordings', 'SELECT * FROM recordings WHERE state = ? ORDER BY started_at, rowid', [state]).map(toRecord);
  }
}
