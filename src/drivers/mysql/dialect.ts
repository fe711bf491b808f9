import { DbModuleError } from '../../errors.js';
import type { Dialect, IsolationLevel } from '../types.js';

const ISOLATION_SQL: Readonly<Record<IsolationLevel, string>> = {
  'read uncommitted': 'READ UNCOMMITTED',
  'read committed': 'READ COMMITTED',
  'repeatable read': 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};

function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/**
 * MySQL/MariaDB SQL. The isolation level is set before START TRANSACTION because
 * `SET TRANSACTION` applies to the next transaction only.
 * @public
 */
export const mysqlDialect: Dialect = {
  healthCheckQuery: 'SELECT 1',
  begin(isolation?: IsolationLevel): string[] {
    if (isolation === undefined) return ['START TRANSACTION'];
    const level = ISOLATION_SQL[isolation];
    // The union type is not enforced at runtime (a config or JS caller can pass anything): never splice unknown text into SQL.
    if (level === undefined) {
      throw new DbModuleError('TRANSACTION_FAILED', `unknown isolation level "${String(isolation)}"; expected one of: ${Object.keys(ISOLATION_SQL).join(', ')}`);
    }
    return [`SET TRANSACTION ISOLATION LEVEL ${level}`, 'START TRANSACTION'];
  },
  savepoint: (name) => `SAVEPOINT ${quoteIdentifier(name)}`,
  releaseSavepoint: (name) => `RELEASE SAVEPOINT ${quoteIdentifier(name)}`,
  rollbackToSavepoint: (name) => `ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`,
};
