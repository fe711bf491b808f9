import { DbModuleError } from '../../errors.js';
import type { Dialect, IsolationLevel } from '../types.js';

const ISOLATION_LEVELS: ReadonlySet<string> = new Set<IsolationLevel>(['read uncommitted', 'read committed', 'repeatable read', 'serializable']);

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * SQLite's SQL for health checks, transactions and savepoints.
 *
 * Every transaction is serializable in SQLite, which satisfies each standard level
 * (a stronger level is always allowed), so all four are accepted and run the same way.
 * Transactions start with `BEGIN IMMEDIATE`: the write lock is taken up front, where a busy
 * database can be waited for safely, instead of on the first write, where a deferred
 * transaction whose snapshot went stale can only fail with `SQLITE_BUSY_SNAPSHOT`.
 */
export const sqliteDialect: Dialect = {
  healthCheckQuery: 'SELECT 1',
  begin(isolation?: IsolationLevel): string[] {
    if (isolation !== undefined && !ISOLATION_LEVELS.has(isolation)) {
      throw new DbModuleError('TRANSACTION_FAILED', `unknown isolation level "${String(isolation)}": expected one of ${[...ISOLATION_LEVELS].join(', ')}`);
    }
    return ['BEGIN IMMEDIATE'];
  },
  savepoint: (name) => `SAVEPOINT ${quoteIdentifier(name)}`,
  releaseSavepoint: (name) => `RELEASE SAVEPOINT ${quoteIdentifier(name)}`,
  rollbackToSavepoint: (name) => `ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`,
};
