import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Logger } from '../../logging.js';
import { retryWhileBusy } from './busy.js';
import { toSqliteError } from './errors.js';
import type { SqliteDatabaseConstructor } from './load-driver.js';
import type { SqliteTarget } from './target.js';

type Handle = BetterSqlite3.Database;

export interface HandleOpenerOptions {
  readonly Database: SqliteDatabaseConstructor;
  readonly target: SqliteTarget;
  readonly connection: string;
  readonly logger: Logger;
  /** Budget for one open, including waiting for a lock to apply the pragmas. */
  readonly timeoutMs: number;
}

async function applyPragma(db: Handle, pragma: string, deadline: number, options: HandleOpenerOptions): Promise<void> {
  const apply = (): unknown => db.pragma(pragma, { simple: true });
  let result: unknown;
  try {
    result = apply();
  } catch (error) {
    result = await retryWhileBusy(apply, error, deadline);
  }
  const journal = /^journal_mode\s*=\s*(\w+)$/i.exec(pragma);
  if (journal?.[1] !== undefined && String(result).toLowerCase() !== journal[1].toLowerCase()) {
    options.logger.warn('SQLite kept another journal mode than requested', { connection: options.connection, requested: journal[1], actual: result });
  }
}

/**
 * Returns the function that opens one configured handle: creates the database's directory
 * (once per pool; again after a failure), opens with busy_timeout 0 (lock waits happen in
 * retryWhileBusy, off the event loop) and runs the target's pragmas. Rejects with
 * CONNECT_FAILED / CONNECT_TIMEOUT naming the file, within `timeoutMs`.
 */
export function createHandleOpener(options: HandleOpenerOptions): () => Promise<Handle> {
  const { Database, target } = options;
  let directoryReady: Promise<unknown> | undefined;
  const ensureDirectory = (): Promise<unknown> => {
    directoryReady ??= mkdir(path.dirname(target.filename), { recursive: true }).catch((error: unknown) => {
      directoryReady = undefined;
      throw error;
    });
    return directoryReady;
  };
  const context = { connection: options.connection, phase: 'connect' as const, path: target.filename };

  return async () => {
    const deadline = Date.now() + options.timeoutMs;
    let db: Handle;
    try {
      if (!target.memory && !target.fileMustExist) await ensureDirectory();
      db = new Database(target.filename, { readonly: target.readonly, fileMustExist: target.fileMustExist, timeout: 0 });
    } catch (error) {
      throw toSqliteError(error, context);
    }
    try {
      for (const pragma of target.pragmas) await applyPragma(db, pragma, deadline, options);
    } catch (error) {
      db.close();
      throw toSqliteError(error, context);
    }
    options.logger.debug('Opened SQLite handle', { connection: options.connection, path: target.filename, readonly: target.readonly });
    return db;
  };
}
