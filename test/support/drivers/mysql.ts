/** Helpers for the MySQL driver tests: hand-built configs, a per-file database user, and server-side session counts. */
import mysql from 'mysql2/promise';
import type { ConnectionConfig } from '../../../src/config/types.js';
import type { ParsedDsn } from '../../../src/dsn/types.js';
import type { DriverPool, DriverPoolOptions } from '../../../src/drivers/types.js';
import { createMysqlPool } from '../../../src/drivers/mysql/index.js';
import { MYSQL_URL, uniqueName } from '../databases.js';
import { connectionConfig } from '../connection-config.js';
import { driverPoolOptions, type DriverTestOptions } from '../plan.js';
import { mysqlThreads } from '../mysql-threads.js';

const url = new URL(MYSQL_URL);
/** The test server (DBMODULE_TEST_MYSQL_URL, else the shared one) and its superuser. */
export const MYSQL_HOST = url.hostname;
export const MYSQL_PORT = Number(url.port || 3306);
export const MYSQL_DATABASE = url.pathname.slice(1) || 'dbmodule_test';
const ADMIN = { user: decodeURIComponent(url.username) || 'root', password: decodeURIComponent(url.password) };

export function mysqlDsn(overrides: Partial<ParsedDsn> = {}): ParsedDsn {
  const admin = overrides.user === undefined && ADMIN.password ? { password: ADMIN.password } : {};
  return { family: 'mysql-url', driver: 'mysql', user: ADMIN.user, ...admin, host: MYSQL_HOST, port: MYSQL_PORT, database: MYSQL_DATABASE, params: {}, ...overrides };
}

export function mysqlConfig(overrides: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return connectionConfig('mysql', { name: 'writer', dsn: 'mysql://redacted', max_open_connections: 5, max_idle_connections: 5 }, overrides);
}

export { fakeClock } from '../fake-clock.js';

export interface PoolUnderTest {
  pool: DriverPool;
  options: DriverPoolOptions;
}

const opened: DriverPool[] = [];

/** Creates a pool and remembers it so `closeAllPools` can clean up after a failing test. */
export async function openPool(config: Partial<ConnectionConfig> = {}, extra: DriverTestOptions & { dsn?: Partial<ParsedDsn> } = {}): Promise<DriverPool> {
  const options = driverPoolOptions(mysqlConfig(config), mysqlDsn(extra.dsn), extra);
  const pool = await createMysqlPool(options);
  opened.push(pool);
  return pool;
}

export async function closeAllPools(): Promise<void> {
  await Promise.all(opened.splice(0).map((pool) => pool.close()));
}

/** A root connection outside any pool under test, to look at the server's view. */
export async function adminConnection(): Promise<mysql.Connection> {
  return mysql.createConnection({ host: MYSQL_HOST, port: MYSQL_PORT, ...ADMIN, database: MYSQL_DATABASE });
}

/** Creates a password-less user only this test file uses, so its sessions can be counted without seeing other tests'. */
export async function createUser(admin: mysql.Connection, prefix = 'dbm_my'): Promise<string> {
  const user = uniqueName(prefix).slice(0, 32);
  await admin.query(`CREATE USER '${user}'@'%'`);
  await admin.query(`GRANT ALL ON ${MYSQL_DATABASE}.* TO '${user}'@'%'`);
  return user;
}

/** Like {@link createUser}, but the server checks `password` (mysql_native_password). */
export async function createPasswordUser(admin: mysql.Connection, password: string, prefix = 'dbm_mypw'): Promise<string> {
  const user = uniqueName(prefix).slice(0, 32);
  await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY ?`, [password]);
  await admin.query(`GRANT ALL ON ${MYSQL_DATABASE}.* TO '${user}'@'%'`);
  return user;
}

export async function dropUser(admin: mysql.Connection, user: string): Promise<void> {
  await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
}

/** Server sessions of `user`, as MariaDB counts them. */
export async function sessionIds(admin: mysql.Connection, user: string): Promise<number[]> {
  return (await mysqlThreads(admin))
    .filter((thread) => thread.user === user)
    .map((thread) => thread.id)
    .sort((a, b) => a - b);
}

export async function sessionCount(admin: mysql.Connection, user: string): Promise<number> {
  return (await sessionIds(admin, user)).length;
}

export async function sessionExists(admin: mysql.Connection, id: number): Promise<boolean> {
  return (await mysqlThreads(admin)).some((thread) => thread.id === id);
}

/** A promise with its resolver, to hold a session open until the test says so. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export async function connectionId(pool: Pick<DriverPool, 'query'>): Promise<number> {
  const { rows } = await pool.query<{ id: number }>('SELECT CONNECTION_ID() AS id');
  return Number(rows[0]?.id);
}
