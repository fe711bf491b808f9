import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuthFailure, AuthFailureDecision, DriverPool } from '../../src/drivers/types.js';
import { ConnectionError, DbModuleError, IamError } from '../../src/errors.js';
import { PASSWORD_USER, PASSWORD_USER_SECRET } from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import { backendPids, closeTestPools, gate, openTestPool } from '../support/drivers/postgres.js';
import { rejectionOf } from '../support/rejection.js';

afterAll(closeTestPools);

const passwordDsn = { user: PASSWORD_USER };

/** Answers `wrong-1`, `wrong-2`, ... for the first `wrongCalls` calls, then the real password; `fix()` ends the wrong answers early. */
function passwordSequence(wrongCalls: number): { password: () => Promise<string>; calls: string[]; fix(): void } {
  const calls: string[] = [];
  let wrongLeft = wrongCalls;
  return {
    calls,
    fix: () => void (wrongLeft = 0),
    password: async () => {
      const answer = wrongLeft > 0 ? `wrong-${calls.length + 1}` : PASSWORD_USER_SECRET;
      if (wrongLeft > 0) wrongLeft--;
      calls.push(answer);
      return answer;
    },
  };
}

/** A hook that records every failure it is shown, waits `waitMs`, then answers `decide(failure)`. */
function recordingHook(decide: (failure: AuthFailure) => AuthFailureDecision, waitMs = 0) {
  const seen: AuthFailure[] = [];
  const hook = async (failure: AuthFailure): Promise<AuthFailureDecision> => {
    seen.push(failure);
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    return decide(failure);
  };
  return { hook, seen };
}

function iamError(message = 'IAM authentication kept failing'): IamError {
  return new IamError('IAM_AUTH_FAILED', `connection "pgtest": ${message}`, { connection: 'pgtest' });
}

const CURRENT_USER = 'SELECT current_user AS u';

/** Every way a session gets opened: our DriverPool and an ORM on the native pool. */
const entryPoints: Array<[string, (pool: DriverPool, native: pg.Pool) => Promise<string | undefined>]> = [
  ['DriverPool.query', async (pool) => (await pool.query<{ u: string }>(CURRENT_USER)).rows[0]?.u],
  ['DriverPool.withSession', (pool) => pool.withSession(async (session) => (await session.query<{ u: string }>(CURRENT_USER)).rows[0]?.u)],
  [
    'DriverPool.ping',
    async (pool) => {
      await pool.ping();
      return (await pool.query<{ u: string }>(CURRENT_USER)).rows[0]?.u;
    },
  ],
  ['native pool.query', async (_pool, native) => (await native.query<{ u: string }>(CURRENT_USER)).rows[0]?.u],
  [
    'native pool.connect',
    async (_pool, native) => {
      const client = await native.connect();
      try {
        return (await client.query<{ u: string }>(CURRENT_USER)).rows[0]?.u;
      } finally {
        client.release();
      }
    },
  ],
  [
    'Kysely over the native pool',
    async (_pool, native) => {
      const db = new Kysely<Record<string, never>>({ dialect: new PostgresDialect({ pool: native }) });
      return (await sql<{ u: string }>`SELECT current_user AS u`.execute(db)).rows[0]?.u;
    },
  ],
];

describe('postgres onAuthFailure: retry until the password is right', () => {
  it('retries within one opening; the hook sees attempts 1..N with the exact rejected passwords and a shrinking budget', async () => {
    const timeout = 5_000;
    const sequence = passwordSequence(3);
    const { hook, seen } = recordingHook(() => ({ retry: true }), 5);
    const { pool, appName } = await openTestPool({ dsn: passwordDsn, password: sequence.password, onAuthFailure: hook, config: { connection_timeout: timeout } });

    expect((await pool.query<{ u: string }>(CURRENT_USER)).rows).toEqual([{ u: PASSWORD_USER }]);

    expect(sequence.calls).toEqual(['wrong-1', 'wrong-2', 'wrong-3', PASSWORD_USER_SECRET]);
    expect(seen.map((failure) => failure.attempt)).toEqual([1, 2, 3]);
    expect(seen.map((failure) => failure.password)).toEqual(['wrong-1', 'wrong-2', 'wrong-3']);
    for (const failure of seen) {
      expect(failure.error).toBeInstanceOf(ConnectionError);
      expect(failure.error).toMatchObject({ code: 'AUTH_FAILED', connection: 'pgtest' });
      expect((failure.error.cause as { code?: string }).code).toBe('28P01');
      expect(failure.error.message).not.toContain('wrong-');
      expect(failure.remainingMs).toBeGreaterThan(0);
      expect(failure.remainingMs).toBeLessThanOrEqual(timeout);
    }
    const budgets = seen.map((failure) => failure.remainingMs);
    expect(budgets[1]!).toBeLessThan(budgets[0]!);
    expect(budgets[2]!).toBeLessThan(budgets[1]!);
    // the retries reused the opening's slot: one session on the server, one in the pool
    expect((await backendPids(appName)).length).toBe(1);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1, inUse: 0, waiting: 0 });
  });

  for (const [name, run] of entryPoints) {
    it(`covers ${name}`, async () => {
      const sequence = passwordSequence(1);
      const { hook, seen } = recordingHook(() => ({ retry: true }));
      const { pool, native } = await openTestPool({ dsn: passwordDsn, password: sequence.password, onAuthFailure: hook });
      expect(await run(pool, native)).toBe(PASSWORD_USER);
      expect(seen.map((failure) => [failure.attempt, failure.password])).toEqual([[1, 'wrong-1']]);
      expect(sequence.calls).toEqual(['wrong-1', PASSWORD_USER_SECRET]);
    });
  }

  it('reports the DSN password when there is no password function', async () => {
    const { hook, seen } = recordingHook(() => ({ retry: false }));
    const { pool } = await openTestPool({ dsn: { ...passwordDsn, password: 'wrong-from-dsn' }, onAuthFailure: hook });
    expect(await rejectionOf(pool.query('SELECT 1'))).toMatchObject({ code: 'AUTH_FAILED' });
    expect(seen.map((failure) => [failure.attempt, failure.password])).toEqual([[1, 'wrong-from-dsn']]);
  });
});

describe('postgres onAuthFailure: giving up', () => {
  it("retry:false with an error: that error reaches query(), the native pool's query and pool.connect", async () => {
    const custom = iamError();
    const { hook, seen } = recordingHook(() => ({ retry: false, error: custom }));
    const sequence = passwordSequence(Number.POSITIVE_INFINITY);
    const { pool, native, appName } = await openTestPool({ dsn: passwordDsn, password: sequence.password, onAuthFailure: hook });

    expect(await rejectionOf(pool.query('SELECT 1'))).toBe(custom);
    expect(await rejectionOf(native.query('SELECT 1'))).toBe(custom);
    expect(await rejectionOf(native.connect())).toBe(custom);
    expect(seen.map((failure) => failure.attempt)).toEqual([1, 1, 1]);
    expect(sequence.calls).toEqual(['wrong-1', 'wrong-2', 'wrong-3']);
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
    expect(await backendPids(appName)).toEqual([]);
  });

  it('retry:false without an error: the original error, as without a hook', async () => {
    const { hook } = recordingHook(() => ({ retry: false }));
    const { pool, native } = await openTestPool({ dsn: passwordDsn, password: async () => 'wrong-always', onAuthFailure: hook });
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'AUTH_FAILED' });
    expect((error.cause as { code?: string }).code).toBe('28P01');
    // the ORM gets pg's own error, exactly as it would without the hook
    const raw = await rejectionOf(native.query('SELECT 1'));
    expect(raw).not.toBeInstanceOf(DbModuleError);
    expect(raw.code).toBe('28P01');
  });

  it('a hook that throws: its error reaches the caller', async () => {
    const thrown = new DbModuleError('AWS_CREDENTIALS_UNAVAILABLE', 'connection "pgtest": no AWS credentials');
    const { pool, native } = await openTestPool({
      dsn: passwordDsn,
      password: async () => 'wrong-always',
      onAuthFailure: async () => {
        throw thrown;
      },
    });
    expect(await rejectionOf(pool.query('SELECT 1'))).toBe(thrown);
    expect(await rejectionOf(native.query('SELECT 1'))).toBe(thrown);
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
  });

  it('always wrong, always retry: fails within connection_timeout with the last decision error, leaving nothing behind', async () => {
    const timeout = 600;
    const sequence = passwordSequence(Number.POSITIVE_INFINITY);
    const errors: DbModuleError[] = [];
    const { hook, seen } = recordingHook((failure) => {
      errors.push(iamError(`attempt ${failure.attempt} failed`));
      return { retry: true, error: errors[errors.length - 1] };
    }, 15);
    const { pool, appName } = await openTestPool({ dsn: passwordDsn, password: sequence.password, onAuthFailure: hook, config: { connection_timeout: timeout, max_open_connections: 1 } });

    const started = performance.now();
    const error = await rejectionOf(pool.query('SELECT 1'));
    const elapsed = performance.now() - started;

    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(error).toBe(errors[errors.length - 1]);
    expect(elapsed).toBeGreaterThanOrEqual(timeout - 50);
    expect(elapsed).toBeLessThan(timeout + 300);
    expect(seen.map((failure) => failure.attempt)).toEqual(seen.map((_failure, index) => index + 1));
    expect(seen.map((failure) => failure.password)).toEqual(sequence.calls.slice(0, seen.length));
    // every attempt called the password function again, and none ran past the budget
    expect(sequence.calls.length - seen.length).toBeLessThanOrEqual(1);
    expect(seen.every((failure) => failure.remainingMs <= timeout)).toBe(true);

    expect(pool.stats()).toMatchObject({ total: 0, idle: 0, inUse: 0, waiting: 0 });
    await waitFor(async () => (await backendPids(appName)).length === 0, 5_000, 'no session left on the server');

    sequence.fix();
    const hookCalls = seen.length;
    expect((await pool.query<{ u: string }>(CURRENT_USER)).rows).toEqual([{ u: PASSWORD_USER }]);
    expect(seen.length).toBe(hookCalls);
    expect(pool.stats()).toMatchObject({ total: 1, waiting: 0 });
  });

  it('a hook still waiting when connection_timeout ends: its decision, not a pg-pool timeout, reaches the caller', async () => {
    const timeout = 300;
    const custom = iamError();
    const { hook, seen } = recordingHook(() => ({ retry: true, error: custom }), timeout + 100);
    const sequence = passwordSequence(Number.POSITIVE_INFINITY);
    const { pool, native } = await openTestPool({ dsn: passwordDsn, password: sequence.password, onAuthFailure: hook, config: { connection_timeout: timeout } });
    expect(await rejectionOf(pool.query('SELECT 1'))).toBe(custom);
    expect(await rejectionOf(native.query('SELECT 1'))).toBe(custom);
    // past the deadline a retry:true is not honoured
    expect(seen.map((failure) => failure.attempt)).toEqual([1, 1]);
    expect(sequence.calls).toEqual(['wrong-1', 'wrong-2']);
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
  });

  it('a pool closed while the hook waits: no new attempt, and close() completes', async () => {
    const release = gate();
    const sequence = passwordSequence(Number.POSITIVE_INFINITY);
    let called = 0;
    const { pool } = await openTestPool({
      dsn: passwordDsn,
      password: sequence.password,
      onAuthFailure: async () => {
        called++;
        await release.promise;
        return { retry: true };
      },
    });
    const query = rejectionOf(pool.query('SELECT 1'));
    await waitFor(() => called === 1, 5_000, 'the hook called');
    const closed = pool.close();
    release.open();
    expect(await query).toMatchObject({ code: 'DATABASE_CLOSED' });
    await closed;
    expect(sequence.calls).toEqual(['wrong-1']);
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
  });
});

describe('postgres onAuthFailure: only authentication failures', () => {
  it('is not called for a refused connection or a missing database', async () => {
    const { hook, seen } = recordingHook(() => ({ retry: true }));
    const { pool: refused } = await openTestPool({ dsn: { port: 1 }, onAuthFailure: hook });
    expect(await rejectionOf(refused.query('SELECT 1'))).toMatchObject({ code: 'CONNECT_FAILED' });
    const { pool: missing } = await openTestPool({ dsn: { database: 'no_such_database_xyz' }, onAuthFailure: hook });
    const error = await rejectionOf(missing.query('SELECT 1'));
    expect(error).toMatchObject({ code: 'CONNECT_FAILED' });
    expect((error.cause as { code?: string }).code).toBe('3D000');
    expect(seen).toEqual([]);
  });
});

describe('postgres onAuthFailure: max_open_connections', () => {
  it('20 concurrent queries on a cold pool of 5 whose first password is wrong: never more than 5 server sessions', async () => {
    const sequence = passwordSequence(1);
    const { hook, seen } = recordingHook(() => ({ retry: true }), 20);
    const { pool, appName } = await openTestPool({
      dsn: passwordDsn,
      password: sequence.password,
      onAuthFailure: hook,
      config: { max_open_connections: 5, max_idle_connections: 5 },
    });
    const PEERS = 'SELECT pg_backend_pid() AS pid, (SELECT count(*)::int FROM pg_stat_activity WHERE application_name = $1) AS peers, pg_sleep(0.05)';

    let observed = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) observed = Math.max(observed, (await backendPids(appName)).length);
    })();
    const results = await Promise.all(Array.from({ length: 20 }, () => pool.query<{ pid: number; peers: number }>(PEERS, [appName])));
    watching = false;
    await watcher;

    const rows = results.map((result) => result.rows[0]!);
    expect(Math.max(...rows.map((row) => row.peers))).toBeLessThanOrEqual(5);
    expect(observed).toBeLessThanOrEqual(5);
    expect(new Set(rows.map((row) => row.pid)).size).toBe(5);
    // five sessions opened, one of them twice
    expect(sequence.calls).toEqual(['wrong-1', ...Array<string>(5).fill(PASSWORD_USER_SECRET)]);
    expect(seen.map((failure) => [failure.attempt, failure.password])).toEqual([[1, 'wrong-1']]);
    expect(pool.stats()).toMatchObject({ total: 5, idle: 5, waiting: 0 });
  });
});
