// Ending what an ORM was given ends the ORM's use, never dbmodule's pool: db.close() is its one owner.
import { Kysely, MysqlDialect, PostgresDialect, sql, type Dialect } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, type Connection, type Database } from '../../src/index.js';
import { MYSQL_URL, PG_URL } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';

let db: Database | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
});

/** The connection's pool, typed by narrowing on `driver` (DESIGN §13): no cast, under strict. */
function dialectOf(connection: Connection): Dialect {
  if (connection.driver === 'postgres') return new PostgresDialect({ pool: connection.pool });
  if (connection.driver === 'mysql') return new MysqlDialect({ pool: connection.pool });
  throw new Error(`no pool dialect for ${connection.driver}`);
}

describe.each(['postgres', 'mysql'] as const)('%s: connection.pool handed to Kysely', (driver) => {
  it('kysely.destroy() leaves dbmodule serving, on the same sessions; db.close() ends the pool', async () => {
    db = await createDatabase({ connections: { app: { driver, dsn: driver === 'postgres' ? PG_URL : MYSQL_URL, max_open_connections: 2 } } }, { logger: captureLogger().logger });
    const connection = db.connection();
    const kysely = new Kysely<Record<string, never>>({ dialect: dialectOf(connection) });
    const { rows } = await sql<{ n: number | string }>`SELECT ${1} + 1 AS n`.execute(kysely);
    expect(Number(rows[0]?.n)).toBe(2);
    const before = connection.stats();
    await kysely.destroy();
    // dbmodule and the pool itself go on as before
    await expect(connection.query('SELECT 1 AS one')).resolves.toMatchObject({ rowCount: 1 });
    expect(connection.stats()).toMatchObject({ total: before.total });
    // a chained call that returns the pool (as Kysely's own test setup does) returns the view, which ends nothing either
    if (connection.driver === 'postgres') {
      const chained = connection.pool.on('error', () => {});
      expect(chained).toBe(connection.pool);
      await chained.end();
    } else if (connection.driver === 'mysql') {
      const chained = connection.pool.on('connection', () => {});
      expect(chained).toBe(connection.pool);
      await new Promise<void>((resolve) => chained.end(() => resolve()));
    }
    await expect(connection.query('SELECT 1 AS one')).resolves.toMatchObject({ rowCount: 1 });
    const again = new Kysely<Record<string, never>>({ dialect: dialectOf(connection) });
    expect(Number((await sql<{ n: number | string }>`SELECT ${2} + 1 AS n`.execute(again)).rows[0]?.n)).toBe(3);
    await again.destroy();
    // the one owner closes it
    await db.close();
    db = undefined;
    if (connection.driver === 'postgres') expect(connection.pool.ended).toBe(true);
    await expect(connection.query('SELECT 1')).rejects.toMatchObject({ code: 'DATABASE_CLOSED' });
  });
});
