import { PublishKeyTable } from './origin-protocol';

/**
 * Merges the publish-key tables of several owners (channels, ingest) into the
 * one table an origin enforces. Each owner replaces its own part.
 */
export class PublishKeys {
  readonly #parts = new Map<string, PublishKeyTable>();

  set(owner: string, table: PublishKeyTable): PublishKeyTable {
    this.#parts.set(owner, table);
    return this.merged();
  }

  merged(): PublishKeyTable {
    const out: PublishKeyTable = {};
    for (const table of this.#parts.values()) {
      for (const [path, keys] of Object.entries(table)) out[path] = { ...out[path], ...keys };
    }
    return out;
  }

  /** True when some owner holds keys for the stream (it is a channel's or a participant's). */
  owns(path: string): boolean {
    for (const table of this.#parts.values()) if (table[path]) return true;
    return false;
  }

  roleOf(path: string, key: string): PublishKeyTable[string][string] | undefined {
    for (const table of this.#parts.values()) {
      const role = table[path]?.[key];
      if (role) return role;
    }
    return undefined;
  }
}
