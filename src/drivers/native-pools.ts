import type BetterSqlite3 from 'better-sqlite3';
import type { Pool as MysqlPool } from 'mysql2';
import type { Pool as PgPool } from 'pg';

/**
 * What `connection.pool` is for each driver: the driver's own pool (pg.Pool, mysql2's callback
 * Pool), and for SQLite one better-sqlite3 Database. Install the driver's types (`@types/pg`,
 * `@types/better-sqlite3`; mysql2 carries its own) to see them. @public
 */
export interface NativePools {
  postgres: PgPool;
  mysql: MysqlPool;
  sqlite: BetterSqlite3.Database;
}
