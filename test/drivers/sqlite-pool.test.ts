import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import { sqliteDialect } from '../../src/drivers/sqlite/index.js';
import type { DriverSession } from '../../src/drivers/types.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';
import { cleanUp, fakeClock, gate, handleId, openPool, poolHandleId, tempDir } from '../support/drivers/sqlite.js';
import { rejectionOf } from '../support/rejection.js';

afterEach(cleanUp);

async function transaction(session: DriverSession, work: () => Promise<void>): Promise<void> {
  for (const sql of sqliteDialect.begin()) await session.query(sql);
  await work();
  await session.query('COMMIT');
}

describe('sqlite pool: max_open_connections', () => {
  it('never opens more handles than max_open, with 3x as many concurrent queries', async () => {
    const { pool, watch } = await openPool({ config: { max_open_connections: 3, max_idle_connections: 3 } });
    await pool.query('CREATE TABLE hits (n INTEGER)');
    await Promise.all(Array.from({ length: 9 }, (_, n) => pool.query('INSERT INTO hits VALUES (?)', [n])));
    expect((await pool.query('SELECT count(*) AS n FROM hits')).rows).toEqual([{ n: 9 }]);
    // handles requested by the burst may still be opening: let them land before counting
    await waitFor(() => watch.handles.length === pool.stats().total, 2_000, 'pending opens finished');
    expect(watch.peak).toBe(3);
    expect(watch.handles.length).toBe(3);
  });

  it('holds at most max_open handles when 3x as many callers run write transactions at once', async () => {
    const { pool, watch } = await openPool({ config: { max_open_connections: 3, max_idle_connections: 3 } });
    await pool.query('CREATE TABLE ledger (caller INTEGER, step INTEGER)');
    let holding = 0;
    let peakHolding = 0;
    const handleIds = new Set<string>();
    await Promise.all(
      Array.from({ length: 9 }, (_, caller) =>
        pool.withSession(async (session) => {
          holding++;
          peakHolding = Math.max(peakHolding, holding);
          handleIds.add(await handleId(session));
          await transaction(session, async () => {
            await session.query('INSERT INTO ledger VALUES (?, 1)', [caller]);
            await nextTurn(); // let the other callers run while this one holds the write lock
            await session.query('INSERT INTO ledger VALUES (?, 2)', [caller]);
          });
          holding--;
        }),
      ),
    );
    expect(peakHolding).toBe(3);
    expect(handleIds.size).toBe(3);
    expect(watch.peak).toBe(3);
    expect((await pool.query('SELECT count(*) AS n, count(DISTINCT caller) AS callers FROM ledger')).rows).toEqual([{ n: 18, callers: 9 }]);
  });
});

describe('sqlite pool: waiting for a lock', () => {
  it('waits for another handle\'s write lock without blocking the event loop', async () => {
    const { pool, file } = await openPool({ config: { max_open_connections: 2 } });
    await pool.query('CREATE TABLE w (n INTEGER)');
    const { pool: other } = await openPool({ path: file });
    const locked = gate();
    const holder = pool.withSession((session) =>
      transaction(session, async () => {
        await session.query('INSERT INTO w VALUES (1)');
        await locked.promise;
      }),
    );
    await waitFor(() => pool.stats().inUse === 1, 2_000, 'holder in transaction');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const blocked = other.query('INSERT INTO w VALUES (2)');
    // the event loop keeps turning while `blocked` waits: timers fire and the holder can commit
    await waitFor(() => ticks >= 5, 2_000, 'timers firing during the wait');
    locked.open();
    await holder;
    expect((await blocked).rowCount).toBe(1);
    clearInterval(ticker);
    expect((await pool.query('SELECT n FROM w ORDER BY n')).rows).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('gives up after _busy_timeout with a retryable SQLITE_BUSY, or after query_timeout with QUERY_TIMEOUT', async () => {
    const { pool, file } = await openPool();
    await pool.query('CREATE TABLE w (n INTEGER)');
    const { pool: impatient } = await openPool({ path: file, params: { _busy_timeout: '150' } });
    const { pool: timed } = await openPool({ path: file, config: { query_timeout: 150 } });
    const locked = gate();
    const holder = pool.withSession((session) => transaction(session, () => locked.promise));
    await waitFor(() => pool.stats().inUse === 1, 2_000, 'holder in transaction');
    let started = Date.now();
    const busy = await rejectionOf(impatient.query('INSERT INTO w VALUES (1)'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(busy).toMatchObject({ code: 'QUERY_FAILED', driverCode: 'SQLITE_BUSY', retryable: true });
    started = Date.now();
    const timeout = await rejectionOf(timed.query('INSERT INTO w VALUES (1)'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(timeout).toMatchObject({ code: 'QUERY_TIMEOUT', driverCode: 'SQLITE_BUSY', retryable: true, connection: 'lite' });
    locked.open();
    await holder;
    expect((await pool.query('SELECT count(*) AS n FROM w')).rows).toEqual([{ n: 0 }]);
  });
});

describe('sqlite pool: max_idle_connections', () => {
  it('closes idle handles beyond max_idle after a burst', async () => {
    const { pool, watch } = await openPool({ config: { max_open_connections: 4, max_idle_connections: 1 } });
    const release = gate();
    let held = 0;
    const burst = Array.from({ length: 4 }, () =>
      pool.withSession(async () => {
        held++;
        await release.promise;
      }),
    );
    await waitFor(() => held === 4, 2_000, 'four sessions held');
    expect(watch.open()).toBe(4);
    release.open();
    await Promise.all(burst);
    expect(watch.open()).toBe(1);
    expect(pool.stats()).toMatchObject({ total: 1, idle: 1, inUse: 0 });
  });
});

describe('sqlite pool: connection_max_lifetime', () => {
  it('replaces a handle past its lifetime (plus at most 10% jitter), judged by the injected clock', async () => {
    const clock = fakeClock();
    const { pool, watch } = await openPool({ clock, config: { max_open_connections: 1, connection_max_lifetime: 1_000 } });
    const first = await poolHandleId(pool);
    clock.advance(999);
    expect(await poolHandleId(pool)).toBe(first);
    clock.advance(101); // 1100ms: past lifetime + the largest jitter
    const second = await poolHandleId(pool);
    expect(second).not.toBe(first);
    expect(watch.handles.map((db) => db.open)).toEqual([false, true]);
  });

  it('closes an expired handle when it is released instead of keeping it idle', async () => {
    const clock = fakeClock();
    const { pool, watch } = await openPool({ clock, config: { connection_max_lifetime: 1_000 } });
    await pool.withSession(async (session) => {
      await session.query('SELECT 1');
      expect(watch.open()).toBe(1);
      clock.advance(1_100);
    });
    expect(watch.open()).toBe(0);
    expect(pool.stats().total).toBe(0);
  });

  it('keeps handles within their lifetime (the jitter only ever extends it)', async () => {
    const clock = fakeClock();
    const { pool } = await openPool({ clock, config: { max_open_connections: 1, connection_max_lifetime: 1_000 } });
    const first = await poolHandleId(pool);
    clock.advance(1_000); // exactly the lifetime: the jitter (drawn once, >= 0) keeps it a little longer
    expect(await poolHandleId(pool)).toBe(first);
  });
});

describe('sqlite pool: connection_max_idle_time', () => {
  it('closes handles that stayed idle longer than the idle time', async () => {
    const { pool, watch } = await openPool({ config: { max_open_connections: 3, connection_max_idle_time: 300 } });
    const release = gate();
    let held = 0;
    const burst = Array.from({ length: 3 }, () =>
      pool.withSession(async () => {
        held++;
        await release.promise;
      }),
    );
    await waitFor(() => held === 3, 2_000, 'three sessions held');
    release.open();
    await Promise.all(burst);
    const idleSince = Date.now();
    expect(watch.open()).toBe(3);
    await waitFor(() => watch.open() === 0, 5_000, 'idle handles closed');
    expect(Date.now() - idleSince).toBeGreaterThanOrEqual(290);
    expect(pool.stats().total).toBe(0);
    // the pool opens a new handle on demand afterwards
    expect((await pool.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
  });
});

describe('sqlite pool: connection_timeout and query_timeout', () => {
  it('rejects with POOL_TIMEOUT when no handle frees up within connection_timeout, leaving no waiter', async () => {
    const { pool } = await openPool({ config: { max_open_connections: 1, connection_timeout: 200 } });
    const release = gate();
    const holder = pool.withSession(() => release.promise);
    await waitFor(() => pool.stats().inUse === 1, 2_000, 'holder');
    const started = Date.now();
    const error = await rejectionOf(pool.query('SELECT 1'));
    const waited = Date.now() - started;
    expect(error).toMatchObject({ code: 'POOL_TIMEOUT', retryable: true, connection: 'lite' });
    expect(error.message).toContain('200ms');
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(2_000);
    expect(pool.stats().waiting).toBe(0);
    release.open();
    await holder;
    expect((await pool.query('SELECT 3 AS n')).rows).toEqual([{ n: 3 }]);
  });

  it('bounds opening a handle by connection_timeout (CONNECT_TIMEOUT) when another connection locks the file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'locked.db');
    const locker = new BetterSqlite3(file);
    locker.exec('CREATE TABLE t (n INTEGER)');
    locker.exec('BEGIN EXCLUSIVE'); // rollback-journal mode: nobody may even read, or switch to WAL
    try {
      const { pool } = await openPool({ path: file, config: { connection_timeout: 200 } });
      const started = Date.now();
      const error = await rejectionOf(pool.ping());
      const waited = Date.now() - started;
      expect(error).toMatchObject({ code: 'CONNECT_TIMEOUT', retryable: true, connection: 'lite' });
      expect(waited).toBeGreaterThanOrEqual(190);
      expect(waited).toBeLessThan(2_000);
      expect(pool.stats().waiting).toBe(0);
      locker.exec('COMMIT');
      // the timed-out open may still be finishing its last attempt: let it settle first
      await waitFor(() => pool.stats().total === pool.stats().idle, 2_000, 'pending open settled');
      await pool.ping();
      expect((await pool.query('PRAGMA journal_mode')).rows).toEqual([{ journal_mode: 'wal' }]);
    } finally {
      locker.close();
    }
  });

  it('bounds the wait for a handle by a shorter query_timeout (QUERY_TIMEOUT) and loses no handle', async () => {
    const { pool, watch } = await openPool({ config: { max_open_connections: 1, query_timeout: 150 } });
    const release = gate();
    const holder = pool.withSession(() => release.promise);
    await waitFor(() => pool.stats().inUse === 1, 2_000, 'holder');
    const started = Date.now();
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(error).toMatchObject({ code: 'QUERY_TIMEOUT', retryable: true });
    expect(pool.stats().waiting).toBe(0);
    release.open();
    await holder;
    expect((await pool.query('SELECT 4 AS n')).rows).toEqual([{ n: 4 }]);
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1, waiting: 0 });
    expect(watch.handles.length).toBe(1);
  });

  it('logs at warn when a statement overran query_timeout (SQLite cannot interrupt it)', async () => {
    const { logger, entries } = captureLogger();
    const { pool, native } = await openPool({ logger, config: { query_timeout: 1 } });
    // open the handle beforehand (opening takes longer than 1ms); taking an idle one takes no timer turn
    native.release(await native.acquire().promise);
    // a recursive CTE that takes well over 1ms of CPU
    const { rows } = await pool.query(
      'WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300000) SELECT count(*) AS n FROM c',
    );
    expect(rows).toEqual([{ n: 300_000 }]);
    expect(entries.some((entry) => entry.level === 'warn' && entry.message.includes('query_timeout'))).toBe(true);
  });
});

describe('sqlite pool: withSession', () => {
  it('reuses the handle after an ordinary error, and destroys it after a broken-session error', async () => {
    const { pool, watch } = await openPool({ config: { max_open_connections: 1 } });
    let id = '';
    await expect(
      pool.withSession(async (session) => {
        id = await handleId(session);
        throw new Error('application error');
      }),
    ).rejects.toThrow('application error');
    expect(await poolHandleId(pool)).toBe(id);
    await expect(
      pool.withSession(async () => {
        throw new DbModuleError('CONNECTION_LOST', 'lost');
      }),
    ).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    expect(watch.handles[0]?.open).toBe(false);
    expect(await poolHandleId(pool)).not.toBe(id);
  });

  it('rolls back a transaction left open when the session ends, and warns', async () => {
    const { logger, entries } = captureLogger();
    const { pool } = await openPool({ logger, config: { max_open_connections: 1 } });
    await pool.query('CREATE TABLE pending (n INTEGER)');
    const id = await pool.withSession(async (session) => {
      const marker = await handleId(session); // before BEGIN: the rollback would drop its TEMP table
      await session.query('BEGIN IMMEDIATE');
      await session.query('INSERT INTO pending VALUES (1)');
      return marker;
    });
    expect((await pool.query('SELECT count(*) AS n FROM pending')).rows).toEqual([{ n: 0 }]);
    expect(await poolHandleId(pool)).toBe(id);
    expect(entries.some((entry) => entry.level === 'warn' && entry.message.includes('rolling it back'))).toBe(true);
  });

  it('refuses a session used after withSession returned', async () => {
    const { pool } = await openPool();
    let leaked: DriverSession | undefined;
    await pool.withSession(async (session) => {
      leaked = session;
    });
    await expect(leaked?.query('SELECT 1')).rejects.toMatchObject({ code: 'QUERY_FAILED' });
  });
});

describe('sqlite pool: stats and close', () => {
  it('reports total, idle, in use and waiting', async () => {
    const { pool } = await openPool({ config: { max_open_connections: 2, max_idle_connections: 1 } });
    expect(pool.stats()).toEqual({ total: 0, idle: 0, inUse: 0, waiting: 0, maxOpen: 2, maxIdle: 1 });
    const release = gate();
    const holders = [pool.withSession(() => release.promise), pool.withSession(() => release.promise)];
    await waitFor(() => pool.stats().inUse === 2, 2_000, 'two held');
    const waiter = pool.query('SELECT 1');
    expect(pool.stats()).toEqual({ total: 2, idle: 0, inUse: 2, waiting: 1, maxOpen: 2, maxIdle: 1 });
    release.open();
    await Promise.all([...holders, waiter]);
    expect(pool.stats()).toEqual({ total: 1, idle: 1, inUse: 0, waiting: 0, maxOpen: 2, maxIdle: 1 });
  });

  it('close waits for sessions in use, fails waiters and new callers, closes every handle, same promise twice', async () => {
    const { pool, watch } = await openPool({ config: { max_open_connections: 2 } });
    const release = gate();
    const holders = [pool.withSession(() => release.promise), pool.withSession(() => release.promise)];
    await waitFor(() => pool.stats().inUse === 2, 2_000, 'holders');
    const queued = rejectionOf(pool.query('SELECT 1'));
    expect(pool.stats().waiting).toBe(1);
    let closed = false;
    const closing = pool.close();
    void closing.then(() => (closed = true));
    expect(pool.close()).toBe(closing);
    for (let turn = 0; turn < 20; turn++) await nextTurn();
    expect(closed).toBe(false);
    expect(watch.open()).toBe(2);
    expect(await rejectionOf(pool.query('SELECT 1'))).toMatchObject({ code: 'DATABASE_CLOSED' });
    release.open();
    await Promise.all(holders);
    await closing;
    expect(await queued).toMatchObject({ code: 'DATABASE_CLOSED', connection: 'lite' });
    expect(watch.open()).toBe(0);
    expect(watch.handles.length).toBe(2);
  });
});
