// Migrations across processes, through the built CLI (`dbmodule migrate`): four started together
// apply a slow migration exactly once; with a short lock_timeout the others fail fast with
// MIGRATION_LOCKED; a holder killed with SIGKILL mid-migration loses its lock with its session,
// and the next run proceeds (PostgreSQL and SQLite: rolled back and applied again once;
// MariaDB: dirty, refused until forced). No lock is left after any run.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import { postgresLockKey } from '../../src/migrations/lock.js';
import { MYSQL_URL, PG_URL, uniqueName } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';

type Driver = 'postgres' | 'mysql' | 'sqlite';
const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `dbmodule migrate ...args` in a process of its own; `started` resolves once it is running. */
function cli(dir: string, args: string[]): { done: Promise<Run>; kill(): void } {
  const child = spawn(process.execPath, [BIN, 'migrate', ...args, '--config', join(dir, 'config.yaml')], { cwd: dir, env: { PATH: process.env.PATH ?? '', DBMODULE_LOG_LEVEL: 'error' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { done, kill: () => child.kill('SIGKILL') };
}

interface Setup {
  readonly dir: string;
  readonly table: string;
  readonly t: (name: string) => string;
  config(migrations: Record<string, string>, connection?: Record<string, string>): void;
  write(files: Record<string, string>): void;
  db(): Promise<Database>;
}

function setup(driver: Driver): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'dbmodule-migp-'));
  const prefix = uniqueName('mp');
  const dsn = driver === 'postgres' ? PG_URL : driver === 'mysql' ? MYSQL_URL : `sqlite:${join(dir, 'db.sqlite')}`;
  const table = `${prefix}_history`;
  let admin: Database | undefined;
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(async () => {
    if (!admin) return;
    if (driver !== 'sqlite') {
      for (const name of [table, `${prefix}_rows`, `${prefix}_half`]) await admin.connection().query(`DROP TABLE IF EXISTS ${name}`);
    }
    await admin.close();
  });
  return {
    dir,
    table,
    t: (name) => `${prefix}_${name}`,
    config(migrations, connection = {}) {
      const extra = Object.entries(connection).map(([key, value]) => `      ${key}: ${value}\n`).join('');
      const block = Object.entries({ directory: 'migrations', table, ...migrations })
        .map(([key, value]) => `        ${key}: ${value}\n`)
        .join('');
      writeFileSync(join(dir, 'config.yaml'), `database:\n  connections:\n    app:\n      driver: ${driver}\n      dsn: "${dsn}"\n${extra}      migrations:\n${block}`);
    },
    write(files) {
      mkdirSync(join(dir, 'migrations'), { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'migrations', name), text);
    },
    async db() {
      admin ??= await createDatabase({ connections: { admin: { driver, dsn } } }, { logger: captureLogger().logger });
      return admin;
    },
  };
}

/** A migration that creates and fills a table, then takes `seconds` (SQLite: a module keeping the write lock). */
function slowMigration(driver: Driver, s: Setup, seconds: number, marker?: string): Record<string, string> {
  const rows = s.t('rows');
  if (driver === 'sqlite') {
    const mark = marker ? `(await import('node:fs')).writeFileSync(${JSON.stringify(marker)}, 'started');` : '';
    return { '1_slow.mjs': `export async function up(q) {\n  await q.query('CREATE TABLE ${rows} (id int)');\n  await q.query('INSERT INTO ${rows} VALUES (1)');\n  ${mark}\n  await new Promise((r) => setTimeout(r, ${seconds * 1000}));\n}\n` };
  }
  const sleep = driver === 'postgres' ? `SELECT pg_sleep(${seconds});` : `SELECT SLEEP(${seconds});`;
  return { '1_slow.up.sql': `CREATE TABLE ${rows} (id int);\nINSERT INTO ${rows} VALUES (1);\n${sleep}\n` };
}

async function lockLeft(driver: Driver, s: Setup): Promise<boolean> {
  const db = await s.db();
  if (driver === 'postgres') {
    const [classid, objid] = postgresLockKey(s.table);
    return Number((await db.connection().query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = ${classid} AND objid = ${objid} AND objsubid = 2`)).rows[0]?.n) > 0;
  }
  if (driver === 'mysql') return (await db.connection().query<{ holder: number | null }>(`SELECT IS_USED_LOCK(CONCAT('dbmodule_migrate:', DATABASE(), '.${s.table}')) AS holder`)).rows[0]?.holder != null;
  return false;
}

async function count(s: Setup, sql: string): Promise<number> {
  return Number((await (await s.db()).connection().query<{ n: number }>(sql)).rows[0]?.n);
}

describe.each(['postgres', 'mysql', 'sqlite'] as const)('%s: migrate from several processes', (driver) => {
  // SQLite waits for a lock up to its busy timeout on every statement, which connection_timeout sets
  const sqliteWait = (timeout: string): Record<string, string> => (driver === 'sqlite' ? { connection_timeout: timeout } : {});

  it('four processes started together: the slow migration is applied exactly once; the others wait and see it applied', async () => {
    const s = setup(driver);
    s.config({ lock_timeout: '30s' }, sqliteWait('30s'));
    s.write(slowMigration(driver, s, 2));
    const runs = await Promise.all(Array.from({ length: 4 }, () => cli(s.dir, ['up', '--json']).done));
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const applied = runs.map((run) => (JSON.parse(run.stdout) as { migrations: unknown[] }).migrations.length).sort();
    expect(applied).toEqual([0, 0, 0, 1]);
    expect(await count(s, `SELECT count(*) AS n FROM ${s.t('rows')}`)).toBe(1);
    expect(await count(s, `SELECT count(*) AS n FROM ${s.table}`)).toBe(1);
    expect(await lockLeft(driver, s)).toBe(false);
  }, 60_000);

  it('with a short lock_timeout the others fail fast with MIGRATION_LOCKED (exit 1) while one applies it', async () => {
    const s = setup(driver);
    s.config({ lock_timeout: '300ms' }, sqliteWait('300ms'));
    s.write(slowMigration(driver, s, 2));
    const runs = await Promise.all(Array.from({ length: 4 }, () => cli(s.dir, ['up']).done));
    const ok = runs.filter((run) => run.code === 0);
    const locked = runs.filter((run) => run.code === 1);
    expect(ok).toHaveLength(1);
    expect(locked).toHaveLength(3);
    for (const run of locked) expect(run.stderr).toContain('MIGRATION_LOCKED');
    expect(await count(s, `SELECT count(*) AS n FROM ${s.t('rows')}`)).toBe(1);
    expect(await lockLeft(driver, s)).toBe(false);
  }, 60_000);

  it('the holder killed with SIGKILL mid-migration: its lock goes with its session and the next run proceeds', async () => {
    const s = setup(driver);
    s.config({ lock_timeout: '30s' }, sqliteWait('30s'));
    const marker = join(s.dir, 'started');
    s.write(slowMigration(driver, s, 60, marker));
    const holder = cli(s.dir, ['up']);
    // it holds the lock and is inside its migration
    await waitFor(async () => (driver === 'sqlite' ? existsSync(marker) : await lockLeft(driver, s)), 20_000, 'the migrator holds the lock');
    if (driver === 'postgres') await waitFor(async () => (await count(s, "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(60)%'")) === 1, 10_000, 'the migration is sleeping');
    // MySQL: the DDL and the INSERT are committed as they run
    if (driver === 'mysql') await waitFor(async () => (await count(s, `SELECT count(*) AS n FROM ${s.t('rows')}`).catch(() => 0)) === 1, 10_000, 'the migration is sleeping');
    holder.kill();
    expect((await holder.done).signal).toBe('SIGKILL');
    // the server ends the dead session, and its lock with it
    await waitFor(async () => !(await lockLeft(driver, s)), 20_000, 'the lock released');
    s.write(slowMigration(driver, s, 0));
    const next = await cli(s.dir, ['up', '--json']).done;
    if (driver === 'mysql') {
      // the DDL had committed: the migration is dirty and nothing runs until it is resolved
      expect(next.code).toBe(1);
      expect(next.stderr).toContain('MIGRATION_DIRTY');
      // its statements did run (only the sleep was cut short): it is marked done by hand
      const forced = await cli(s.dir, ['force', '1']).done;
      expect(forced.code, forced.stderr).toBe(0);
      const again = await cli(s.dir, ['up', '--json']).done;
      expect(again.code, again.stderr).toBe(0);
      expect((JSON.parse(again.stdout) as { migrations: unknown[] }).migrations).toEqual([]);
    } else {
      // the half-done transactional migration was rolled back: it is applied again, once
      expect(next.code, next.stderr).toBe(0);
      expect((JSON.parse(next.stdout) as { migrations: unknown[] }).migrations).toHaveLength(1);
    }
    expect(await count(s, `SELECT count(*) AS n FROM ${s.t('rows')}`)).toBe(1);
    expect(await lockLeft(driver, s)).toBe(false);
  }, 90_000);
});
