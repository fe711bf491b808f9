import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { toSqliteError } from './errors.js';
import type { SqliteDatabaseConstructor } from './load-driver.js';
import type { SqliteTarget } from './target.js';

type Handle = BetterSqlite3.Database;

/**
 * Opens, synchronously, the handle `connection.pool` lends an ORM (better-sqlite3's API is
 * synchronous, so a peer needs a Database at hand, not a promise of one): the target's file,
 * mode and pragmas, with lock waits left to SQLite's own busy handler for the busy timeout.
 */
export function openPeerHandle(Database: SqliteDatabaseConstructor, target: SqliteTarget, connection: string): Handle {
  const context = { connection, phase: 'connect' as const, path: target.filename };
  let db: Handle | undefined;
  try {
    if (!target.memory && !target.fileMustExist) mkdirSync(path.dirname(target.filename), { recursive: true });
    db = new Database(target.filename, { readonly: target.readonly, fileMustExist: target.fileMustExist, timeout: target.busyTimeoutMs });
    for (const pragma of target.pragmas) db.pragma(pragma);
    return db;
  } catch (error) {
    db?.close();
    throw toSqliteError(error, context);
  }
}
