import { Kysely, SqliteDialect, sql } from 'kysely';
import { TimeoutError } from 'tarn';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, fakeClock, openPool } from '../support/drivers/sqlite.js';
import { rejectionOf } from '../support/rejection.js';

afterEach(cleanUp);

describe('sqlite native pool (what connection.pool is)', () => {
  it('enforces max_open and connection_timeout on direct acquire/release', async () => {
    const { native, watch } = await openPool({ config: { max_open_connections: 2, connection_timeout: 200 } });
    const first = await native.acquire().promise;
    const second = await native.acquire().promise;
    expect(first).not.toBe(second);
    const started = Date.now();
    expect(await rejectionOf(native.acquire().promise)).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(watch.peak).toBe(2);
    const third = native.acquire().promise;
    expect(native.release(first)).toBe(true);
    expect(await third).toBe(first);
    native.release(first);
    native.release(second);
  });

  it('applies max_idle and the lifetime when a handle is released directly', async () => {
    const clock = fakeClock();
    const { native, watch } = await openPool({ clock, config: { max_open_connections: 2, max_idle_connections: 1, connection_max_lifetime: 1_000 } });
    const [a, b] = await Promise.all([native.acquire().promise, native.acquire().promise]);
    native.release(a);
    native.release(b); // one idle handle is the limit: the oldest idle one is closed
    expect(watch.open()).toBe(1);
    const c = await native.acquire().promise;
    clock.advance(1_100);
    native.release(c);
    expect(c.open).toBe(false);
    expect(watch.open()).toBe(0);
  });

  it('treats close() on a lent handle as giving it back, so an ORM that closes it does not strand the pool', async () => {
    const { pool, native } = await openPool({ config: { max_open_connections: 1 } });
    const db = await native.acquire().promise;
    db.prepare('CREATE TABLE t (n INTEGER)').run();
    db.close();
    expect(db.open).toBe(true);
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1 });
    expect((await pool.query('SELECT count(*) AS n FROM t')).rows).toEqual([{ n: 0 }]);
  });

  it('serves Kysely through SqliteDialect, and kysely.destroy() returns the handle', async () => {
    const { pool, native } = await openPool({ config: { max_open_connections: 2 } });
    await pool.query('CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    interface Schema {
      person: { id: number; name: string };
    }
    const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: () => native.acquire().promise }) });
    await db.insertInto('person').values({ id: 1, name: 'Ada' }).execute();
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('person').values({ id: 2, name: 'Grace' }).execute();
    });
    expect(await db.selectFrom('person').select(['id', 'name']).orderBy('id').execute()).toEqual([
      { id: 1, name: 'Ada' },
      { id: 2, name: 'Grace' },
    ]);
    expect((await sql<{ n: number }>`SELECT count(*) AS n FROM person`.execute(db)).rows).toEqual([{ n: 2 }]);
    expect(pool.stats().inUse).toBe(1);
    await db.destroy();
    expect(pool.stats()).toMatchObject({ inUse: 0 });
    expect((await pool.query('SELECT name FROM person WHERE id = ?', [2])).rows).toEqual([{ name: 'Grace' }]);
    await pool.close();
  });
});
