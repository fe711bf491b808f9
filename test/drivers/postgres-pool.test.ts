import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { DriverPool } from '../../src/drivers/types.js';
import { waitFor } from '../support/wait.js';
import { backendExists, backendPids, closeTestPools, fakeClock, gate, openTestPool } from '../support/drivers/postgres.js';
import { rejectionOf } from '../support/rejection.js';

afterAll(closeTestPools);

const PID_AND_PEERS = 'SELECT pg_backend_pid() AS pid, (SELECT count(*)::int FROM pg_stat_activity WHERE application_name = $1) AS peers, pg_sleep(0.1)';

interface PidAndPeers {
  pid: number;
  peers: number;
}

/** Holds `count` sessions at once (each reports its pid), then releases them all. */
async function holdSessions(pool: DriverPool, count: number): Promise<number[]> {
  const release = gate();
  const pids: number[] = [];
  const held = Array.from({ length: count }, () =>
    pool.withSession(async (session) => {
      pids.push((await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
      if (pids.length === count) release.open();
      await release.promise;
    }),
  );
  await Promise.all(held);
  return pids;
}

describe('postgres pool: max_open_connections', () => {
  it('never opens more sessions than max_open, with 3x as many concurrent queries', async () => {
    const { pool, appName } = await openTestPool({ config: { max_open_connections: 3 } });
    const results = await Promise.all(Array.from({ length: 9 }, () => pool.query<PidAndPeers>(PID_AND_PEERS, [appName])));
    const rows = results.map((result) => result.rows[0]!);
    expect(new Set(rows.map((row) => row.pid)).size).toBe(3);
    expect(Math.max(...rows.map((row) => row.peers))).toBe(3);
  });

  it('holds on the native pool too: pool.query and Kysely over pool.connect', async () => {
    const { native, appName } = await openTestPool({ config: { max_open_connections: 2 } });
    expect(native).toBeInstanceOf(pg.Pool);
    const direct = await Promise.all(Array.from({ length: 6 }, () => native.query<PidAndPeers>(PID_AND_PEERS, [appName])));
    expect(new Set(direct.map((result) => result.rows[0]!.pid)).size).toBe(2);
    expect(Math.max(...direct.map((result) => result.rows[0]!.peers))).toBe(2);

    const db = new Kysely<Record<string, never>>({ dialect: new PostgresDialect({ pool: native }) });
    const viaKysely = await Promise.all(
      Array.from({ length: 6 }, () => sql<PidAndPeers>`SELECT pg_backend_pid() AS pid, (SELECT count(*)::int FROM pg_stat_activity WHERE application_name = ${appName}) AS peers, pg_sleep(0.1)`.execute(db)),
    );
    expect(new Set(viaKysely.map((result) => result.rows[0]!.pid)).size).toBeLessThanOrEqual(2);
    expect(Math.max(...viaKysely.map((result) => result.rows[0]!.peers))).toBe(2);
  });
});

describe('postgres pool: max_idle_connections', () => {
  it('closes idle sessions beyond max_idle after a burst', async () => {
    const { pool, appName } = await openTestPool({ config: { max_open_connections: 4, max_idle_connections: 1 } });
    const pids = await holdSessions(pool, 4);
    expect(new Set(pids).size).toBe(4);
    await waitFor(async () => (await backendPids(appName)).length === 1, 5_000, 'idle sessions trimmed to 1');
    expect(pool.stats()).toMatchObject({ idle: 1, total: 1, maxIdle: 1, maxOpen: 4 });
  });

  it('applies to clients an ORM takes with pool.connect() and releases itself', async () => {
    const { native, appName } = await openTestPool({ config: { max_open_connections: 3, max_idle_connections: 1 } });
    const clients = await Promise.all([native.connect(), native.connect(), native.connect()]);
    expect((await backendPids(appName)).length).toBe(3);
    for (const client of clients) client.release();
    await waitFor(async () => (await backendPids(appName)).length === 1, 5_000, 'idle sessions trimmed to 1');
  });
});

describe('postgres pool: connection_max_lifetime (injected clock)', () => {
  const lifetime = 10_000;

  it('reuses a session younger than the lifetime and replaces one found expired in the idle list', async () => {
    const clock = fakeClock();
    const { pool } = await openTestPool({ clock, config: { max_open_connections: 1, connection_max_lifetime: lifetime } });
    const pid = async () => (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const first = await pid();
    clock.advance(lifetime - 1);
    expect(await pid()).toBe(first);
    // beyond lifetime + the largest jitter (10%): expired whatever its jitter
    clock.advance(lifetime * 0.1 + 2);
    const second = await pid();
    expect(second).not.toBe(first);
    await waitFor(async () => !(await backendExists(first)), 5_000, 'expired session closed');
  });

  it('closes an expired session when it is released instead of keeping it idle', async () => {
    const clock = fakeClock();
    const { pool, appName } = await openTestPool({ clock, config: { connection_max_lifetime: lifetime } });
    await pool.withSession(async (session) => {
      await session.query('SELECT 1');
      clock.advance(lifetime * 1.1 + 1);
    });
    await waitFor(async () => (await backendPids(appName)).length === 0, 5_000, 'session closed on release');
  });

  it('does the same for a client released by an ORM', async () => {
    const clock = fakeClock();
    const { native, appName } = await openTestPool({ clock, config: { connection_max_lifetime: lifetime } });
    const client = await native.connect();
    clock.advance(lifetime * 1.1 + 1);
    client.release();
    await waitFor(async () => (await backendPids(appName)).length === 0, 5_000, 'session closed on release');
  });
});

describe('postgres pool: connection_max_idle_time', () => {
  it('closes sessions idle for longer than the limit', async () => {
    const { pool, appName } = await openTestPool({ config: { max_open_connections: 2, connection_max_idle_time: 300 } });
    await holdSessions(pool, 2);
    await waitFor(async () => (await backendPids(appName)).length === 0, 5_000, 'idle sessions closed');
  });
});

describe('postgres pool: connection_timeout while the pool is full', () => {
  it('rejects a waiter with POOL_TIMEOUT and leaves no waiter behind', async () => {
    const { pool, native } = await openTestPool({ config: { max_open_connections: 1, connection_timeout: 300 } });
    const release = gate();
    const entered = gate();
    const holder = pool.withSession(async () => {
      entered.open();
      await release.promise;
    });
    await entered.promise;
    const started = performance.now();
    const error = await rejectionOf(pool.query('SELECT 1'));
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ code: 'POOL_TIMEOUT', retryable: true, connection: 'pgtest' });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(3_000);
    expect(await rejectionOf(native.connect())).toBeInstanceOf(Error);
    expect(pool.stats().waiting).toBe(0);
    release.open();
    await holder;
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});

describe('postgres pool: query_timeout', () => {
  it('rejects with QUERY_TIMEOUT and destroys the session (the server stops the query)', async () => {
    const { pool } = await openTestPool({ config: { max_open_connections: 1, query_timeout: 300 } });
    const pid = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const error = await rejectionOf(pool.query('SELECT pg_sleep(30)'));
    expect(error).toMatchObject({ code: 'QUERY_TIMEOUT', retryable: false, connection: 'pgtest' });
    // the sleep would last 30s: the backend ends this soon only if it was cancelled and closed
    await waitFor(async () => !(await backendExists(pid)), 5_000, 'timed-out backend gone');
    expect((await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid).not.toBe(pid);
  });

  it('fails the rest of a session fast after a timeout, then destroys it', async () => {
    const { pool } = await openTestPool({ config: { query_timeout: 300 } });
    let pid = 0;
    const outcome = await pool.withSession(async (session) => {
      pid = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const timeout = await rejectionOf(session.query('SELECT pg_sleep(30)'));
      const started = performance.now();
      const next = await rejectionOf(session.query('SELECT 1'));
      return { timeout: timeout.code, next: next.code, nextMs: performance.now() - started };
    });
    expect(outcome).toMatchObject({ timeout: 'QUERY_TIMEOUT', next: 'CONNECTION_LOST' });
    expect(outcome.nextMs).toBeLessThan(250);
    await waitFor(async () => !(await backendExists(pid)), 5_000, 'timed-out backend gone');
  });

  it('destroys a timed-out client an ORM releases normally', async () => {
    const { native } = await openTestPool({ config: { query_timeout: 300 } });
    const client = await native.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const error = await rejectionOf(client.query('SELECT pg_sleep(30)'));
    expect(error.message).toBe('Query read timeout');
    client.release();
    await waitFor(async () => !(await backendExists(pid)), 5_000, 'timed-out backend gone');
  });
});

describe('postgres pool: ping, stats, close', () => {
  it('ping runs the health query on a session', async () => {
    const { pool, appName } = await openTestPool();
    await pool.ping();
    expect((await backendPids(appName)).length).toBe(1);
  });

  it('stats reports sessions in use and idle', async () => {
    const { pool } = await openTestPool({ config: { max_open_connections: 5, max_idle_connections: 4 } });
    const release = gate();
    const entered = gate();
    const holder = pool.withSession(async () => {
      entered.open();
      await release.promise;
    });
    await entered.promise;
    expect(pool.stats()).toEqual({ total: 1, idle: 0, inUse: 1, waiting: 0, maxOpen: 5, maxIdle: 4 });
    release.open();
    await holder;
    expect(pool.stats()).toEqual({ total: 1, idle: 1, inUse: 0, waiting: 0, maxOpen: 5, maxIdle: 4 });
  });

  it('close waits for sessions in use, closes everything, and is idempotent', async () => {
    const { pool, appName } = await openTestPool();
    await pool.query('SELECT 1');
    const release = gate();
    const entered = gate();
    let lastQuery = '';
    const holder = pool.withSession(async (session) => {
      entered.open();
      await release.promise;
      lastQuery = (await session.query<{ ok: string }>("SELECT 'still open' AS ok")).rows[0]!.ok;
    });
    await entered.promise;
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    expect(pool.close()).toBe(pool.close());
    // a round trip on another connection gives close() every chance to finish early
    await backendPids(appName);
    expect(closed).toBe(false);
    release.open();
    await holder;
    await closing;
    expect(lastQuery).toBe('still open');
    expect(await backendPids(appName)).toEqual([]);
    expect(await rejectionOf(pool.query('SELECT 1'))).toMatchObject({ code: 'DATABASE_CLOSED' });
  });

  it('an ORM ending the native pool twice does not throw', async () => {
    const { native, pool } = await openTestPool();
    await native.end();
    await native.end();
    await pool.close();
  });
});
