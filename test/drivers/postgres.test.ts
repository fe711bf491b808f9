import { afterAll, describe, expect, it } from 'vitest';
import { DbModuleError, QueryError } from '../../src/errors.js';
import { loadPg, postgresDialect, toPostgresError } from '../../src/drivers/postgres/index.js';
import { captureLogger } from '../support/logger.js';
import { PASSWORD_USER, PASSWORD_USER_SECRET, uniqueName } from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import { admin, backendExists, backendPids, closeTestPools, readyHoldingProxy, openTestPool, testDsn } from '../support/drivers/postgres.js';
import { rejectionOf } from '../support/rejection.js';

afterAll(closeTestPools);

describe('postgres driver: query', () => {
  it('returns rows, and rowCount as rows returned or rows affected (never null)', async () => {
    const { pool } = await openTestPool();
    const table = uniqueName('pg_rows');
    const created = await pool.query(`CREATE TABLE ${table} (id int, label text)`);
    try {
      expect(created).toEqual({ rows: [], rowCount: 0 });
      const inserted = await pool.query(`INSERT INTO ${table} VALUES ($1, $2), ($3, $4), ($5, $6)`, [1, 'a', 2, 'b', 3, 'c']);
      expect(inserted.rowCount).toBe(3);
      expect((await pool.query(`UPDATE ${table} SET label = $1 WHERE id >= $2`, ['z', 2])).rowCount).toBe(2);
      const selected = await pool.query<{ id: number; label: string }>(`SELECT id, label FROM ${table} WHERE label = $1 ORDER BY id`, ['z']);
      expect(selected).toEqual({ rows: [{ id: 2, label: 'z' }, { id: 3, label: 'z' }], rowCount: 2 });
      expect((await pool.query(`DELETE FROM ${table}`)).rowCount).toBe(3);
      // SHOW has no count in its command tag: pg reports null, we report the rows returned
      expect((await pool.query('SHOW server_version')).rowCount).toBe(1);
    } finally {
      await pool.query(`DROP TABLE ${table}`);
    }
  });

  it('answers a multi-statement text with its last result', async () => {
    const { pool } = await openTestPool();
    expect(await pool.query('SELECT 1 AS a; SELECT 2 AS b, 3 AS c')).toEqual({ rows: [{ b: 2, c: 3 }], rowCount: 1 });
  });

  it('maps a SQL error to QUERY_FAILED with the SQLSTATE and cause, and keeps the session', async () => {
    const { pool } = await openTestPool({ config: { max_open_connections: 1 } });
    const [before] = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    const error = await rejectionOf(pool.query('SELEC 1'));
    expect(error).toBeInstanceOf(QueryError);
    expect(error).toMatchObject({ code: 'QUERY_FAILED', driverCode: '42601', connection: 'pgtest', retryable: false });
    expect(error.message).toMatch(/^connection "pgtest": query failed: syntax error at or near "SELEC"/);
    expect((error.cause as { code?: string }).code).toBe('42601');
    // pg-pool's own pool.query destroys a session on any error; a SQL error does not warrant it
    const [after] = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    expect(after?.pid).toBe(before?.pid);
  });

  it('keeps a session released between a server error and the ReadyForQuery that follows it', async () => {
    const proxy = await readyHoldingProxy();
    try {
      const { pool } = await openTestPool({ dsn: { port: proxy.port }, config: { max_open_connections: 1 } });
      const pid = async () => (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const before = await pid();
      // the session is released while pg still waits for the ReadyForQuery after the error
      expect(await rejectionOf(pool.query('SELECT $1::int', ['nope']))).toMatchObject({ code: 'QUERY_FAILED', driverCode: '22P02' });
      proxy.deliverHeld();
      expect(await pid()).toBe(before);
      await pool.close();
    } finally {
      proxy.close();
    }
  });

  it('never puts a parameter value in the message, though the server quotes it', async () => {
    const { pool } = await openTestPool();
    const secret = 'secret-param-value-42';
    const error = await rejectionOf(pool.query('SELECT $1::int', [secret]));
    expect(error).toMatchObject({ code: 'QUERY_FAILED', driverCode: '22P02' });
    expect((error.cause as Error).message).toContain(secret);
    expect(error.message).not.toContain(secret);
    expect(error.message).toContain('invalid input syntax for type integer');
  });

  it('keeps identifiers in messages of other SQLSTATE classes', async () => {
    const { pool } = await openTestPool();
    const error = await rejectionOf(pool.query('SELECT * FROM no_such_table_here'));
    expect(error).toMatchObject({ code: 'QUERY_FAILED', driverCode: '42P01' });
    expect(error.message).toContain('relation "no_such_table_here" does not exist');
  });

  it('reports a session killed mid-query as CONNECTION_LOST, and the next query gets a new session', async () => {
    const { pool, appName } = await openTestPool({ config: { max_open_connections: 1 } });
    const [first] = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    const running = rejectionOf(pool.query('SELECT pg_sleep(30)'));
    await waitFor(async () => (await admin("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'", [appName])).length === 1);
    await admin('SELECT pg_terminate_backend($1)', [first?.pid]);
    const error = await running;
    expect(error).toMatchObject({ code: 'CONNECTION_LOST', retryable: true, connection: 'pgtest' });
    const [next] = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    expect(next?.pid).not.toBe(first?.pid);
  });

  it('survives the server killing an idle session: logged at warn, evicted, replaced', async () => {
    const { logger, entries } = captureLogger();
    const { pool, appName } = await openTestPool({ logger });
    await pool.query('SELECT 1');
    const [pid] = await backendPids(appName);
    await admin('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor(() => entries.some((entry) => entry.level === 'warn' && entry.fields?.connection === 'pgtest'), 5_000, 'idle error logged');
    expect(pool.stats().total).toBe(0);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});

describe('postgres driver: withSession', () => {
  it('runs every statement on one session, with the dialect transaction and savepoint statements', async () => {
    const { pool } = await openTestPool();
    const table = uniqueName('pg_tx');
    await pool.query(`CREATE TABLE ${table} (id int)`);
    try {
      const result = await pool.withSession(async (session) => {
        const pids = new Set<number>();
        const pid = async () => pids.add((await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
        for (const sql of postgresDialect.begin('serializable')) await session.query(sql);
        await pid();
        const isolation = (await session.query<{ transaction_isolation: string }>('SHOW transaction_isolation')).rows[0]?.transaction_isolation;
        await session.query(`INSERT INTO ${table} VALUES (1)`);
        await session.query(postgresDialect.savepoint('sp "1"'));
        await session.query(`INSERT INTO ${table} VALUES (2)`);
        await session.query(postgresDialect.rollbackToSavepoint('sp "1"'));
        await session.query(postgresDialect.releaseSavepoint('sp "1"'));
        await pid();
        await session.query('COMMIT');
        return { isolation, pids: pids.size };
      });
      expect(result).toEqual({ isolation: 'serializable', pids: 1 });
      expect((await pool.query(`SELECT id FROM ${table}`)).rows).toEqual([{ id: 1 }]);
    } finally {
      await pool.query(`DROP TABLE ${table}`);
    }
  });

  it('destroys the session when fn fails with a broken-connection error, and reuses it otherwise', async () => {
    const { pool } = await openTestPool({ config: { max_open_connections: 1 } });
    const pidOf = (session: { query: typeof pool.query }) => session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid').then((r) => r.rows[0]!.pid);
    let kept = 0;
    await rejectionOf(pool.withSession(async (session) => {
      kept = await pidOf(session);
      throw new Error('application error');
    }));
    expect(await pool.withSession(pidOf)).toBe(kept);
    let broken = 0;
    await rejectionOf(pool.withSession(async (session) => {
      broken = await pidOf(session);
      throw new DbModuleError('CONNECTION_LOST', 'lost');
    }));
    await waitFor(async () => !(await backendExists(broken)), 5_000, 'broken session closed');
    expect(await pool.withSession(pidOf)).not.toBe(broken);
  });
});

describe('postgres driver: authentication', () => {
  const passwordDsn = { user: PASSWORD_USER };

  it('calls the password function once per new physical session and honours a changed answer', async () => {
    let calls = 0;
    let answer = PASSWORD_USER_SECRET;
    const password = async () => {
      calls++;
      return answer;
    };
    // max_idle 0: every release closes the session, so every query opens a new one
    const { pool, appName } = await openTestPool({ dsn: passwordDsn, password, config: { max_open_connections: 3, max_idle_connections: 0 } });
    expect(calls).toBe(0);
    await pool.query('SELECT 1');
    expect(calls).toBe(1);
    answer = 'wrong-answer-for-test';
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(error).toMatchObject({ code: 'AUTH_FAILED', retryable: false });
    expect(calls).toBe(2);
    answer = PASSWORD_USER_SECRET;
    await pool.query('SELECT 1');
    expect(calls).toBe(3);
    await waitFor(async () => (await backendPids(appName)).length === 0, 5_000, 'sessions closed');
  });

  it('opens one session per password call under concurrency', async () => {
    let calls = 0;
    const password = async () => {
      calls++;
      return PASSWORD_USER_SECRET;
    };
    const { pool, appName } = await openTestPool({ dsn: passwordDsn, password, config: { max_open_connections: 3 } });
    const pids = await Promise.all(Array.from({ length: 6 }, () => pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.1)').then((r) => r.rows[0]!.pid)));
    expect(calls).toBe(new Set(pids).size);
    expect(calls).toBe((await backendPids(appName)).length);
  });

  it('uses the DSN password when there is no password function', async () => {
    const { pool } = await openTestPool({ dsn: { ...passwordDsn, password: PASSWORD_USER_SECRET } });
    expect((await pool.query<{ u: string }>('SELECT current_user AS u')).rows).toEqual([{ u: PASSWORD_USER }]);
  });

  it('reports a wrong password as AUTH_FAILED naming the connection and endpoint, never the password', async () => {
    const wrong = 'not-the-password-xyz';
    const { pool } = await openTestPool({ dsn: { ...passwordDsn, password: wrong } });
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(error).toMatchObject({ code: 'AUTH_FAILED', retryable: false, connection: 'pgtest' });
    expect(error.message).toContain('connection "pgtest"');
    const { host, port } = testDsn('endpoint');
    expect(error.message).toContain(`${host}:${port}`);
    expect(error.message).toContain('28P01');
    expect(error.message).not.toContain(wrong);
    expect((error as unknown as DbModuleError).possibleCauses.length).toBeGreaterThan(0);
    expect((error as unknown as DbModuleError).solutions.length).toBeGreaterThan(0);
  });
});

describe('postgres driver: DSN parameters', () => {
  it('passes startup parameters the driver understands and warns about the others by name', async () => {
    const { logger, entries } = captureLogger();
    const { pool } = await openTestPool({
      logger,
      dsn: { params: { statement_timeout: '4321', options: '-c search_path=pg_catalog', made_up_param: 'x', connect_timeout: '3' } },
    });
    const { rows } = await pool.query<{ st: string; sp: string }>("SELECT current_setting('statement_timeout') AS st, current_setting('search_path') AS sp");
    expect(rows).toEqual([{ st: '4321ms', sp: 'pg_catalog' }]);
    const warned = entries.filter((entry) => entry.level === 'warn').map((entry) => entry.fields?.param);
    expect(warned.sort()).toEqual(['connect_timeout', 'made_up_param']);
  });

  it('rejects a non-numeric timeout parameter naming it', async () => {
    const error = await rejectionOf(openTestPool({ dsn: { params: { lock_timeout: 'soon' } } }));
    expect(error).toMatchObject({ code: 'DSN_INVALID' });
    expect(error.message).toContain('lock_timeout');
  });
});

describe('postgres driver: pieces', () => {
  it('dialect statements are valid PostgreSQL', async () => {
    const { pool } = await openTestPool();
    expect(postgresDialect.healthCheckQuery).toBe('SELECT 1');
    expect(postgresDialect.begin()).toEqual(['BEGIN']);
    expect(postgresDialect.begin('repeatable read')).toEqual(['BEGIN ISOLATION LEVEL REPEATABLE READ']);
    expect(() => postgresDialect.begin('chaos' as never)).toThrow(/unknown isolation level/);
    await pool.withSession(async (session) => {
      for (const level of ['read uncommitted', 'read committed', 'repeatable read', 'serializable'] as const) {
        for (const sql of postgresDialect.begin(level)) await session.query(sql);
        expect((await session.query<{ i: string }>("SELECT current_setting('transaction_isolation') AS i")).rows[0]?.i).toBe(level);
        await session.query('ROLLBACK');
      }
    });
  });

  it('reports a missing driver as DRIVER_NOT_INSTALLED with the install command', async () => {
    const missing = 'pg-not-installed-for-this-test';
    const error = await rejectionOf(loadPg(() => import(missing)));
    expect(error).toMatchObject({ code: 'DRIVER_NOT_INSTALLED' });
    expect(error.message).toContain('npm install pg');
  });

  it('loads the real driver', async () => {
    const pg = await loadPg();
    expect(typeof pg.Pool).toBe('function');
  });

  it('passes DbModuleErrors through unchanged (IAM errors from the password function)', () => {
    const original = new DbModuleError('IAM_AUTH_FAILED', 'iam');
    expect(toPostgresError(original, { connection: 'x', phase: 'connect' })).toBe(original);
  });
});
