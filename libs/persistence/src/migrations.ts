/** Numbered schema migrations. Never edit a released one; add the next number. */
export const MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE channels (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        publish_key TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    // Running sessions, so a restarted gateway picks up where it stopped. Each row
    // belongs to a conference and goes with it (ON DELETE CASCADE).
    version: 2,
    sql: `
      CREATE TABLE conferences (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        host_user_id TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE conference_members (
        conference_id TEXT NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        PRIMARY KEY (conference_id, user_id)
      );
      CREATE TABLE ingest_points (
        stream TEXT PRIMARY KEY,
        publish_key TEXT NOT NULL,
        conference_id TEXT NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL
      );
      CREATE TABLE live_mappings (
        conference_id TEXT PRIMARY KEY REFERENCES conferences(id) ON DELETE CASCADE,
        channel_id TEXT NOT NULL UNIQUE REFERENCES channels(id) ON DELETE CASCADE,
        on_demand INTEGER NOT NULL,
        layout TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE cohost_sessions (
        channel_id TEXT PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
        conference_id TEXT NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
        host_user_id TEXT NOT NULL,
        mix_mode TEXT NOT NULL,
        mix_settings TEXT NOT NULL,
        started_at INTEGER NOT NULL
      );
      CREATE TABLE cohost_guests (
        channel_id TEXT NOT NULL REFERENCES cohost_sessions(channel_id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        PRIMARY KEY (channel_id, user_id)
      );
    `,
  },
  {
    // Running PKs (two channels' hosts in one conference), with their battle. The PK's
    // state is JSON the co-host module owns; the row goes with its conference.
    version: 3,
    sql: `
      CREATE TABLE pk_sessions (
        id TEXT PRIMARY KEY,
        conference_id TEXT NOT NULL REFERENCES conferences(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        mix_settings TEXT NOT NULL,
        saved_at INTEGER NOT NULL
      );
    `,
  },
  {
    // Recordings of channel programs and mix outputs, kept after their channel or task is gone
    // (no foreign keys): the files on disk outlive them. A row left 'recording' by a crash is
    // marked 'interrupted' at the next start.
    version: 4,
    sql: `
      CREATE TABLE recordings (
        id TEXT PRIMARY KEY,
        channel_id TEXT,
        mix_task_id TEXT,
        owner_user_id TEXT,
        state TEXT NOT NULL,
        reason TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        has_mp4 INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX recordings_by_channel ON recordings (channel_id, started_at);
    `,
  },
  {
    // An ingest point may carry a screen share (a presentation PC's OBS) instead of a camera.
    version: 5,
    sql: `ALTER TABLE ingest_points ADD COLUMN kind TEXT NOT NULL DEFAULT 'camera';`,
  },
  {
    // A channel's viewer swarm (seed 002): its sub-streams and block groups, as JSON; null takes the defaults.
    version: 6,
    sql: `ALTER TABLE channels ADD COLUMN p2p TEXT;`,
  },
];
