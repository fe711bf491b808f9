import type mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DbModuleError, QueryError } from '../../src/errors.js';
import { markSessionBroken } from '../../src/drivers/session-health.js';
import { mysqlDialect, toMysqlError } from '../../src/drivers/mysql/index.js';
import { PASSWORD_USER, PASSWORD_USER_SECRET, uniqueName } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';
import {
  adminConnection,
  closeAllPools,
  connectionId,
  createUser,
  deferred,
  dropUser,
  MYSQL_HOST,
  MYSQL_PORT,
  openPool,
  sessionCount,
  sessionExists,
} from '../support/drivers/mysql.js';
import { rejectionOf } from '../support/rejection.js';
import { startPrivateMariadb, type PrivateServer } from '../support/resilience/private-servers.js';

let admin: mysql.Connection;
let user: string;
const table = uniqueName('dbm_my_items');

beforeAll(async () => {
  admin = await adminConnection();
  user = await createUser(admin);
  await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, email VARCHAR(100) UNIQUE, note VARCHAR(20))`);
});

afterEach(async () => {
  await closeAllPools();
});

afterAll(async () => {
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await dropUser(admin, user);
  await admin.end();
});

describe('query', () => {
  it('returns rows and rowCount for SELECT, affected rows for writes', async () => {
    const pool = await openPool({}, { dsn: { user } });
    await admin.query(`DELETE FROM ${table}`);
    const inserted = await pool.query(`INSERT INTO ${table} (id, email) VALUES (?, ?), (?, ?), (?, ?)`, [1, 'a@x.test', 2, 'b@x.test', 3, 'c@x.test']);
    expect(inserted).toEqual({ rows: [], rowCount: 3 });
    const updated = await pool.query(`UPDATE ${table} SET note = 'n' WHERE id >= ?`, [2]);
    expect(updated.rowCount).toBe(2);
    const selected = await pool.query<{ id: number; email: string }>(`SELECT id, email FROM ${table} WHERE id <= ? ORDER BY id`, [2]);
    expect(selected.rows).toEqual([
      { id: 1, email: 'a@x.test' },
      { id: 2, email: 'b@x.test' },
    ]);
    expect(selected.rowCount).toBe(2);
    const [check] = await admin.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table} WHERE note = 'n'`);
    expect(Number(check[0]?.n)).toBe(2);
  });

  it('maps a duplicate key to QUERY_FAILED with driverCode ER_DUP_ENTRY and no parameter value in the message', async () => {
    const pool = await openPool({}, { dsn: { user } });
    await admin.query(`DELETE FROM ${table}`);
    const secretEmail = 'very-private-address@example.test';
    await pool.query(`INSERT INTO ${table} (id, email) VALUES (?, ?)`, [10, secretEmail]);
    const error = await rejectionOf(pool.query(`INSERT INTO ${table} (id, email) VALUES (?, ?)`, [11, secretEmail]), DbModuleError);
    expect(error).toBeInstanceOf(QueryError);
    expect(error.code).toBe('QUERY_FAILED');
    expect((error as QueryError).driverCode).toBe('ER_DUP_ENTRY');
    expect(error.message).toContain('connection "writer"');
    expect(error.message).toContain('1062');
    expect(error.message).not.toContain(secretEmail);
    expect((error.cause as { errno?: number }).errno).toBe(1062);
  });

  it('keeps the server message of errors that do not echo values', async () => {
    const pool = await openPool({}, { dsn: { user } });
    const error = await rejectionOf(pool.query('SELECT * FROM dbm_no_such_table_xyz WHERE id = ?', [1]), DbModuleError);
    expect((error as QueryError).driverCode).toBe('ER_NO_SUCH_TABLE');
    expect(error.message).toContain('dbm_no_such_table_xyz');
    expect(error.retryable).toBe(false);
  });
});

describe('connect errors', () => {
  it('maps a wrong password to AUTH_FAILED (not retryable) without the password in the message', async () => {
    const wrong = 'not-the-right-one-42';
    const pool = await openPool({}, { dsn: { user: PASSWORD_USER, password: wrong } });
    const error = await rejectionOf(pool.query('SELECT 1'), DbModuleError);
    expect(error.code).toBe('AUTH_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.connection).toBe('writer');
    expect(error.message).toContain('connection "writer"');
    expect(error.message).toContain(`${MYSQL_HOST}:${MYSQL_PORT}`);
    expect(error.message).not.toContain(wrong);
    expect(error.possibleCauses.length).toBeGreaterThan(0);
    expect(error.solutions.length).toBeGreaterThan(0);
    expect((error.cause as { errno?: number }).errno).toBe(1045);
  });

  it('connects with the right password of the password-checked user', async () => {
    const pool = await openPool({}, { dsn: { user: PASSWORD_USER, password: PASSWORD_USER_SECRET } });
    const { rows } = await pool.query<{ u: string }>('SELECT CURRENT_USER() AS u');
    expect(rows[0]?.u).toMatch(/^dbmodule_pw@/);
  });

  it('maps a refused port to CONNECT_FAILED (retryable) naming host:port', async () => {
    const pool = await openPool({}, { dsn: { port: 1 } });
    const error = await rejectionOf(pool.ping(), DbModuleError);
    expect(error.code).toBe('CONNECT_FAILED');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('127.0.0.1:1');
  });

  it('maps a DNS failure to CONNECT_FAILED naming the host', async () => {
    const pool = await openPool({}, { dsn: { host: 'dbmodule-no-such-host.invalid' } });
    const error = await rejectionOf(pool.ping(), DbModuleError);
    expect(error.code).toBe('CONNECT_FAILED');
    expect(error.message).toContain('dbmodule-no-such-host.invalid');
  });
});

describe('TLS against a server without TLS', () => {
  // A server of its own with TLS off: the shared one may have TLS on, and these need one without.
  let plain: PrivateServer;
  beforeAll(async () => {
    plain = await startPrivateMariadb();
  });
  afterAll(async () => {
    await plain?.remove();
  });
  const onPlain = (params: Record<string, string> = {}) => ({ port: plain.port, user: 'root', params });

  it('maps a server without TLS to TLS_FAILED when TLS is required', async () => {
    const pool = await openPool({}, { dsn: onPlain(), tls: { rejectUnauthorized: false } });
    const error = await rejectionOf(pool.ping(), DbModuleError);
    expect(error.code).toBe('TLS_FAILED');
    expect(error.message).toContain(`127.0.0.1:${plain.port}`);
    expect((error.cause as { code?: string }).code).toBe('HANDSHAKE_NO_SSL_SUPPORT');
  });

  it('lets options.tls win over the DSN sslmode', async () => {
    const clear = await openPool({}, { dsn: onPlain({ sslmode: 'disable' }) });
    await expect(clear.ping()).resolves.toBeUndefined();
    const forced = await openPool({}, { dsn: onPlain({ sslmode: 'disable' }), tls: { rejectUnauthorized: false } });
    expect((await rejectionOf(forced.ping(), DbModuleError)).code).toBe('TLS_FAILED');
  });

  it('turns DSN sslmode=require into TLS (the server has none, so it fails as TLS)', async () => {
    const pool = await openPool({}, { dsn: onPlain({ sslmode: 'require' }) });
    expect((await rejectionOf(pool.ping(), DbModuleError)).code).toBe('TLS_FAILED');
  });
});

describe('DSN parameters', () => {
  it('applies the ones mysql2 understands and warns about the others, naming them', async () => {
    const { logger, entries } = captureLogger();
    const pool = await openPool({}, { dsn: { user, params: { charset: 'latin1', timezone: 'Z', parseTime: 'true', frobnicate: '1' } }, logger });
    const { rows } = await pool.query<{ cs: string }>('SELECT @@character_set_client AS cs');
    expect(rows[0]?.cs).toBe('latin1');
    const warned = entries.filter((entry) => entry.level === 'warn').map((entry) => entry.fields?.param);
    expect(warned).toEqual(expect.arrayContaining(['parseTime', 'frobnicate']));
    expect(warned).not.toContain('charset');
    expect(warned).not.toContain('timezone');
  });

  it('rejects an invalid value with DSN_INVALID naming the parameter', async () => {
    const error = await rejectionOf(openPool({}, { dsn: { user, params: { dateStrings: 'maybe' } } }), DbModuleError);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe('DSN_INVALID');
    expect(error.message).toContain('dateStrings');
    const charset = await rejectionOf(openPool({}, { dsn: { user, params: { charset: 'klingon' } } }), DbModuleError);
    expect(charset.code).toBe('DSN_INVALID');
    expect(charset.message).toContain('charset');
  });
});

describe('withSession', () => {
  it('runs a transaction on one session that others do not see until commit', async () => {
    const pool = await openPool({ max_open_connections: 2 }, { dsn: { user } });
    await admin.query(`DELETE FROM ${table}`);
    await pool.withSession(async (session) => {
      const ids = new Set<number>();
      for (const sql of mysqlDialect.begin('repeatable read')) await session.query(sql);
      await session.query(`INSERT INTO ${table} (id, email) VALUES (?, ?)`, [20, 'tx@x.test']);
      const { rows } = await session.query<{ id: number }>('SELECT CONNECTION_ID() AS id');
      ids.add(Number(rows[0]?.id));
      const outside = await pool.query(`SELECT id FROM ${table} WHERE id = 20`);
      expect(outside.rowCount).toBe(0);
      const again = await session.query<{ id: number }>('SELECT CONNECTION_ID() AS id');
      ids.add(Number(again.rows[0]?.id));
      expect(ids.size).toBe(1);
      await session.query('COMMIT');
    });
    const after = await pool.query(`SELECT id FROM ${table} WHERE id = 20`);
    expect(after.rowCount).toBe(1);
  });

  it('destroys the session when fn fails with a broken-connection error, and reuses it otherwise', async () => {
    const pool = await openPool({ max_open_connections: 1 }, { dsn: { user } });
    let first = 0;
    await expect(
      pool.withSession(async (session) => {
        first = Number((await session.query<{ id: number }>('SELECT CONNECTION_ID() AS id')).rows[0]?.id);
        throw new Error('application error');
      }),
    ).rejects.toThrow('application error');
    expect(await connectionId(pool)).toBe(first);

    await expect(
      pool.withSession(async () => {
        throw markSessionBroken(new Error('rollback failed'));
      }),
    ).rejects.toThrow('rollback failed');
    await waitFor(async () => !(await sessionExists(admin, first)), 5_000, 'broken session closed on the server');
    expect(await connectionId(pool)).not.toBe(first);
  });

  it('refuses queries on a session after withSession returned', async () => {
    const pool = await openPool({}, { dsn: { user } });
    let leaked: { query: (sql: string) => Promise<unknown> } | undefined;
    await pool.withSession(async (session) => {
      leaked = session;
    });
    await expect(leaked?.query('SELECT 1')).rejects.toBeInstanceOf(DbModuleError);
  });
});

describe('ping, stats and close', () => {
  it('counts sessions the way the server does', async () => {
    const pool = await openPool({ max_open_connections: 4, max_idle_connections: 3 }, { dsn: { user } });
    const hold = deferred();
    const entered: Array<Promise<void>> = [];
    const sessions = [1, 2].map(() => {
      const inside = deferred();
      entered.push(inside.promise);
      return pool.withSession(async (session) => {
        await session.query('SELECT 1');
        inside.resolve();
        await hold.promise;
      });
    });
    await Promise.all(entered);
    const server = await sessionCount(admin, user);
    expect(server).toBe(2);
    expect(pool.stats()).toEqual({ total: server, idle: 0, inUse: 2, waiting: 0, maxOpen: 4, maxIdle: 3 });
    hold.resolve();
    await Promise.all(sessions);
    expect(pool.stats()).toMatchObject({ total: 2, idle: 2, inUse: 0 });
    await expect(pool.ping()).resolves.toBeUndefined();
  });

  it('close waits for sessions in use, closes every session, and is idempotent', async () => {
    const pool = await openPool({ max_open_connections: 3 }, { dsn: { user } });
    await Promise.all([pool.query('SELECT SLEEP(0.05)'), pool.query('SELECT SLEEP(0.05)')]);
    const hold = deferred();
    const inside = deferred();
    let queryAfterRelease = 0;
    const session = pool.withSession(async (s) => {
      inside.resolve();
      await hold.promise;
      queryAfterRelease = Number((await s.query<{ n: number }>('SELECT 7 AS n')).rows[0]?.n);
    });
    await inside.promise;
    let closed = false;
    const closing = pool.close();
    void closing.then(() => (closed = true));
    expect(pool.close()).toBe(closing);
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: 'DATABASE_CLOSED' });
    expect(await sessionCount(admin, user)).toBe(2);
    expect(closed).toBe(false);
    hold.resolve();
    await session;
    await closing;
    expect(queryAfterRelease).toBe(7);
    await waitFor(async () => (await sessionCount(admin, user)) === 0, 5_000, 'all sessions closed');
  });
});

describe('dialect', () => {
  it('writes MySQL transaction and savepoint statements', () => {
    expect(mysqlDialect.healthCheckQuery).toBe('SELECT 1');
    expect(mysqlDialect.begin()).toEqual(['START TRANSACTION']);
    expect(mysqlDialect.begin('serializable')).toEqual(['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'START TRANSACTION']);
    expect(mysqlDialect.savepoint('sp_1')).toBe('SAVEPOINT `sp_1`');
    expect(mysqlDialect.releaseSavepoint('a`b')).toBe('RELEASE SAVEPOINT `a``b`');
    expect(mysqlDialect.rollbackToSavepoint('sp_1')).toBe('ROLLBACK TO SAVEPOINT `sp_1`');
    expect(() => mysqlDialect.begin('chaos; DROP TABLE x' as never)).toThrow(DbModuleError);
  });

  it('runs savepoints on the server', async () => {
    const pool = await openPool({}, { dsn: { user } });
    await admin.query(`DELETE FROM ${table}`);
    await pool.withSession(async (session) => {
      for (const sql of mysqlDialect.begin()) await session.query(sql);
      await session.query(`INSERT INTO ${table} (id) VALUES (30)`);
      await session.query(mysqlDialect.savepoint('dbm sp'));
      await session.query(`INSERT INTO ${table} (id) VALUES (31)`);
      await session.query(mysqlDialect.rollbackToSavepoint('dbm sp'));
      await session.query(mysqlDialect.releaseSavepoint('dbm sp'));
      await session.query('COMMIT');
    });
    const [rows] = await admin.query<mysql.RowDataPacket[]>(`SELECT id FROM ${table} ORDER BY id`);
    expect(rows.map((row) => row.id)).toEqual([30]);
  });
});

describe('toMysqlError', () => {
  it('returns a DbModuleError unchanged and classifies lost connections by phase', () => {
    const original = new DbModuleError('POOL_TIMEOUT', 'x');
    expect(toMysqlError(original, { connection: 'w', phase: 'query' })).toBe(original);
    const lost = Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
    expect(toMysqlError(lost, { connection: 'w', phase: 'query' })).toMatchObject({ code: 'CONNECTION_LOST', retryable: false });
    expect(toMysqlError(lost, { connection: 'w', phase: 'connect' })).toMatchObject({ code: 'CONNECTION_LOST', retryable: true });
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(toMysqlError(reset, { connection: 'w', phase: 'query' }).code).toBe('CONNECTION_LOST');
    const timeout = Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
    expect(toMysqlError(timeout, { connection: 'w', phase: 'connect', timeoutMs: 250 })).toMatchObject({ code: 'CONNECT_TIMEOUT', retryable: true });
  });
});
