import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { GatewayError } from '@gw/common';
import { MIGRATIONS } from './migrations';

/** Saving state failed (disk full, database locked, corrupt file). */
export class PersistenceError extends GatewayError {
  constructor(operation: string, cause: unknown) {
    const reason = (cause as { code?: string })?.code ?? 'unknown';
    super('PERSISTENCE_FAILED', `could not ${operation} (${reason})`, 503);
    this.cause = cause;
  }
}

/**
 * The embedded SQLite database (a file in DATA_DIR). WAL mode lets readers go on
 * while a write commits; busy_timeout makes a briefly locked file wait instead of
 * failing. Schema changes are numbered migrations applied in one transaction each.
 */
export class Database {
  readonly #db: BetterSqlite3.Database;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  #closed = false;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.#db = new BetterSqlite3(file);
    this.#db.pragma('journal_mode = WAL');
    // Short: better-sqlite3 is synchronous, so a wait on a lock holds the event loop (and the media relays
    // running in it). Writes are rare; a lock held longer fails the write with PERSISTENCE_FAILED.
    this.#db.pragma('busy_timeout = 250');
    // With WAL, NORMAL is still safe when the process dies; only a power loss can drop the last
    // commits. FULL cost 115–240 µs per commit here, on the signalling path (accept, end).
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('foreign_keys = ON');
    this.#migrate();
  }

  /** Runs a prepared statement; wraps driver errors in PersistenceError. */
  run(operation: string, sql: string, params: Record<string, unknown> | unknown[] = []): BetterSqlite3.RunResult {
    return this.#guard(operation, () => this.#statement(sql).run(params));
  }

  get<T>(operation: string, sql: string, params: Record<string, unknown> | unknown[] = []): T | undefined {
    return this.#guard(operation, () => this.#statement(sql).get(params) as T | undefined);
  }

  all<T>(operation: string, sql: string, params: Record<string, unknown> | unknown[] = []): T[] {
    return this.#guard(operation, () => this.#statement(sql).all(params) as T[]);
  }

  /** Statements are prepared once per SQL text (the repositories use a fixed set). */
  #statement(sql: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `work` in one transaction: all of it is written, or none. */
  transaction<T>(operation: string, work: () => T): T {
    return this.#guard(operation, () => this.#db.transaction(work)());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #guard<T>(operation: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new PersistenceError(operation, error);
    }
  }

  #migrate(): void {
    this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const applied = new Set(
      (this.#db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      this.#db.transaction(() => {
        this.#db.exec(migration.sql);
        this.#db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(migration.version, Date.now());
      })();
    }
  }
}
