import type BetterSqlite3 from 'better-sqlite3';
import type { QueryResult } from '../types.js';
import type { StatementCache } from './statement-cache.js';

const NO_PARAMETERS: unknown[] = [];
const MULTIPLE_STATEMENTS = 'more than one statement';

function needsConversion(value: unknown): boolean {
  return typeof value === 'boolean' || value instanceof Date || value === undefined;
}

/**
 * better-sqlite3 binds only numbers, strings, bigints, buffers and null. Booleans become
 * 1/0 (SQLite's own booleans), dates ISO-8601 text (what SQLite's date functions read),
 * undefined NULL. The array is copied only when one of those is present.
 */
export function toSqliteParameters(params: readonly unknown[] | undefined): unknown[] {
  if (params === undefined || params.length === 0) return NO_PARAMETERS;
  if (!params.some(needsConversion)) return params as unknown[];
  return params.map((value) =>
    typeof value === 'boolean' ? (value ? 1 : 0) : value instanceof Date ? value.toISOString() : value === undefined ? null : value,
  );
}

/** Runs several `;`-separated statements (a migration script); only possible without parameters. */
function runScript(db: BetterSqlite3.Database, sql: string): QueryResult<never> {
  // Not from the cache: pluck() changes the statement, and a user may send the same text.
  const totalChanges = db.prepare('SELECT total_changes()').pluck();
  const before = totalChanges.get() as number;
  db.exec(sql);
  return { rows: [], rowCount: (totalChanges.get() as number) - before };
}

function isMultipleStatements(error: unknown): boolean {
  return error instanceof RangeError && error.message.includes(MULTIPLE_STATEMENTS);
}

/**
 * Runs one statement synchronously on `db`: a statement that returns rows (SELECT,
 * RETURNING, most PRAGMAs) yields them and their count, any other the rows it changed.
 * Throws the driver's error unchanged; the caller classifies it.
 */
export function runStatement<T>(db: BetterSqlite3.Database, cache: StatementCache, sql: string, params: readonly unknown[] | undefined): QueryResult<T> {
  let statement;
  try {
    statement = cache.prepare(sql);
  } catch (error) {
    if ((params === undefined || params.length === 0) && isMultipleStatements(error)) return runScript(db, sql);
    throw error;
  }
  const bound = toSqliteParameters(params);
  if (statement.reader) {
    const rows = statement.all(bound) as T[];
    return { rows, rowCount: rows.length };
  }
  return { rows: [], rowCount: statement.run(bound).changes };
}
