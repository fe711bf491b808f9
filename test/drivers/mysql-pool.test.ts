import net from 'node:net';
import { Kysely, MysqlDialect, sql } from 'kysely';
import type { Pool, PoolConnection } from 'mysql2';
import type mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';
import { mysqlThreads } from '../support/mysql-threads.js';
import {
  adminConnection,
  closeAllPools,
  connectionId,
  createUser,
  deferred,
  dropUser,
  fakeClock,
  openPool,
  sessionCount,
  sessionExists,
  sessionIds,
} from '../support/drivers/mysql.js';

let admin: mysql.Connection;
const users: string[] = [];

/** Each test gets its own database user, so counting its sessions never sees another test's. */
async function freshUser(): Promise<string> {
  const user = await createUser(admin, 'dbm_myp');
  users.push(user);
  return user;
}

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

/** Runs `work` while sampling the server-side session count of `user`; returns the highest count seen. */
async function peakSessions(user: string, work: Promise<unknown>): Promise<number> {
  let done = false;
  let peak = 0;
  const finished = work.finally(() => (done = true));
  while (!done) {
    peak = Math.max(peak, await sessionCount(admin, user));
  }
  await finished;
  return peak;
}

function nativeOf(pool: { native: unknown }): Pool {
  return pool.native as Pool;
}

function getConnection(native: Pool): Promise<PoolConnection> {
  return new Promise((resolve, reject) => native.getConnection((error, connection) => (error ? reject(error) : resolve(connection))));
}

function threadIdOf(connection: PoolConnection): Promise<number> {
  return new Promise((resolve, reject) =>
    connection.query('SELECT CONNECTION_ID() AS id', (error, rows) => (error ? reject(error) : resolve(Number((rows as Array<{ id: number }>)[0]?.id)))),
  );
}

/** Holds `count` sessions at once inside withSession until `release` is called; resolves their server ids. */
async function holdSessions(pool: Awaited<ReturnType<typeof openPool>>, count: number) {
  const hold = deferred();
  const ids: number[] = [];
  const entered: Array<Promise<void>> = [];
  const done = Array.from({ length: count }, () => {
    const inside = deferred();
    entered.push(inside.promise);
    return pool.withSession(async (session) => {
      ids.push(Number((await session.query<{ id: number }>('SELECT CONNECTION_ID() AS id')).rows[0]?.id));
      inside.resolve();
      await hold.promise;
    });
  });
  await Promise.all(entered);
  return {
    ids,
    release: async () => {
      hold.resolve();
      await Promise.all(done);
    },
  };
}

describe('max_open_connections', () => {
  it('never opens more server sessions than the limit, with 3x as many concurrent queries', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 3 }, { dsn: { user } });
    const work = Promise.all(Array.from({ length: 9 }, () => pool.query<{ id: number }>('SELECT SLEEP(0.2), CONNECTION_ID() AS id')));
    const peak = await peakSessions(user, work);
    const results = await work;
    expect(peak).toBe(3);
    expect(new Set(results.map((r) => Number(r.rows[0]?.id))).size).toBe(3);
  });

  it('holds on the native pool too (pool.promise().query and getConnection)', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 2 }, { dsn: { user } });
    const native = nativeOf(pool).promise();
    const work = Promise.all(Array.from({ length: 6 }, () => native.query('SELECT SLEEP(0.15)')));
    expect(await peakSessions(user, work)).toBe(2);
  });

  it('holds for Kysely given the native pool', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 2 }, { dsn: { user } });
    const db = new Kysely<Record<string, never>>({ dialect: new MysqlDialect({ pool: nativeOf(pool) as never }) });
    const work = Promise.all(Array.from({ length: 6 }, () => sql<{ id: number }>`SELECT SLEEP(0.15), CONNECTION_ID() AS id`.execute(db)));
    expect(await peakSessions(user, work)).toBe(2);
    expect(new Set((await work).map((r) => Number(r.rows[0]?.id))).size).toBe(2);
  });
});

describe('max_idle_connections and connection_max_idle_time', () => {
  it('closes idle sessions beyond max_idle after a burst', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 5, max_idle_connections: 2 }, { dsn: { user } });
    const held = await holdSessions(pool, 5);
    expect(await sessionCount(admin, user)).toBe(5);
    await held.release();
    await waitFor(async () => (await sessionCount(admin, user)) <= 2, 5_000, 'idle sessions trimmed to max_idle');
    expect(await sessionCount(admin, user)).toBe(2);
  });

  it('closes sessions idle for longer than connection_max_idle_time', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 3, connection_max_idle_time: 300 }, { dsn: { user } });
    const held = await holdSessions(pool, 3);
    await held.release();
    expect(await sessionCount(admin, user)).toBe(3);
    await waitFor(async () => (await sessionCount(admin, user)) === 0, 5_000, 'idle sessions closed');
  });
});

describe('connection_max_lifetime', () => {
  it('replaces a session found expired in the idle list, judged by the injected clock', async () => {
    const user = await freshUser();
    const clock = fakeClock();
    const pool = await openPool({ max_open_connections: 1, connection_max_lifetime: 10_000 }, { dsn: { user }, clock });
    const first = await connectionId(pool);
    clock.advance(9_999); // below the lifetime: jitter only ever adds
    expect(await connectionId(pool)).toBe(first);
    clock.advance(1_001); // 11 000 ms: past lifetime + the 10% jitter maximum
    const second = await connectionId(pool);
    expect(second).not.toBe(first);
    await waitFor(async () => !(await sessionExists(admin, first)), 5_000, 'expired session closed on the server');
    expect(await sessionIds(admin, user)).toEqual([second]);
  });

  it('closes an expired session when it is released, also through the native getConnection/release', async () => {
    const user = await freshUser();
    const clock = fakeClock();
    const pool = await openPool({ max_open_connections: 2, connection_max_lifetime: 1_000 }, { dsn: { user }, clock });
    const native = nativeOf(pool);
    const connection = await getConnection(native);
    const id = await threadIdOf(connection);
    clock.advance(1_100);
    connection.release();
    await waitFor(async () => !(await sessionExists(admin, id)), 5_000, 'released expired session closed');
    expect(await sessionCount(admin, user)).toBe(0);
  });

  it('gives each session its own jittered lifetime between 100% and 110%', async () => {
    const user = await freshUser();
    const clock = fakeClock();
    const pool = await openPool({ max_open_connections: 8, connection_max_lifetime: 100_000 }, { dsn: { user }, clock });
    const held = await holdSessions(pool, 8);
    await held.release();
    clock.advance(99_999);
    // Every idle session is still young: eight checkouts in a row reuse them all.
    const reused = await holdSessions(pool, 8);
    await reused.release();
    expect(new Set(reused.ids)).toEqual(new Set(held.ids));
    clock.advance(10_002);
    const renewed = await holdSessions(pool, 8);
    await renewed.release();
    expect(renewed.ids.filter((id) => held.ids.includes(id))).toEqual([]);
  });
});

describe('connection_timeout', () => {
  it('rejects a caller waiting on a full pool with POOL_TIMEOUT and leaves no waiter behind', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 1, connection_timeout: 300 }, { dsn: { user } });
    const held = await holdSessions(pool, 1);
    const started = Date.now();
    const error = await pool.query('SELECT 1').catch((caught: unknown) => caught);
    const waited = Date.now() - started;
    expect(error).toBeInstanceOf(DbModuleError);
    expect(error).toMatchObject({ code: 'POOL_TIMEOUT', retryable: true, connection: 'writer' });
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(3_000);
    await held.release();
    // Had the timed-out waiter stayed queued, the released session would have gone to it and not back to the idle list.
    expect(pool.stats()).toMatchObject({ idle: 1, inUse: 0, waiting: 0 });
    expect(await connectionId(pool)).toBe(held.ids[0]);
  });

  it('applies the acquire timeout to native getConnection callers', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 1, connection_timeout: 200 }, { dsn: { user } });
    const native = nativeOf(pool);
    const holder = await getConnection(native);
    const error = await getConnection(native).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'POOL_TIMEOUT' });
    holder.release();
    const again = await getConnection(native);
    expect(await threadIdOf(again)).toBe(await threadIdOf(holder));
    again.release();
  });

  it('bounds connecting to a server that accepts and never answers, with CONNECT_TIMEOUT', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const pool = await openPool({ connection_timeout: 300 }, { dsn: { port } });
      const started = Date.now();
      const error = await pool.ping().catch((caught: unknown) => caught);
      const waited = Date.now() - started;
      expect(error).toMatchObject({ code: 'CONNECT_TIMEOUT', retryable: true });
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(3_000);
      await waitFor(() => sockets.size === 0, 5_000, 'client socket closed');
      expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('query_timeout', () => {
  it('rejects with QUERY_TIMEOUT and destroys the session, on the client and the server', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 2, query_timeout: 300 }, { dsn: { user } });
    let id = 0;
    const started = Date.now();
    const error = await pool
      .withSession(async (session) => {
        id = Number((await session.query<{ id: number }>('SELECT CONNECTION_ID() AS id')).rows[0]?.id);
        await session.query('SELECT SLEEP(20)');
      })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'QUERY_TIMEOUT', connection: 'writer' });
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor(async () => !(await sessionExists(admin, id)), 2_500, 'timed-out session gone from the server (killed, not left running)');
    expect(await connectionId(pool)).not.toBe(id);
  });

  it('applies to pool.query as well', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 1, query_timeout: 200 }, { dsn: { user } });
    const before = await connectionId(pool);
    await expect(pool.query('SELECT SLEEP(20)')).rejects.toMatchObject({ code: 'QUERY_TIMEOUT' });
    await waitFor(async () => !(await sessionExists(admin, before)), 2_500, 'timed-out session gone from the server (killed, not left running)');
    const fast = await pool.query<{ n: number }>('SELECT 5 AS n');
    expect(fast.rows[0]?.n).toBe(5);
  });
});

describe('sessions that die', () => {
  it('evicts an idle session the server killed, logs a warning, and keeps the process alive', async () => {
    const user = await freshUser();
    const { logger, entries } = captureLogger();
    const pool = await openPool({ max_open_connections: 1 }, { dsn: { user }, logger });
    const id = await connectionId(pool);
    await admin.query(`KILL ${id}`);
    await waitFor(() => entries.some((entry) => entry.level === 'warn' && entry.fields?.threadId === id), 5_000, 'idle session error logged');
    const next = await connectionId(pool);
    expect(next).not.toBe(id);
    expect(JSON.stringify(entries)).not.toMatch(/password/i);
  });

  it('reports CONNECTION_LOST when the session is killed mid-query', async () => {
    const user = await freshUser();
    const pool = await openPool({ max_open_connections: 1 }, { dsn: { user } });
    const id = await connectionId(pool);
    const running = pool.query('SELECT SLEEP(20)').catch((caught: unknown) => caught);
    await waitFor(async () => {
      return (await mysqlThreads(admin)).find((thread) => thread.id === id)?.state === 'User sleep';
    }, 5_000, 'query running');
    await admin.query(`KILL CONNECTION ${id}`);
    const error = await running;
    expect(error).toMatchObject({ code: 'CONNECTION_LOST', retryable: false });
    expect(await connectionId(pool)).not.toBe(id);
  });
});
