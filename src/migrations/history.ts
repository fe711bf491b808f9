import type { DriverName } from '../driver-name.js';
import type { DriverSession } from '../drivers/types.js';
import { TABLE_NAME } from '../config/schema.js';
import { ConfigError } from '../errors.js';

/** One row of the history table. @public */
export interface AppliedMigration {
  readonly version: bigint;
  readonly name: string;
  readonly checksum: string;
  readonly appliedAt: Date;
  readonly durationMs: number;
  /** Started and never finished (a failed migration outside a transaction): later runs stop here. */
  readonly dirty: boolean;
}

export interface HistoryRecord {
  readonly version: bigint;
  readonly name: string;
  readonly checksum: string;
  readonly durationMs: number;
  readonly dirty: boolean;
}

/** The history table's statements in one dialect, for one table name. */
export class History {
  readonly #driver: DriverName;
  readonly #table: string;

  constructor(driver: DriverName, table: string) {
    if (!TABLE_NAME.test(table)) {
      throw new ConfigError('CONFIG_INVALID', `migrations.table: expected a table name (letters, digits, _; optionally schema.table), received "${table}"`);
    }
    this.#driver = driver;
    this.#table = table
      .split('.')
      .map((part) => (driver === 'mysql' ? `\`${part}\`` : `"${part}"`))
      .join('.');
  }

  async ensure(session: DriverSession): Promise<void> {
    await session.query(CREATE[this.#driver](this.#table));
  }

  async applied(session: DriverSession): Promise<AppliedMigration[]> {
    const { rows } = await session.query<Record<string, unknown>>(`SELECT version, name, checksum, applied_at, duration_ms, dirty FROM ${this.#table} ORDER BY version`);
    return rows.map((row) => ({
      version: BigInt(String(row.version)),
      name: String(row.name),
      checksum: String(row.checksum),
      appliedAt: row.applied_at instanceof Date ? row.applied_at : new Date(String(row.applied_at)),
      durationMs: Number(row.duration_ms),
      dirty: isTrue(row.dirty),
    }));
  }

  async record(session: DriverSession, record: HistoryRecord): Promise<void> {
    const p = this.#placeholders(5);
    await session.query(`INSERT INTO ${this.#table} (version, name, checksum, duration_ms, dirty) VALUES (${p.join(', ')})`, [
      String(record.version),
      record.name,
      record.checksum,
      Math.round(record.durationMs),
      this.#flag(record.dirty),
    ]);
  }

  async finish(session: DriverSession, version: bigint, durationMs: number): Promise<void> {
    const [a, b, c] = this.#placeholders(3);
    await session.query(`UPDATE ${this.#table} SET dirty = ${a}, duration_ms = ${b} WHERE version = ${c}`, [this.#flag(false), Math.round(durationMs), String(version)]);
  }

  async markDirty(session: DriverSession, version: bigint): Promise<void> {
    const [a, b] = this.#placeholders(2);
    await session.query(`UPDATE ${this.#table} SET dirty = ${a} WHERE version = ${b}`, [this.#flag(true), String(version)]);
  }

  async remove(session: DriverSession, version: bigint): Promise<void> {
    await session.query(`DELETE FROM ${this.#table} WHERE version = ${this.#placeholders(1)[0]}`, [String(version)]);
  }

  /**
   * golang-migrate's table under this name (`version`, `dirty`: one row, the current version):
   * its version and dirty flag; undefined when the table is ours (or absent).
   */
  async golangMigrateState(session: DriverSession): Promise<{ version: bigint | undefined; dirty: boolean } | undefined> {
    try {
      await session.query(`SELECT checksum FROM ${this.#table} WHERE 1 = 0`);
      return undefined;
    } catch {
      // no checksum column: not ours
    }
    const { rows } = await session.query<{ version: unknown; dirty: unknown }>(`SELECT version, dirty FROM ${this.#table}`);
    return rows[0] === undefined ? { version: undefined, dirty: false } : { version: BigInt(String(rows[0].version)), dirty: isTrue(rows[0].dirty) };
  }

  /**
   * When the table is golang-migrate's, widens it to ours and records every migration up to its
   * version as applied (that one dirty if it was), with the checksums of the files as they are
   * now. Returns whether it did.
   */
  async adoptGolangMigrate(session: DriverSession, files: readonly { version: bigint; name: string; checksum: string }[]): Promise<boolean> {
    const state = await this.golangMigrateState(session);
    if (!state) return false;
    for (const statement of WIDEN[this.#driver](this.#table)) await session.query(statement);
    await session.query(`DELETE FROM ${this.#table}`);
    for (const file of files) {
      if (state.version === undefined || file.version > state.version) continue;
      await this.record(session, { version: file.version, name: file.name, checksum: file.checksum, durationMs: 0, dirty: state.dirty && file.version === state.version });
    }
    return true;
  }

  /** Placeholders for `count` parameters in this dialect. */
  #placeholders(count: number): string[] {
    return Array.from({ length: count }, (_, index) => (this.#driver === 'postgres' ? `$${index + 1}` : '?'));
  }

  #flag(value: boolean): boolean | number {
    return this.#driver === 'postgres' ? value : value ? 1 : 0;
  }
}

// --- internal ---

const CREATE: Record<DriverName, (table: string) => string> = {
  postgres: (table) =>
    `CREATE TABLE IF NOT EXISTS ${table} (version bigint PRIMARY KEY, name text NOT NULL, checksum char(64) NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), duration_ms integer NOT NULL DEFAULT 0, dirty boolean NOT NULL DEFAULT false)`,
  mysql: (table) =>
    `CREATE TABLE IF NOT EXISTS ${table} (version BIGINT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL, applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), duration_ms INT NOT NULL DEFAULT 0, dirty BOOLEAN NOT NULL DEFAULT FALSE)`,
  sqlite: (table) =>
    `CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), duration_ms INTEGER NOT NULL DEFAULT 0, dirty INTEGER NOT NULL DEFAULT 0)`,
};

/** golang-migrate's table widened to ours (SQLite adds one column at a time, with constant defaults). */
const WIDEN: Record<DriverName, (table: string) => string[]> = {
  postgres: (table) => [
    `ALTER TABLE ${table} ADD COLUMN name text NOT NULL DEFAULT '', ADD COLUMN checksum char(64) NOT NULL DEFAULT '', ADD COLUMN applied_at timestamptz NOT NULL DEFAULT now(), ADD COLUMN duration_ms integer NOT NULL DEFAULT 0`,
  ],
  mysql: (table) => [
    `ALTER TABLE ${table} ADD COLUMN name VARCHAR(255) NOT NULL DEFAULT '', ADD COLUMN checksum CHAR(64) NOT NULL DEFAULT '', ADD COLUMN applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), ADD COLUMN duration_ms INT NOT NULL DEFAULT 0`,
  ],
  sqlite: (table) => ["name TEXT NOT NULL DEFAULT ''", "checksum TEXT NOT NULL DEFAULT ''", "applied_at TEXT NOT NULL DEFAULT ''", 'duration_ms INTEGER NOT NULL DEFAULT 0'].map((column) => `ALTER TABLE ${table} ADD COLUMN ${column}`),
};

function isTrue(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't' || value === 1n;
}
