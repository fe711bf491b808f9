// A write slowed down on the server, for the tests that cancel one in flight (Kysely's abort,
// Knex's timeout): where it runs, that it is running, and that the server stopped it unwritten.
import { expect } from 'vitest';
import type { Connection } from '../../../src/index.js';
import { MYSQL_URL, PASSWORD_USER, PASSWORD_USER_SECRET, PG_URL, uniqueName } from '../databases.js';
import { directQuery } from '../direct.js';
import { waitFor } from '../wait.js';

export type Driver = 'postgres' | 'mysql';

/** A DSN of the password-checked user: a control connection must carry the password to log in. */
export function passwordDsn(driver: Driver): string {
  const url = new URL(driver === 'postgres' ? PG_URL : MYSQL_URL);
  url.username = PASSWORD_USER;
  url.password = PASSWORD_USER_SECRET;
  return url.toString();
}

/** The server's sleep that slows the write down: 4 seconds, time enough to cancel it while it runs. */
export const SLEEP: Record<Driver, string> = { postgres: 'pg_sleep(4)', mysql: 'SLEEP(4)' };

/**
 * A new table `(id integer)` for the write, created by the server's superuser (the
 * password-checked user may not create tables) and open to that user.
 */
export async function createWriteTable(driver: Driver, prefix: string): Promise<string> {
  const table = uniqueName(prefix);
  await directQuery(driver, `CREATE TABLE ${table} (id integer)`);
  if (driver === 'postgres') await directQuery(driver, `GRANT ALL ON ${table} TO ${PASSWORD_USER}`);
  return table;
}

export const dropWriteTable = (driver: Driver, table: string): Promise<unknown> => directQuery(driver, `DROP TABLE ${table}`);

/** Statements on the server (any session) that are running an insert into `table` now. */
async function running(driver: Driver, table: string): Promise<number> {
  const rows =
    driver === 'postgres'
      ? await directQuery<{ n: number }>(driver, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1`, [`INSERT INTO "${table}"%`])
      : await directQuery<{ n: number }>(driver, 'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE ?', [`INSERT INTO \`${table}\`%`]);
  return Number(rows[0]?.n);
}

/** Until the server runs the insert into `table`. */
export const insertRunning = (driver: Driver, table: string): Promise<void> => waitFor(async () => (await running(driver, table)) === 1, 10_000, 'the insert to be running');

/** Cancelled on the server: gone well before its 4 seconds are up, and nothing written. */
export async function expectStoppedUnwritten(connection: Connection, driver: Driver, table: string): Promise<void> {
  await waitFor(async () => (await running(driver, table)) === 0, 2_000, 'the server to stop the insert');
  const { rows } = await connection.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`);
  expect(Number(rows[0]?.n)).toBe(0);
}
