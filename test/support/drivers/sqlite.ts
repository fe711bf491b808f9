import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { ConnectionConfig } from '../../../src/config/types.js';
import type { ParsedDsn } from '../../../src/dsn/types.js';
import { createSqlitePool, type SqliteSessionPool } from '../../../src/drivers/sqlite/index.js';
import type { Clock, DriverPool, DriverSession } from '../../../src/drivers/types.js';
import { silentLogger, type Logger } from '../../../src/logging.js';
import { connectionConfig } from '../connection-config.js';
import { testPlan } from '../plan.js';

export function sqliteConfig(overrides: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return connectionConfig('sqlite', { name: 'lite', dsn: 'sqlite:test.db' }, overrides);
}

/** A ParsedDsn as the DSN layer hands it over for `sqlite:<path>?<params>`. */
export function sqliteDsn(filePath: string, params: Record<string, string> = {}): ParsedDsn {
  return { family: 'sqlite', driver: 'sqlite', path: filePath, params };
}

export { fakeClock } from '../fake-clock.js';
export { gate } from '../gate.js';

const directories: string[] = [];
const pools: DriverPool[] = [];

/** A fresh directory under the OS temp dir, removed by {@link cleanUp}. */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dbmodule-sqlite-'));
  directories.push(dir);
  return dir;
}

export interface OpenOptions {
  config?: Partial<ConnectionConfig>;
  params?: Record<string, string>;
  logger?: Logger;
  clock?: Clock;
  /** Defaults to a new file in a fresh temp directory. */
  path?: string;
}

/**
 * Every better-sqlite3 handle the pool opens, seen through tarn's public `createSuccess`
 * event; `open()` asks SQLite itself (the handle's `open` flag), so closes are observed
 * whether or not the pool reports them.
 */
export class HandleWatch {
  readonly handles: BetterSqlite3.Database[] = [];
  peak = 0;

  constructor(native: SqliteSessionPool) {
    native.on('createSuccess', (_eventId, db) => {
      this.handles.push(db);
      this.peak = Math.max(this.peak, this.open());
    });
  }

  open(): number {
    return this.handles.filter((db) => db.open).length;
  }
}

export async function openPool(options: OpenOptions = {}): Promise<{ pool: DriverPool; native: SqliteSessionPool; watch: HandleWatch; file: string }> {
  const file = options.path ?? path.join(tempDir(), 'test.db');
  const pool = await createSqlitePool({
    plan: testPlan(sqliteConfig(options.config), sqliteDsn(file, options.params)),
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? { now: () => Date.now() },
  });
  pools.push(pool);
  const native = pool.native as SqliteSessionPool;
  return { pool, native, watch: new HandleWatch(native), file };
}

export async function cleanUp(): Promise<void> {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
  for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * The identity of the handle a session runs on, like pg_backend_pid(): a TEMP table
 * exists only on the handle that created it, so a new handle gets a new id.
 */
export async function handleId(session: DriverSession): Promise<string> {
  await session.query('CREATE TEMP TABLE IF NOT EXISTS handle_marker AS SELECT lower(hex(randomblob(8))) AS id');
  const { rows } = await session.query<{ id: string }>('SELECT id FROM temp.handle_marker');
  const id = rows[0]?.id;
  if (id === undefined) throw new Error('no handle marker');
  return id;
}

export function poolHandleId(pool: DriverPool): Promise<string> {
  return pool.withSession(handleId);
}
