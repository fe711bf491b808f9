// Migrations on the real PostgreSQL and MariaDB and on SQLite: order, history, transactions,
// dirty state, checksums, out-of-order files, rollback, and the lock between two migrators.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import { createDatabase, type Database } from '../../src/index.js';
import { postgresLockKey } from '../../src/migrations/lock.js';
import { MYSQL_URL, PG_URL, uniqueName } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { rejectionOf } from '../support/rejection.js';

type Driver = 'postgres' | 'mysql' | 'sqlite';
const DRIVERS: Driver[] = ['postgres', 'mysql', 'sqlite'];

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  readonly dir: string;
  /** Table names unique to the test (`t('users')`). */
  readonly t: (name: string) => string;
  readonly table: string;
  open(migrations?: Record<string, unknown>, connection?: Record<string, unknown>): Promise<Database>;
  write(files: Record<string, string>): void;
  tables(db: Database): Promise<string[]>;
}

function setup(driver: Driver): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'dbmodule-mig-'));
  const sqliteFile = join(dir, 'db.sqlite');
  const prefix = uniqueName('m');
  const table = `${prefix}_history`;
  const opened: Database[] = [];
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(async () => {
    for (const db of opened) await db.close();
    if (driver === 'sqlite') return;
    const db = await createDatabase({ connections: { admin: { driver, dsn: driver === 'postgres' ? PG_URL : MYSQL_URL } } }, { logger: captureLogger().logger });
    try {
      for (const name of await tablesOf(db, driver, prefix)) await db.connection().query(`DROP TABLE IF EXISTS ${name}`);
    } finally {
      await db.close();
    }
  });
  return {
    dir,
    t: (name) => `${prefix}_${name}`,
    table,
    async open(migrations = {}, connection = {}) {
      const dsn = driver === 'postgres' ? PG_URL : driver === 'mysql' ? MYSQL_URL : `sqlite:${sqliteFile}`;
      const db = await createDatabase({ connections: { app: { driver, dsn, ...connection, migrations: { directory: join(dir, 'migrations'), table, lock_timeout: '10s', ...migrations } } } }, { logger: captureLogger().logger });
      opened.push(db);
      return db;
    },
    write(files) {
      mkdirSync(join(dir, 'migrations'), { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'migrations', name), text);
    },
    tables: (db) => tablesOf(db, driver, prefix),
  };
}

async function tablesOf(db: Database, driver: Driver, prefix: string): Promise<string[]> {
  const sql =
    driver === 'postgres'
      ? `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE '${prefix}%'`
      : driver === 'mysql'
        ? `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE '${prefix}%'`
        : `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '${prefix}%'`;
  return (await db.connection().query<{ name: string }>(sql)).rows.map((row) => String(row.name)).sort();
}

describe.each(DRIVERS)('%s migrations', (driver) => {
  it('applies a golang-migrate directory in numeric order (9 before 10), records each, and reports status', async () => {
    const s = setup(driver);
    s.write({
      [`9_second.up.sql`]: `CREATE TABLE ${s.t('b')} (id int);\nINSERT INTO ${s.t('b')} VALUES (9);`,
      [`9_second.down.sql`]: `DROP TABLE ${s.t('b')};`,
      [`10_third.up.sql`]: `INSERT INTO ${s.t('b')} SELECT id + 1 FROM ${s.t('b')};`,
      [`10_third.down.sql`]: `DELETE FROM ${s.t('b')} WHERE id = 10;`,
      [`1_first.up.sql`]: `-- the first\nCREATE TABLE ${s.t('a')} (id int, note varchar(20));\nINSERT INTO ${s.t('a')} VALUES (1, 'a;b');`,
      [`1_first.down.sql`]: `DROP TABLE ${s.t('a')};`,
      'README.md': 'not a migration',
    });
    const db = await s.open();
    const events: string[] = [];
    db.on('migration.completed', (event) => events.push(`${event.version}:${event.id}`));
    const run = await db.migrate();
    expect(run.migrations.map((m) => m.version)).toEqual(['1', '9', '10']);
    expect(events).toEqual(['1:1_first', '9:9_second', '10:10_third']);
    expect((await db.connection().query<{ id: number }>(`SELECT id FROM ${s.t('b')} ORDER BY id`)).rows.map((row) => Number(row.id))).toEqual([9, 10]);
    const status = await db.migrationStatus();
    expect(status).toMatchObject({ current: '10', pending: 0 });
    expect(status.entries.map((entry) => `${entry.version} ${entry.state}`)).toEqual(['1 applied', '9 applied', '10 applied']);
    // a second run has nothing to do
    expect((await db.migrate()).migrations).toEqual([]);
  });

  it('up, down to nothing, up again leaves the schema as after the first up', async () => {
    const s = setup(driver);
    s.write({
      '1_a.up.sql': `CREATE TABLE ${s.t('x')} (id int);`,
      '1_a.down.sql': `DROP TABLE ${s.t('x')};`,
      '2_b.up.sql': `CREATE TABLE ${s.t('y')} (id int);`,
      '2_b.down.sql': `DROP TABLE ${s.t('y')};`,
    });
    const db = await s.open();
    await db.migrate();
    const after = await s.tables(db);
    expect(after).toEqual([s.table, s.t('x'), s.t('y')].sort());
    expect((await db.rollback(undefined, { steps: 2 })).migrations.map((m) => m.version)).toEqual(['2', '1']);
    expect(await s.tables(db)).toEqual([s.table]);
    await db.migrate();
    expect(await s.tables(db)).toEqual(after);
  });

  it('a failing migration: MIGRATION_FAILED with the cause; rolled back where DDL is transactional, dirty (refused until forced) on MySQL', async () => {
    const s = setup(driver);
    s.write({
      '1_ok.up.sql': `CREATE TABLE ${s.t('ok')} (id int);`,
      '2_bad.up.sql': `CREATE TABLE ${s.t('half')} (id int);\nINSERT INTO ${s.t('nope')} VALUES (1);`,
    });
    const db = await s.open();
    const failed: string[] = [];
    db.on('migration.failed', (event) => failed.push(`${event.id}: ${event.message}`));
    const error = await rejectionOf(db.migrate(), DbModuleError);
    expect(error).toMatchObject({ code: 'MIGRATION_FAILED', connection: 'app' });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(new RegExp(`^2_bad: .*${s.t('nope')}`));
    expect(error.message).toContain('2_bad');
    const status = await db.migrationStatus();
    if (driver === 'mysql') {
      // MySQL's DDL committed the half-done migration: it is dirty and stops the next run
      expect(await s.tables(db)).toContain(s.t('half'));
      expect(status).toMatchObject({ dirty: '2' });
      expect(await rejectionOf(db.migrate(), DbModuleError)).toMatchObject({ code: 'MIGRATION_DIRTY' });
      await db.connection().query(`DROP TABLE ${s.t('half')}`);
      await db.forceMigrationVersion(1);
      expect(await db.migrationStatus()).toMatchObject({ current: '1', pending: 1 });
      expect(status.entries.find((entry) => entry.version === '2')?.state).toBe('dirty');
    } else {
      expect(await s.tables(db)).toEqual([s.table, s.t('ok')].sort());
      expect(status).toMatchObject({ current: '1', pending: 1 });
      expect(status.dirty).toBeUndefined();
    }
    // fixed, it applies
    s.write({ '2_bad.up.sql': `CREATE TABLE ${s.t('half')} (id int);` });
    expect((await db.migrate()).migrations.map((m) => m.version)).toEqual(['2']);
  });

  it('verify fails with MIGRATION_CHECKSUM once an applied file changed (line endings aside)', async () => {
    const s = setup(driver);
    s.write({ '1_a.up.sql': `CREATE TABLE ${s.t('a')} (id int);\n` });
    const db = await s.open();
    await db.migrate();
    await expect(db.verifyMigrations()).resolves.toMatchObject({ current: '1' });
    s.write({ '1_a.up.sql': `CREATE TABLE ${s.t('a')} (id int);\r\n` });
    await expect(db.verifyMigrations()).resolves.toMatchObject({ current: '1' });
    s.write({ '1_a.up.sql': `CREATE TABLE ${s.t('a')} (id bigint);\n` });
    const error = await rejectionOf(db.verifyMigrations(), DbModuleError);
    expect(error).toMatchObject({ code: 'MIGRATION_CHECKSUM' });
    expect(error.message).toContain('1_a');
  });

  it('a file added below the last applied version is refused (MIGRATION_OUT_OF_ORDER) unless allow_out_of_order', async () => {
    const s = setup(driver);
    s.write({ '1_a.up.sql': `CREATE TABLE ${s.t('a')} (id int);`, '3_c.up.sql': `CREATE TABLE ${s.t('c')} (id int);` });
    const db = await s.open();
    await db.migrate();
    s.write({ '2_b.up.sql': `CREATE TABLE ${s.t('b')} (id int);` });
    expect((await db.migrationStatus()).entries.find((entry) => entry.version === '2')).toMatchObject({ state: 'pending', outOfOrder: true });
    expect(await rejectionOf(db.migrate(), DbModuleError)).toMatchObject({ code: 'MIGRATION_OUT_OF_ORDER' });
    const lenient = await s.open({ allow_out_of_order: true });
    expect((await lenient.migrate()).migrations.map((m) => m.version)).toEqual(['2']);
  });

  it('dryRun reports what would run and changes nothing; to stops at a version', async () => {
    const s = setup(driver);
    s.write({ '1_a.up.sql': `CREATE TABLE ${s.t('a')} (id int);`, '2_b.up.sql': `CREATE TABLE ${s.t('b')} (id int);` });
    const db = await s.open();
    expect(await db.migrate(undefined, { dryRun: true })).toMatchObject({ dryRun: true, migrations: [{ version: '1' }, { version: '2' }] });
    expect(await s.tables(db)).toEqual([s.table]);
    expect((await db.migrate(undefined, { to: 1 })).migrations.map((m) => m.version)).toEqual(['1']);
    expect(await db.migrationStatus()).toMatchObject({ current: '1', pending: 1 });
  });

  it('a second migrator waits for the lock; with a short lock_timeout it fails with MIGRATION_LOCKED naming the holder; no lock is left after', async () => {
    const s = setup(driver);
    const sleep = driver === 'postgres' ? 'SELECT pg_sleep(1.5);' : driver === 'mysql' ? 'SELECT SLEEP(1.5);' : undefined;
    s.write(
      sleep
        ? { '1_slow.up.sql': `CREATE TABLE ${s.t('a')} (id int);\n${sleep}` }
        : // SQLite: a module migration that keeps the write lock for a while
          { '1_slow.mjs': `export async function up(q) { await q.query('CREATE TABLE ${s.t('a')} (id int)'); await new Promise((r) => setTimeout(r, 1500)); }` },
    );
    const first = await s.open();
    const second = await s.open();
    // SQLite waits for a lock up to its busy timeout (connection_timeout) on every statement: at least that long
    const impatient = await s.open({ lock_timeout: '200ms' }, driver === 'sqlite' ? { connection_timeout: '200ms' } : {});
    const started = first.migrate();
    // the first run holds the lock once its migration started
    await new Promise<void>((resolve) => first.once('migration.started', () => resolve()));
    const locked = await rejectionOf(impatient.migrate(), DbModuleError);
    expect(locked).toMatchObject({ code: 'MIGRATION_LOCKED', retryable: true });
    if (driver === 'postgres') expect(locked.message).toMatch(/backend pid \d+/);
    if (driver === 'mysql') expect(locked.message).toMatch(/connection id \d+/);
    const waited = second.migrate();
    expect((await started).migrations.map((m) => m.version)).toEqual(['1']);
    // the waiting one saw it applied
    expect((await waited).migrations).toEqual([]);
    if (driver === 'postgres') {
      const [classid, objid] = postgresLockKey(s.table);
      const { rows } = await first.connection().query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = ${classid} AND objid = ${objid}`);
      expect(rows[0]?.n).toBe(0);
    }
    if (driver === 'mysql') {
      const { rows } = await first.connection().query<{ holder: number | null }>(`SELECT IS_USED_LOCK(CONCAT('dbmodule_migrate:', DATABASE(), '.${s.table}')) AS holder`);
      expect(rows[0]?.holder).toBeNull();
    }
  });

  it('run_on_start: createDatabase applies the pending migrations before it returns; a failing one fails createDatabase', async () => {
    const s = setup(driver);
    s.write({ '1_a.up.sql': `CREATE TABLE ${s.t('a')} (id int);` });
    const db = await s.open({ run_on_start: true });
    expect(await db.migrationStatus()).toMatchObject({ current: '1', pending: 0 });
    s.write({ '2_bad.up.sql': `INSERT INTO ${s.t('missing')} VALUES (1);` });
    expect(await rejectionOf(s.open({ run_on_start: true }), DbModuleError)).toMatchObject({ code: 'MIGRATION_FAILED' });
  });

  it("takes over golang-migrate's history table: what it applied stays applied, the rest runs", async () => {
    const s = setup(driver);
    s.write({
      '1_a.up.sql': `CREATE TABLE ${s.t('a')} (id int);`,
      '2_b.up.sql': `CREATE TABLE ${s.t('b')} (id int);`,
      '3_c.up.sql': `CREATE TABLE ${s.t('c')} (id int);`,
    });
    const db = await s.open();
    // as golang-migrate leaves it after applying 1 and 2
    await db.connection().query(`CREATE TABLE ${s.table} (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`);
    await db.connection().query(`INSERT INTO ${s.table} (version, dirty) VALUES (2, ${driver === 'postgres' ? 'false' : '0'})`);
    const before = await db.migrationStatus();
    expect(before.entries.map((entry) => `${entry.version} ${entry.state}`)).toEqual(['1 applied', '2 applied', '3 pending']);
    expect((await db.migrate()).migrations.map((m) => m.version)).toEqual(['3']);
    const after = await db.migrationStatus();
    expect(after.entries.map((entry) => `${entry.version} ${entry.state}`)).toEqual(['1 applied', '2 applied', '3 applied']);
    expect(await db.verifyMigrations()).toMatchObject({ current: '3' });
  });

  it('module migrations get the connection’s Queryable, in a transaction unless they export transaction = false', async () => {
    const s = setup(driver);
    s.write({
      '1_js.mjs': `export async function up(q) { await q.query('CREATE TABLE ${s.t('js')} (id int)'); await q.query("INSERT INTO ${s.t('js')} VALUES (1)"); }\nexport async function down(q) { await q.query('DROP TABLE ${s.t('js')}'); }`,
    });
    const db = await s.open();
    await db.migrate();
    expect((await db.connection().query(`SELECT id FROM ${s.t('js')}`)).rows).toHaveLength(1);
    await db.rollback();
    expect(await s.tables(db)).toEqual([s.table]);
  });
});

describe('postgres migrations outside a transaction', () => {
  it('CREATE INDEX CONCURRENTLY in a -- dbmodule:no-transaction migration succeeds', async () => {
    const s = setup('postgres');
    s.write({
      '1_table.up.sql': `CREATE TABLE ${s.t('big')} (id int);`,
      '2_index.up.sql': `-- dbmodule:no-transaction\nCREATE INDEX CONCURRENTLY ${s.t('big_id')} ON ${s.t('big')} (id);`,
    });
    const db = await s.open();
    expect((await db.migrate()).migrations.map((m) => m.version)).toEqual(['1', '2']);
    const { rows } = await db.connection().query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = '${s.t('big_id')}'`);
    expect(rows[0]?.n).toBe(1);
  });

  it('a function with a dollar-quoted body and a golang-migrate file with its own BEGIN/COMMIT apply unchanged', async () => {
    const s = setup('postgres');
    s.write({
      '1_fn.up.sql': `CREATE FUNCTION ${s.t('fn')}() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 42;\nEND;\n$$;\n`,
      '2_tx.up.sql': `BEGIN;\nCREATE TABLE ${s.t('t')} (id int);\nINSERT INTO ${s.t('t')} VALUES (${s.t('fn')}());\nCOMMIT;\n`,
    });
    const db = await s.open();
    await db.migrate();
    expect((await db.connection().query<{ id: number }>(`SELECT id FROM ${s.t('t')}`)).rows).toEqual([{ id: 42 }]);
    cleanups.push(async () => {
      const admin = await createDatabase({ connections: { admin: { driver: 'postgres', dsn: PG_URL } } }, { logger: captureLogger().logger });
      await admin.connection().query(`DROP FUNCTION IF EXISTS ${s.t('fn')}()`);
      await admin.close();
    });
  });
});

describe('mysql routine bodies without DELIMITER', () => {
  it('a trigger with BEGIN ... END and IF inside applies as one statement', async () => {
    const s = setup('mysql');
    s.write({
      '1_trigger.up.sql': `CREATE TABLE ${s.t('t')} (id int, doubled int);\nCREATE TRIGGER ${s.t('trg')} BEFORE INSERT ON ${s.t('t')} FOR EACH ROW\nBEGIN\n  IF NEW.doubled IS NULL THEN\n    SET NEW.doubled = NEW.id * 2;\n  END IF;\nEND;\nINSERT INTO ${s.t('t')} (id) VALUES (21);`,
    });
    const db = await s.open();
    await db.migrate();
    expect((await db.connection().query<{ doubled: number }>(`SELECT doubled FROM ${s.t('t')}`)).rows).toEqual([{ doubled: 42 }]);
  });
});
