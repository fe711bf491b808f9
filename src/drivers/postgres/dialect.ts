import { DbModuleError } from '../../errors.js';
import type { Dialect, IsolationLevel } from '../types.js';

const ISOLATION_LEVELS: readonly IsolationLevel[] = ['read uncommitted', 'read committed', 'repeatable read', 'serializable'];

/** A double-quoted identifier, so savepoint names keep their case and can't inject SQL. */
function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** PostgreSQL statements for health checks, transactions and savepoints. @public */
export const postgresDialect: Dialect = {
  healthCheckQuery: 'SELECT 1',
  begin(isolation?: IsolationLevel): string[] {
    if (isolation === undefined) return ['BEGIN'];
    // the type says it is valid, but callers from plain JavaScript can pass anything
    if (!ISOLATION_LEVELS.includes(isolation)) {
      throw new DbModuleError('TRANSACTION_FAILED', `unknown isolation level "${String(isolation)}"; expected one of: ${ISOLATION_LEVELS.join(', ')}`);
    }
    return [`BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`];
  },
  savepoint: (name) => `SAVEPOINT ${quoteIdentifier(name)}`,
  releaseSavepoint: (name) => `RELEASE SAVEPOINT ${quoteIdentifier(name)}`,
  rollbackToSavepoint: (name) => `ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`,
};
