import { MysqlDialect, PostgresDialect, SqliteDialect, type Dialect } from 'kysely';
import { mysqlControlConnection } from './mysql-session.js';
import type { PeerSource } from './peer-source.js';

export type { PeerSource } from './peer-source.js';

/**
 * A Kysely dialect on a dbmodule connection (or its `reader()`): every session comes from
 * dbmodule's pool, with its limits, IAM tokens and login retry; `kysely.destroy()` ends
 * Kysely's use, never the pool (`db.close()` does).
 *
 * In-flight cancellation (`inflightQueryAbortStrategy: 'cancel query' | 'kill session'`) opens
 * its control connection to the very server of the session, from that session's settings: on
 * PostgreSQL with the pool's client class, on MySQL with mysql2's `createConnection` (Kysely
 * would otherwise borrow a pooled session for it, and wait when all are busy). With IAM, that
 * login takes a valid token too.
 *
 * ```ts
 * const kysely = new Kysely<DB>({ dialect: kyselyDialect(db.connection()) });
 * const reads = new Kysely<DB>({ dialect: kyselyDialect(db.connection().reader()) });
 * ```
 * @public
 */
export function kyselyDialect(source: PeerSource): Dialect {
  switch (source.driver) {
    case 'postgres':
      return new PostgresDialect({ pool: source.pool });
    case 'mysql':
      return new MysqlDialect({ pool: source.pool, controlConnection: mysqlControlConnection });
    case 'sqlite':
      return new SqliteDialect({ database: source.pool });
  }
}
