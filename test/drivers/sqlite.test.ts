import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, DbModuleError, QueryError } from '../../src/errors.js';
import { createSqlitePool, loadBetterSqlite3, sqliteDialect, toSqliteError } from '../../src/drivers/sqlite/index.js';
import { StatementCache } from '../../src/drivers/sqlite/statement-cache.js';
import { captureLogger } from '../support/logger.js';
import { cleanUp, fakeClock, openPool, poolHandleId, sqliteConfig, sqliteDsn, tempDir } from '../support/drivers/sqlite.js';
import { testPlan } from '../support/plan.js';
import { rejectionOf } from '../support/rejection.js';

afterEach(cleanUp);

describe('sqlite driver: query', () => {
  it('returns rows for readers and rows changed for writers', async () => {
    const { pool } = await openPool();
    expect(await pool.query('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)')).toEqual({ rows: [], rowCount: 0 });
    expect((await pool.query('INSERT INTO items (id, label) VALUES (?, ?), (?, ?), (?, ?)', [1, 'a', 2, 'b', 3, 'c'])).rowCount).toBe(3);
    expect((await pool.query('UPDATE items SET label = ? WHERE id >= ?', ['z', 2])).rowCount).toBe(2);
    expect(await pool.query('SELECT id, label FROM items WHERE label = ? ORDER BY id', ['z'])).toEqual({
      rows: [
        { id: 2, label: 'z' },
        { id: 3, label: 'z' },
      ],
      rowCount: 2,
    });
    expect(await pool.query('DELETE FROM items WHERE id = ? RETURNING label', [1])).toEqual({ rows: [{ label: 'a' }], rowCount: 1 });
    expect((await pool.query('SELECT * FROM items WHERE id = ?', [99])).rowCount).toBe(0);
  });

  it('binds booleans as 1/0, dates as ISO-8601 text and undefined as NULL', async () => {
    const { pool } = await openPool();
    const when = new Date(Date.UTC(2024, 1, 29, 12, 30, 0));
    const { rows } = await pool.query('SELECT ? AS yes, ? AS no, ? AS at, ? AS absent, typeof(?) AS kind', [true, false, when, undefined, undefined]);
    expect(rows).toEqual([{ yes: 1, no: 0, at: '2024-02-29T12:30:00.000Z', absent: null, kind: 'null' }]);
  });

  it('runs a parameterless script of several statements and counts every row it changed', async () => {
    const { pool } = await openPool();
    const result = await pool.query(`
      CREATE TABLE script (n INTEGER);
      INSERT INTO script VALUES (1), (2), (3);
      DELETE FROM script WHERE n = 2;`);
    expect(result).toEqual({ rows: [], rowCount: 4 });
    expect((await pool.query('SELECT n FROM script ORDER BY n')).rows).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('maps a constraint violation to QUERY_FAILED with the extended SQLite code, never the values', async () => {
    const { pool } = await openPool();
    await pool.query('CREATE TABLE users (email TEXT UNIQUE)');
    await pool.query('INSERT INTO users VALUES (?)', ['leaky-value@example.com']);
    const error = await rejectionOf(pool.query('INSERT INTO users VALUES (?)', ['leaky-value@example.com']));
    expect(error).toBeInstanceOf(QueryError);
    expect(error).toMatchObject({ code: 'QUERY_FAILED', driverCode: 'SQLITE_CONSTRAINT_UNIQUE', connection: 'lite', retryable: false });
    expect(error.message).toBe('connection "lite": UNIQUE constraint failed: users.email');
    expect((error.cause as { code?: string }).code).toBe('SQLITE_CONSTRAINT_UNIQUE');
    // the handle stays usable after a statement error
    expect((await pool.query('SELECT count(*) AS n FROM users')).rows).toEqual([{ n: 1 }]);
  });

  it('maps syntax errors and binding errors to QUERY_FAILED', async () => {
    const { pool } = await openPool();
    expect(await rejectionOf(pool.query('SELEC 1'))).toMatchObject({ code: 'QUERY_FAILED', driverCode: 'SQLITE_ERROR' });
    const binding = await rejectionOf(pool.query('SELECT ?', [{ nested: 'object' }]));
    expect(binding).toMatchObject({ code: 'QUERY_FAILED', driverCode: undefined });
    expect(binding.message).toMatch(/^connection "lite": /);
  });

  it('ping runs the health query on a handle', async () => {
    const { pool, watch } = await openPool();
    await pool.ping();
    expect(watch.open()).toBe(1);
  });
});

describe('sqlite driver: statement cache', () => {
  it('reuses prepared statements and evicts the least recently used', () => {
    const db = new BetterSqlite3(':memory:');
    try {
      const cache = new StatementCache(db, 2);
      const a = cache.prepare('SELECT 1');
      const b = cache.prepare('SELECT 2');
      expect(cache.prepare('SELECT 1')).toBe(a); // a is now the most recent
      cache.prepare('SELECT 3'); // evicts b
      expect(cache.size).toBe(2);
      expect(cache.prepare('SELECT 1')).toBe(a);
      expect(cache.prepare('SELECT 2')).not.toBe(b);
    } finally {
      db.close();
    }
  });
});

describe('sqlite driver: dialect', () => {
  it('begins every isolation level with BEGIN IMMEDIATE (SQLite is always serializable)', () => {
    for (const level of ['read uncommitted', 'read committed', 'repeatable read', 'serializable'] as const) {
      expect(sqliteDialect.begin(level)).toEqual(['BEGIN IMMEDIATE']);
    }
    expect(sqliteDialect.begin()).toEqual(['BEGIN IMMEDIATE']);
    expect(() => sqliteDialect.begin('snapshot' as never)).toThrow(expect.objectContaining({ code: 'TRANSACTION_FAILED' }));
  });

  it('quotes savepoint names, and SQLite accepts the statements', async () => {
    expect(sqliteDialect.savepoint('sp "1"')).toBe('SAVEPOINT "sp ""1"""');
    const { pool } = await openPool();
    await pool.query('CREATE TABLE sp (n INTEGER)');
    const rows = await pool.withSession(async (session) => {
      for (const sql of sqliteDialect.begin('serializable')) await session.query(sql);
      await session.query('INSERT INTO sp VALUES (1)');
      await session.query(sqliteDialect.savepoint('sp "1"'));
      await session.query('INSERT INTO sp VALUES (2)');
      await session.query(sqliteDialect.rollbackToSavepoint('sp "1"'));
      await session.query(sqliteDialect.releaseSavepoint('sp "1"'));
      await session.query('COMMIT');
      return (await session.query('SELECT n FROM sp')).rows;
    });
    expect(rows).toEqual([{ n: 1 }]);
    expect((await pool.query(sqliteDialect.healthCheckQuery)).rows).toEqual([{ 1: 1 }]);
  });
});

describe('sqlite driver: opening databases', () => {
  it('puts file databases in WAL mode with foreign keys on; _fk=0 turns them off', async () => {
    const { pool } = await openPool();
    expect((await pool.query('PRAGMA journal_mode')).rows).toEqual([{ journal_mode: 'wal' }]);
    expect((await pool.query('PRAGMA foreign_keys')).rows).toEqual([{ foreign_keys: 1 }]);
    const { pool: noFk } = await openPool({ params: { _fk: '0', _journal_mode: 'truncate' } });
    expect((await noFk.query('PRAGMA foreign_keys')).rows).toEqual([{ foreign_keys: 0 }]);
    expect((await noFk.query('PRAGMA journal_mode')).rows).toEqual([{ journal_mode: 'truncate' }]);
  });

  it('creates the missing parent directories of a relative path, resolved against the working directory', async () => {
    const base = tempDir();
    const relative = path.relative(process.cwd(), path.join(base, 'nested', 'deeper', 'app.db'));
    expect(path.isAbsolute(relative)).toBe(false);
    const { pool } = await openPool({ path: relative });
    await pool.query('CREATE TABLE t (n INTEGER)');
    expect(statSync(path.join(base, 'nested', 'deeper')).isDirectory()).toBe(true);
    expect(existsSync(path.join(base, 'nested', 'deeper', 'app.db'))).toBe(true);
  });

  it('opens read-only with mode=ro: reads work, writes fail with SQLITE_READONLY', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ro.db');
    const writer = new BetterSqlite3(file);
    writer.exec("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (7)");
    writer.close();
    const { pool } = await openPool({ path: file, params: { mode: 'ro' } });
    expect((await pool.query('SELECT n FROM t')).rows).toEqual([{ n: 7 }]);
    expect(await rejectionOf(pool.query('INSERT INTO t VALUES (8)'))).toMatchObject({ code: 'QUERY_FAILED', driverCode: 'SQLITE_READONLY' });
  });

  it('fails with CONNECT_FAILED naming the path when mode=ro finds no file', async () => {
    const missing = path.join(tempDir(), 'missing.db');
    const { pool } = await openPool({ path: missing, params: { mode: 'ro' } });
    const error = await rejectionOf(pool.ping());
    expect(error).toMatchObject({ code: 'CONNECT_FAILED', connection: 'lite', retryable: false });
    expect(error.message).toContain(missing);
    expect(existsSync(missing)).toBe(false);
  });

  it('fails with CONNECT_FAILED naming the path when its directory cannot be created', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a-file'), 'not a directory');
    const impossible = path.join(dir, 'a-file', 'sub', 'x.db');
    const { pool } = await openPool({ path: impossible });
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(error).toBeInstanceOf(DbModuleError);
    expect(error).toMatchObject({ code: 'CONNECT_FAILED', retryable: false });
    expect(error.message).toContain(impossible);
    expect((error as unknown as DbModuleError).possibleCauses.length).toBeGreaterThan(0);
    expect((error.cause as { code?: string }).code).toMatch(/^(ENOTDIR|EEXIST)$/);
    // nothing is left waiting or half-open
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0, inUse: 0 });
  });

  it('fails with CONNECT_FAILED when the path is a directory or not a database', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'is-a-dir'));
    const { pool: dirPool } = await openPool({ path: path.join(dir, 'is-a-dir') });
    expect(await rejectionOf(dirPool.ping())).toMatchObject({ code: 'CONNECT_FAILED' });
    writeFileSync(path.join(dir, 'junk.db'), 'this is certainly not an SQLite database file, it is text'.repeat(40));
    const { pool: junkPool } = await openPool({ path: path.join(dir, 'junk.db') });
    const junk = await rejectionOf(junkPool.ping());
    expect(junk).toMatchObject({ code: 'CONNECT_FAILED' });
    expect((junk.cause as { code?: string }).code).toBe('SQLITE_NOTADB');
  });

  it('warns about parameters it ignores and rejects invalid ones with DSN_INVALID', async () => {
    const { logger, entries } = captureLogger();
    await openPool({ logger, params: { cache: 'shared', colour: 'blue' } });
    const warned = entries.filter((entry) => entry.level === 'warn').map((entry) => entry.fields?.param);
    expect(warned).toEqual(['cache', 'colour']);
    const invalid = await rejectionOf(openPool({ params: { mode: 'rwx' } }));
    expect(invalid).toBeInstanceOf(ConfigError);
    expect(invalid).toMatchObject({ code: 'DSN_INVALID' });
    expect(invalid.message).toContain('mode=rwx');
    expect(await rejectionOf(openPool({ params: { _busy_timeout: 'soon' } }))).toMatchObject({ code: 'DSN_INVALID' });
  });
});

describe('sqlite driver: in-memory databases', () => {
  for (const memoryPath of [':memory:', 'file::memory:']) {
    it(`${memoryPath} uses one handle (one database), whatever max_open_connections says`, async () => {
      const { logger, entries } = captureLogger();
      const { pool, watch } = await openPool({ path: memoryPath, logger, config: { max_open_connections: 5, max_idle_connections: 5 } });
      expect(entries.some((entry) => entry.level === 'debug' && entry.message.includes('max_open_connections forced to 1'))).toBe(true);
      await pool.query('CREATE TABLE mem (n INTEGER)');
      // ten concurrent inserts: a second handle would be a second, empty database without the table
      await Promise.all(Array.from({ length: 10 }, (_, n) => pool.query('INSERT INTO mem VALUES (?)', [n])));
      expect((await pool.query('SELECT count(*) AS n FROM mem')).rows).toEqual([{ n: 10 }]);
      expect(watch.peak).toBe(1);
      expect(pool.stats().maxOpen).toBe(1);
      expect(existsSync(path.resolve(memoryPath))).toBe(false);
    });
  }

  it('never recycles the handle of an in-memory database (that would drop it), and warns', async () => {
    const clock = fakeClock();
    const { logger, entries } = captureLogger();
    const { pool } = await openPool({
      path: ':memory:',
      clock,
      logger,
      config: { connection_max_lifetime: 1_000, connection_max_idle_time: 1_000, max_idle_connections: 0 },
    });
    await pool.query('CREATE TABLE kept (n INTEGER)');
    const before = await poolHandleId(pool);
    clock.advance(10_000);
    expect(await poolHandleId(pool)).toBe(before);
    expect((await pool.query('SELECT count(*) AS n FROM kept')).rows).toEqual([{ n: 0 }]);
    expect(entries.some((entry) => entry.level === 'warn' && entry.message.includes('in-memory'))).toBe(true);
  });
});

describe('sqlite driver: errors and loading', () => {
  it('reports a missing better-sqlite3 as DRIVER_NOT_INSTALLED with the install command', async () => {
    const error = await rejectionOf(loadBetterSqlite3(() => import('better-sqlite3-is-not-installed' as string) as never));
    expect(error).toMatchObject({ code: 'DRIVER_NOT_INSTALLED' });
    expect(error.message).toContain('npm install better-sqlite3');
  });

  it('classifies a closed handle as CONNECTION_LOST and passes DbModuleErrors through', () => {
    const db = new BetterSqlite3(':memory:');
    db.close();
    let thrown: unknown;
    try {
      db.prepare('SELECT 1');
    } catch (error) {
      thrown = error;
    }
    expect(toSqliteError(thrown, { connection: 'c', phase: 'query' })).toMatchObject({ code: 'CONNECTION_LOST', retryable: true, connection: 'c' });
    const original = new DbModuleError('QUERY_TIMEOUT', 'x');
    expect(toSqliteError(original, { connection: 'c', phase: 'query' })).toBe(original);
  });

  it('creates pools lazily: a bad path fails on first use, not at creation', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'file'), '');
    const pool = await createSqlitePool({
      plan: testPlan(sqliteConfig(), sqliteDsn(path.join(dir, 'file', 'x.db'))),
      logger: captureLogger().logger,
      clock: fakeClock(),
    });
    expect(pool.stats().total).toBe(0);
    await pool.close();
  });
});

describe('sqlite driver: server-only options', () => {
  it('warns that a password function does not apply, and never calls the function', async () => {
    const { logger, entries } = captureLogger();
    let calls = 0;
    const pool = await createSqlitePool({
      plan: testPlan(sqliteConfig(), sqliteDsn(':memory:')),
      logger,
      clock: fakeClock(),
      password: async () => {
        calls++;
        return 'unused';
      },
    });
    await pool.ping();
    await pool.close();
    expect(calls).toBe(0);
    expect(entries.some((entry) => entry.level === 'warn' && entry.message.includes('password function is ignored'))).toBe(true);
  });
});
