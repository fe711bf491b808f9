import type BetterSqlite3 from 'better-sqlite3';

/** A prepared statement of one handle (positional parameters). */
export type SqliteStatement = BetterSqlite3.Statement<unknown[]>;

/** Prepared statements kept per handle. */
export const STATEMENT_CACHE_SIZE = 100;

/**
 * A least-recently-used cache of one handle's prepared statements: preparing is the
 * costliest part of a small SQLite query, and a statement only works on its own handle.
 */
export class StatementCache {
  readonly #db: BetterSqlite3.Database;
  readonly #capacity: number;
  // A Map iterates in insertion order, so re-inserting on use keeps the oldest first.
  readonly #statements = new Map<string, SqliteStatement>();

  constructor(db: BetterSqlite3.Database, capacity: number = STATEMENT_CACHE_SIZE) {
    this.#db = db;
    this.#capacity = capacity;
  }

  /** The cached statement for `sql`, prepared on first use. Throws what `prepare` throws. */
  prepare(sql: string): SqliteStatement {
    const statements = this.#statements;
    const cached = statements.get(sql);
    if (cached !== undefined) {
      statements.delete(sql);
      statements.set(sql, cached);
      return cached;
    }
    const statement = this.#db.prepare<unknown[]>(sql);
    if (statements.size >= this.#capacity) {
      const oldest = statements.keys().next();
      if (oldest.done !== true) statements.delete(oldest.value);
    }
    statements.set(sql, statement);
    return statement;
  }

  get size(): number {
    return this.#statements.size;
  }
}
