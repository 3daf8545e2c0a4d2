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
];
