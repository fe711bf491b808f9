import net from 'node:net';
import { Kysely, MysqlDialect, sql } from 'kysely';
import type { Pool, PoolConnection } from 'mysql2';
import type mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import type { AuthFailure, AuthFailureDecision, DriverPool } from '../../src/drivers/types.js';
import { PASSWORD_USER, PASSWORD_USER_SECRET } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';
import { adminConnection, closeAllPools, createPasswordUser, dropUser, openPool, sessionCount } from '../support/drivers/mysql.js';

let admin: mysql.Connection;
const users: string[] = [];

beforeAll(async () => {
  admin = await adminConnection();
});

afterEach(async () => {
  await closeAllPools();
});

afterAll(async () => {
  for (const user of users) await dropUser(admin, user);
  await admin.end();
});

/**
 * A password-checked user only this test uses: counting dbmodule_pw's sessions would also see
 * other test files running in parallel with it.
 */
async function freshPasswordUser(): Promise<string> {
  const user = await createPasswordUser(admin, PASSWORD_USER_SECRET);
  users.push(user);
  return user;
}

/** Answers `wrong-1`, `wrong-2`, ... for the first `wrongCalls` calls, then the real password. */
function passwordFunction(wrongCalls: number) {
  const given: string[] = [];
  return {
    given,
    password: async () => {
      const answer = given.length < wrongCalls ? `wrong-${given.length + 1}` : PASSWORD_USER_SECRET;
      given.push(answer);
      return answer;
    },
  };
}

/** Records every failure it is shown; waits `delayMs` (a backoff), then answers with `decide`. */
function recordingHook(decide: (failure: AuthFailure) => AuthFailureDecision, delayMs = 5) {
  const calls: AuthFailure[] = [];
  const decisions: AuthFailureDecision[] = [];
  return {
    calls,
    decisions,
    hook: async (failure: AuthFailure): Promise<AuthFailureDecision> => {
      calls.push(failure);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const decision = decide(failure);
      decisions.push(decision);
      return decision;
    },
  };
}

const retryAlways = (): AuthFailureDecision => ({ retry: true });

function nativeOf(pool: DriverPool): Pool {
  return pool.native as Pool;
}

function nativeQuery(native: Pool, text: string): Promise<unknown> {
  return new Promise((resolve, reject) => native.query(text, (error, rows) => (error ? reject(error) : resolve(rows))));
}

function getConnection(native: Pool): Promise<PoolConnection> {
  return new Promise((resolve, reject) => native.getConnection((error, connection) => (error ? reject(error) : resolve(connection))));
}

function queryOn(connection: PoolConnection, text: string): Promise<unknown> {
  return new Promise((resolve, reject) => connection.query(text, (error, rows) => (error ? reject(error) : resolve(rows))));
}

/** The user the server authenticated, through each way an application or an ORM opens a session. */
const openings: Array<[string, (pool: DriverPool) => Promise<string | undefined>]> = [
  ['DriverPool.query', async (pool) => (await pool.query<{ u: string }>('SELECT CURRENT_USER() AS u')).rows[0]?.u],
  ['DriverPool.withSession', (pool) => pool.withSession(async (session) => (await session.query<{ u: string }>('SELECT CURRENT_USER() AS u')).rows[0]?.u)],
  [
    'DriverPool.ping',
    async (pool) => {
      await pool.ping();
      return (await pool.query<{ u: string }>('SELECT CURRENT_USER() AS u')).rows[0]?.u;
    },
  ],
  ['native pool.query', async (pool) => ((await nativeQuery(nativeOf(pool), 'SELECT CURRENT_USER() AS u')) as Array<{ u: string }>)[0]?.u],
  [
    'native pool.getConnection',
    async (pool) => {
      const connection = await getConnection(nativeOf(pool));
      try {
        return ((await queryOn(connection, 'SELECT CURRENT_USER() AS u')) as Array<{ u: string }>)[0]?.u;
      } finally {
        connection.release();
      }
    },
  ],
  ['native pool.promise().query', async (pool) => ((await nativeOf(pool).promise().query('SELECT CURRENT_USER() AS u'))[0] as Array<{ u: string }>)[0]?.u],
  [
    'native pool.promise().getConnection',
    async (pool) => {
      const connection = await nativeOf(pool).promise().getConnection();
      try {
        return ((await connection.query('SELECT CURRENT_USER() AS u'))[0] as Array<{ u: string }>)[0]?.u;
      } finally {
        connection.release();
      }
    },
  ],
  [
    'Kysely over the native pool',
    async (pool) => {
      const db = new Kysely<Record<string, never>>({ dialect: new MysqlDialect({ pool: nativeOf(pool) as never }) });
      return (await sql<{ u: string }>`SELECT CURRENT_USER() AS u`.execute(db)).rows[0]?.u;
    },
  ],
];

describe('onAuthFailure: retry until the password is right', () => {
  it.each(openings)('opens the session after 3 rejected passwords via %s, showing the hook each rejected one', async (_way, open) => {
    const passwords = passwordFunction(3);
    const recorder = recordingHook(retryAlways);
    const timeout = 5_000;
    const pool = await openPool(
      { max_open_connections: 1, connection_timeout: timeout },
      { dsn: { user: PASSWORD_USER }, password: passwords.password, onAuthFailure: recorder.hook },
    );

    expect(await open(pool)).toMatch(/^dbmodule_pw@/);
    expect(passwords.given).toEqual(['wrong-1', 'wrong-2', 'wrong-3', PASSWORD_USER_SECRET]);
    expect(recorder.calls.map((call) => call.attempt)).toEqual([1, 2, 3]);
    expect(recorder.calls.map((call) => call.password)).toEqual(['wrong-1', 'wrong-2', 'wrong-3']);
    for (const call of recorder.calls) {
      expect(call.error).toBeInstanceOf(DbModuleError);
      expect(call.error).toMatchObject({ code: 'AUTH_FAILED', connection: 'writer' });
      expect(call.error.message).not.toContain('wrong-');
      expect(call.remainingMs).toBeGreaterThan(0);
      expect(call.remainingMs).toBeLessThanOrEqual(timeout);
    }
    // Each hook call waited 5 ms before the next attempt, so what is left must shrink every time.
    const remaining = recorder.calls.map((call) => call.remainingMs);
    for (let i = 1; i < remaining.length; i++) expect(remaining[i]).toBeLessThan(remaining[i - 1] as number);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1, inUse: 0, waiting: 0 });
  });

  it('does not call the hook again for a session that is reused', async () => {
    const passwords = passwordFunction(1);
    const recorder = recordingHook(retryAlways);
    const pool = await openPool({ max_open_connections: 1 }, { dsn: { user: PASSWORD_USER }, password: passwords.password, onAuthFailure: recorder.hook });
    for (let i = 0; i < 3; i++) await pool.query('SELECT 1');
    expect(recorder.calls).toHaveLength(1);
    expect(passwords.given).toHaveLength(2);
  });

  it('retries with the DSN password when there is no password function (the hook decides)', async () => {
    const recorder = recordingHook((failure) => ({ retry: failure.attempt < 2 }));
    const pool = await openPool({}, { dsn: { user: PASSWORD_USER, password: 'static-wrong' }, onAuthFailure: recorder.hook });
    const error = await pool.query('SELECT 1').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'AUTH_FAILED' });
    expect(recorder.calls.map((call) => [call.attempt, call.password])).toEqual([
      [1, 'static-wrong'],
      [2, 'static-wrong'],
    ]);
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
  });
});

describe('onAuthFailure: giving up', () => {
  const iamError = () =>
    new DbModuleError('IAM_AUTH_FAILED', 'connection "writer": IAM authentication failed', { connection: 'writer', possibleCauses: ['the token was rejected'] });

  it('throws the decision error from query(), the native pool query and the promise pool query', async () => {
    const passwords = passwordFunction(Number.POSITIVE_INFINITY);
    const recorder = recordingHook(() => ({ retry: false, error: iamError() }));
    const pool = await openPool({ max_open_connections: 2 }, { dsn: { user: PASSWORD_USER }, password: passwords.password, onAuthFailure: recorder.hook });

    const viaQuery = await pool.query('SELECT 1').catch((caught: unknown) => caught);
    expect(viaQuery).toBe(recorder.decisions[0]?.error);
    expect(viaQuery).toMatchObject({ code: 'IAM_AUTH_FAILED', connection: 'writer' });

    const viaNative = await nativeQuery(nativeOf(pool), 'SELECT 1').catch((caught: unknown) => caught);
    expect(viaNative).toBe(recorder.decisions[1]?.error);

    const viaPromise = await nativeOf(pool)
      .promise()
      .query('SELECT 1')
      .catch((caught: unknown) => caught);
    expect(viaPromise).toBe(recorder.decisions[2]?.error);

    // Giving up at once: one attempt per opening, each shown the password it sent.
    expect(recorder.calls.map((call) => [call.attempt, call.password])).toEqual([
      [1, 'wrong-1'],
      [1, 'wrong-2'],
      [1, 'wrong-3'],
    ]);
    expect(pool.stats()).toMatchObject({ total: 0, inUse: 0, waiting: 0 });
  });

  it('throws the original AUTH_FAILED error when the decision carries none', async () => {
    const recorder = recordingHook(() => ({ retry: false }));
    const pool = await openPool({}, { dsn: { user: PASSWORD_USER }, password: async () => 'not-the-password', onAuthFailure: recorder.hook });
    const error = await pool.query('SELECT 1').catch((caught: unknown) => caught);
    expect(error).toBe(recorder.calls[0]?.error);
    expect(error).toMatchObject({ code: 'AUTH_FAILED' });
    expect((error as Error).message).not.toContain('not-the-password');
  });

  it('throws what the hook throws, and frees the slot', async () => {
    const thrown = new DbModuleError('AWS_CREDENTIALS_UNAVAILABLE', 'connection "writer": no AWS credentials', { connection: 'writer' });
    let calls = 0;
    let fixed = false;
    const pool = await openPool(
      { max_open_connections: 1 },
      {
        dsn: { user: PASSWORD_USER },
        password: async () => (fixed ? PASSWORD_USER_SECRET : 'not-the-password'),
        onAuthFailure: async () => {
          calls++;
          throw thrown;
        },
      },
    );
    await expect(pool.ping()).rejects.toBe(thrown);
    await expect(getConnection(nativeOf(pool))).rejects.toBe(thrown);
    expect(calls).toBe(2);
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
    fixed = true;
    await expect(pool.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
  });

  it('is not called for failures other than AUTH_FAILED', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const recorder = recordingHook(retryAlways);
    const pool = await openPool({}, { dsn: { port }, password: async () => 'unused', onAuthFailure: recorder.hook });
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
    expect(recorder.calls).toEqual([]);
  });
});

describe('onAuthFailure: within connection_timeout and max_open', () => {
  it('stops retrying when connection_timeout is spent, with the last decision error, and leaks nothing', async () => {
    const user = await freshPasswordUser();
    const timeout = 400;
    let fixed = false;
    let decisionNumber = 0;
    const recorder = recordingHook(
      () => ({ retry: true, error: new DbModuleError('IAM_AUTH_FAILED', `connection "writer": IAM authentication failed (decision ${++decisionNumber})`, { connection: 'writer' }) }),
      20,
    );
    const { logger, lines } = captureLogger();
    const pool = await openPool(
      { max_open_connections: 1, connection_timeout: timeout },
      { dsn: { user }, password: async () => (fixed ? PASSWORD_USER_SECRET : 'always-wrong'), onAuthFailure: recorder.hook, logger },
    );

    const started = performance.now();
    const error = await pool.query('SELECT 1').catch((caught: unknown) => caught);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(DbModuleError);
    expect(error).toBe(recorder.decisions.at(-1)?.error);
    expect((error as Error).message).toBe(`connection "writer": IAM authentication failed (decision ${recorder.decisions.length})`);
    // Each round takes a connect plus the hook's 20 ms: a 400 ms budget holds several, and then stops.
    expect(recorder.calls.length).toBeGreaterThanOrEqual(3);
    expect(recorder.calls.map((call) => call.attempt)).toEqual(recorder.calls.map((_, index) => index + 1));
    expect(elapsed).toBeGreaterThanOrEqual(timeout - 60);
    expect(elapsed).toBeLessThan(timeout + 250);
    expect(lines.join('\n')).not.toContain('always-wrong');

    expect(pool.stats()).toMatchObject({ total: 0, idle: 0, inUse: 0, waiting: 0 });
    expect(await sessionCount(admin, user)).toBe(0);

    fixed = true;
    const callsBefore = recorder.calls.length;
    const { rows } = await pool.query<{ u: string }>('SELECT CURRENT_USER() AS u');
    expect(rows[0]?.u).toBe(`${user}@%`);
    expect(recorder.calls).toHaveLength(callsBefore);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1, waiting: 0 });
    expect(await sessionCount(admin, user)).toBe(1);
  });

  it('keeps 20 concurrent queries on a cold pool within max_open 5 while the first password is retried', async () => {
    const user = await freshPasswordUser();
    const passwords = passwordFunction(1);
    // The hook holds its slot for 100 ms while the other queries run: nobody may take that slot meanwhile.
    const recorder = recordingHook(retryAlways, 100);
    const pool = await openPool({ max_open_connections: 5 }, { dsn: { user }, password: passwords.password, onAuthFailure: recorder.hook });

    let done = false;
    let peakServer = 0;
    let peakPool = 0;
    const work = Promise.all(Array.from({ length: 20 }, () => pool.query<{ id: number }>('SELECT SLEEP(0.05), CONNECTION_ID() AS id'))).finally(() => (done = true));
    while (!done) {
      peakPool = Math.max(peakPool, pool.stats().total);
      peakServer = Math.max(peakServer, await sessionCount(admin, user));
    }
    const results = await work;

    expect(recorder.calls.map((call) => [call.attempt, call.password])).toEqual([[1, 'wrong-1']]);
    expect(peakServer).toBeLessThanOrEqual(5);
    expect(peakPool).toBeLessThanOrEqual(5);
    const ids = new Set(results.map((result) => Number(result.rows[0]?.id)));
    expect(ids.size).toBe(5);
    // One wrong answer plus one per session actually opened: no session was opened twice for a slot.
    expect(passwords.given).toHaveLength(6);
    await waitFor(() => pool.stats().inUse === 0, 5_000, 'all sessions released');
    expect(pool.stats()).toMatchObject({ total: 5, idle: 5, waiting: 0 });
    expect(await sessionCount(admin, user)).toBe(5);
  });

  it('lets close() wait for an opening whose hook is still deciding', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const pool = await openPool(
      { max_open_connections: 1 },
      {
        dsn: { user: PASSWORD_USER },
        password: async () => 'not-the-password',
        onAuthFailure: async () => {
          calls++;
          await gate;
          return { retry: false };
        },
      },
    );
    const failing = pool.query('SELECT 1').catch((caught: unknown) => caught);
    await waitFor(() => calls === 1, 5_000, 'hook called');
    expect(pool.stats()).toMatchObject({ total: 1, inUse: 1 });
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(await failing).toMatchObject({ code: 'AUTH_FAILED' });
  });
});
