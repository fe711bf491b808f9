import type { MigrationsConfig } from '../config/types.js';
import type { DriverName } from '../driver-name.js';
import { ConfigError, DbModuleError, QueryError, messageOf } from '../errors.js';
import type { DatabaseEventEmitter } from '../events.js';
import type { Logger } from '../logging.js';
import type { Queryable } from '../transaction.js';
import { readMigrations, type MigrationFile, type MigrationStep } from './files.js';
import { History, type AppliedMigration } from './history.js';
import { migrationLock, type MigrationLock } from './lock.js';
import { splitSql } from './split-sql.js';
import { lastVersion, statusOf } from './status.js';
import type { MigrateOptions, MigrationRun, MigrationStatus, MigrationStepReport, RollbackOptions } from './types.js';
import { markSessionBroken } from '../drivers/session-health.js';

export interface MigratorContext {
  readonly connection: string;
  readonly driver: DriverName;
  readonly settings: MigrationsConfig;
  readonly events: DatabaseEventEmitter;
  readonly logger: Logger;
  /** One writer session for the whole run. */
  readonly holdSession: <T>(fn: (session: Queryable) => Promise<T>) => Promise<T>;
}

/**
 * Runs one connection's migrations (DESIGN §10): each run takes the migration lock on its own
 * session, reads the history table under it, and applies or reverts migrations one by one, each
 * in its own transaction where the dialect keeps DDL transactional (PostgreSQL, SQLite) unless
 * the file opts out. A migration outside a transaction (always on MySQL, whose DDL commits
 * implicitly) is recorded dirty before it runs and clean after: one that fails stays dirty and
 * stops every later run until `force`.
 */
export class Migrator {
  readonly #context: MigratorContext;
  readonly #history: History;
  readonly #lock: MigrationLock;

  constructor(context: MigratorContext) {
    this.#context = context;
    const { driver, settings, connection } = context;
    this.#history = new History(driver, settings.table);
    this.#lock = migrationLock(driver, { connection, table: settings.table, timeoutMs: settings.lock_timeout });
  }

  async migrate(options: MigrateOptions = {}): Promise<MigrationRun> {
    const files = await readMigrations(this.#context.settings.directory);
    const to = options.to === undefined ? undefined : versionOf(options.to, 'to');
    return this.#locked(files, async (session) => {
      const applied = await this.#history.applied(session);
      this.#refuseDirty(applied);
      this.#warnChanged(files, applied);
      const done = new Set(applied.map((entry) => entry.version));
      const last = lastVersion(applied);
      const pending = files.filter((file) => !done.has(file.version) && (to === undefined || file.version <= to));
      const early = pending.filter((file) => file.version < last);
      if (early.length > 0 && !this.#context.settings.allow_out_of_order) {
        throw new DbModuleError(
          'MIGRATION_OUT_OF_ORDER',
          `connection "${this.#context.connection}": ${early.map(label).join(', ')} ${early.length > 1 ? 'are' : 'is'} below the last applied version ${last}; refusing to apply out of order`,
          { connection: this.#context.connection, solutions: ['Give the migration a version above the last applied one', 'Or set migrations.allow_out_of_order: true when the order does not matter'] },
        );
      }
      const report: MigrationStepReport[] = [];
      for (const file of pending) {
        report.push(options.dryRun ? { version: String(file.version), name: file.name, durationMs: 0 } : await this.#apply(session, file, 'up'));
      }
      return { connection: this.#context.connection, direction: 'up' as const, dryRun: options.dryRun === true, migrations: report };
    });
  }

  async rollback(options: RollbackOptions = {}): Promise<MigrationRun> {
    const steps = options.steps ?? 1;
    if (!Number.isInteger(steps) || steps < 1) throw new ConfigError('CONFIG_INVALID', `rollback: steps must be a positive integer, received ${String(steps)}`);
    const files = await readMigrations(this.#context.settings.directory);
    const byVersion = new Map(files.map((file) => [file.version, file]));
    return this.#locked(files, async (session) => {
      const applied = await this.#history.applied(session);
      this.#refuseDirty(applied);
      const targets = [...applied].reverse().slice(0, steps);
      const report: MigrationStepReport[] = [];
      for (const entry of targets) {
        const file = byVersion.get(entry.version);
        if (!file?.down) {
          throw new DbModuleError('MIGRATION_FAILED', `connection "${this.#context.connection}: ${label(entry)} has no down migration${file ? '' : ' (its files are gone from the directory)'}; nothing was reverted past it`, {
            connection: this.#context.connection,
          });
        }
        report.push(options.dryRun ? { version: String(file.version), name: file.name, durationMs: 0 } : await this.#apply(session, file, 'down'));
      }
      return { connection: this.#context.connection, direction: 'down' as const, dryRun: options.dryRun === true, migrations: report };
    });
  }

  /** The directory against the history table; takes no lock and changes nothing (no table yet: everything pending). */
  async status(): Promise<MigrationStatus> {
    const files = await readMigrations(this.#context.settings.directory);
    const applied = await this.#context.holdSession((session) => this.#appliedIfAny(session, files));
    return statusOf(this.#context.connection, this.#context.settings, files, applied);
  }

  /** @throws DbModuleError `MIGRATION_CHECKSUM` when an applied migration's file changed since. */
  async verify(): Promise<MigrationStatus> {
    const status = await this.status();
    const changed = status.entries.filter((entry) => entry.changed);
    if (changed.length > 0) {
      throw new DbModuleError('MIGRATION_CHECKSUM', `connection "${this.#context.connection}": applied migration${changed.length > 1 ? 's' : ''} ${changed.map(label).join(', ')} changed since ${changed.length > 1 ? 'they were' : 'it was'} applied`, {
        connection: this.#context.connection,
        solutions: ['Restore the applied file and put the change in a new migration'],
      });
    }
    return status;
  }

  /**
   * Marks `version` applied and clean and forgets every version above it, running nothing (as
   * golang-migrate's force): after a failed migration outside a transaction was repaired by hand.
   */
  async force(version: string | number | bigint): Promise<MigrationStatus> {
    const target = versionOf(version, 'version');
    const files = await readMigrations(this.#context.settings.directory);
    await this.#locked(files, async (session) => {
      const applied = await this.#history.applied(session);
      for (const entry of applied) if (entry.version > target) await this.#history.remove(session, entry.version);
      const existing = applied.find((entry) => entry.version === target);
      if (existing) {
        if (existing.dirty) await this.#history.finish(session, target, existing.durationMs);
        return;
      }
      const file = files.find((candidate) => candidate.version === target);
      if (!file) throw new ConfigError('CONFIG_INVALID', `force: no migration has version ${target} in ${this.#context.settings.directory}`);
      await this.#history.record(session, { version: file.version, name: file.name, checksum: file.checksum, durationMs: 0, dirty: false });
    });
    return this.status();
  }

  /**
   * `fn` on one session under the migration lock, the history table ensured (a golang-migrate
   * table under its name adopted); the lock released on that session.
   */
  #locked<T>(files: readonly MigrationFile[], fn: (session: Queryable) => Promise<T>): Promise<T> {
    return this.#context.holdSession(async (session) => {
      await this.#lock.acquire(session);
      let result: T;
      try {
        await this.#history.ensure(session);
        if (await this.#history.adoptGolangMigrate(session, files)) {
          this.#context.logger.info("Adopted golang-migrate's history table: every migration up to its version is recorded applied", { connection: this.#context.connection, table: this.#context.settings.table });
        }
        result = await fn(session);
      } catch (error) {
        // SQLite: what was applied before the failure stays applied (each migration was a savepoint).
        // The session is discarded either way: nothing of a failed run is left on it.
        await this.#release(session).catch(() => {});
        throw markSessionBroken(error);
      }
      await this.#release(session);
      return result;
    });
  }

  /**
   * Releases the lock on the session that holds it. If that fails the session is destroyed, not
   * pooled: the server releases a lock with the session that held it.
   */
  async #release(session: Queryable): Promise<void> {
    try {
      await this.#lock.release(session);
    } catch (error) {
      this.#context.logger.warn('Releasing the migration lock failed; its session is discarded, which releases it', { connection: this.#context.connection, error: messageOf(error) });
      throw markSessionBroken(error);
    }
  }

  async #apply(session: Queryable, file: MigrationFile, direction: 'up' | 'down'): Promise<MigrationStepReport> {
    const { connection, events, driver } = this.#context;
    const step = (direction === 'up' ? file.up : file.down)!;
    const id = label(file);
    const version = String(file.version);
    const started = performance.now();
    events.emit('migration.started', { connection, id, version });
    // a SQL file is split once: to run it, and to see whether it manages its own transaction
    const work: Work = step.kind === 'sql' ? { kind: 'sql', statements: splitSql(step.sql, driver) } : step;
    const inTransaction = file.transactional && driver !== 'mysql' && !managesOwnTransaction(work);
    try {
      if (this.#lock.isTransaction) {
        // SQLite: the run is one transaction; a migration is a savepoint in it
        const savepoint = `dbmodule_migration_${file.version}`;
        await session.query(`SAVEPOINT ${savepoint}`);
        try {
          await run(work, session);
          await this.#record(session, file, direction, performance.now() - started);
          await session.query(`RELEASE ${savepoint}`);
        } catch (error) {
          await session.query(`ROLLBACK TO ${savepoint}`).then(() => session.query(`RELEASE ${savepoint}`));
          throw error;
        }
      } else if (inTransaction) {
        await session.transaction(async (tx) => {
          await run(work, tx);
          await this.#record(tx, file, direction, performance.now() - started);
        });
      } else {
        // recorded dirty first: a failure part-way leaves a trace that stops the next run
        if (direction === 'up') await this.#history.record(session, { version: file.version, name: file.name, checksum: file.checksum, durationMs: 0, dirty: true });
        else await this.#history.markDirty(session, file.version);
        await run(work, session);
        await this.#record(session, file, direction, performance.now() - started, true);
      }
    } catch (error) {
      const durationMs = performance.now() - started;
      events.emit('migration.failed', { connection, id, version, durationMs, message: messageOf(error) });
      throw new DbModuleError(
        'MIGRATION_FAILED',
        `connection "${connection}": migration ${id} (${direction}) failed: ${messageOf(error)}${inTransaction || this.#lock.isTransaction ? '; it was rolled back' : '; it ran outside a transaction and is recorded dirty: repair the schema, then `dbmodule migrate force VERSION`'}`,
        { connection, cause: error, ...(error instanceof QueryError && error.driverCode ? { possibleCauses: [`the database refused a statement (${error.driverCode})`] } : {}) },
      );
    }
    const durationMs = performance.now() - started;
    events.emit('migration.completed', { connection, id, version, durationMs });
    this.#context.logger.info(direction === 'up' ? 'Migration applied' : 'Migration reverted', { connection, version, name: file.name, duration_ms: Math.round(durationMs) });
    return { version, name: file.name, durationMs };
  }

  /** The history after a migration: up adds (or, after a dirty start, finishes) its row; down removes it. */
  async #record(session: Queryable, file: MigrationFile, direction: 'up' | 'down', durationMs: number, startedDirty = false): Promise<void> {
    if (direction === 'down') await this.#history.remove(session, file.version);
    else if (startedDirty) await this.#history.finish(session, file.version, durationMs);
    else await this.#history.record(session, { version: file.version, name: file.name, checksum: file.checksum, durationMs, dirty: false });
  }

  #refuseDirty(applied: readonly AppliedMigration[]): void {
    const dirty = applied.find((entry) => entry.dirty);
    if (!dirty) return;
    throw new DbModuleError('MIGRATION_DIRTY', `connection "${this.#context.connection}": migration ${label(dirty)} started and did not finish (it ran outside a transaction); nothing more runs until it is resolved`, {
      connection: this.#context.connection,
      solutions: [`Check the schema against ${label(dirty)}, finish or undo it by hand, then run \`dbmodule migrate force ${dirty.version}\` (or force the version before it)`],
    });
  }

  #warnChanged(files: readonly MigrationFile[], applied: readonly AppliedMigration[]): void {
    const checksums = new Map(files.map((file) => [file.version, file.checksum]));
    for (const entry of applied) {
      const checksum = checksums.get(entry.version);
      if (checksum !== undefined && checksum !== entry.checksum) {
        this.#context.logger.warn('An applied migration changed since it was applied (dbmodule migrate verify fails on it)', { connection: this.#context.connection, version: String(entry.version), name: entry.name });
      }
    }
  }

  /** The history as it stands: none without a table; golang-migrate's read as every file up to its version. */
  async #appliedIfAny(session: Queryable, files: readonly MigrationFile[]): Promise<AppliedMigration[]> {
    try {
      const golang = await this.#history.golangMigrateState(session);
      if (golang) {
        const current = golang.version;
        return files
          .filter((file) => current !== undefined && file.version <= current)
          .map((file) => ({ version: file.version, name: file.name, checksum: file.checksum, appliedAt: new Date(0), durationMs: 0, dirty: golang.dirty && file.version === current }));
      }
      return await this.#history.applied(session);
    } catch (error) {
      if (isMissingTable(error)) return [];
      throw error;
    }
  }
}

// --- internal ---

/** A step ready to run: a module's function, or a SQL file's statements. */
type Work = Extract<MigrationStep, { kind: 'module' }> | { readonly kind: 'sql'; readonly statements: readonly string[] };

async function run(work: Work, q: Queryable): Promise<void> {
  if (work.kind === 'module') {
    await work.run(q);
    return;
  }
  for (const statement of work.statements) await q.query(statement);
}

/** A SQL file with its own BEGIN / COMMIT statements (common in golang-migrate directories) runs as written, outside ours. */
function managesOwnTransaction(work: Work): boolean {
  return work.kind === 'sql' && work.statements.some((statement) => TRANSACTION_CONTROL.test(statement.replace(LEADING_COMMENTS, '')));
}

const TRANSACTION_CONTROL = /^(BEGIN|START\s+TRANSACTION|COMMIT|END)(\s+(WORK|TRANSACTION))?\s*$/i;
const LEADING_COMMENTS = /^(\s*(--[^\n]*(\n|$)|#[^\n]*(\n|$)|\/\*[\s\S]*?\*\/))*\s*/;

/** `<version>_<name>`: how messages and events name a migration. */
function label(migration: { readonly version: bigint | string; readonly name: string }): string {
  return `${migration.version}_${migration.name}`;
}

function versionOf(value: string | number | bigint, what: string): bigint {
  const text = String(value).trim();
  if (!/^\d+$/.test(text)) throw new ConfigError('CONFIG_INVALID', `${what}: expected a migration version (digits), received "${text}"`);
  return BigInt(text);
}

/** The history table does not exist yet (PostgreSQL 42P01, MySQL 1146, SQLite "no such table"). */
function isMissingTable(error: unknown): boolean {
  if (!(error instanceof QueryError)) return false;
  return error.driverCode === '42P01' || error.driverCode === 'ER_NO_SUCH_TABLE' || /no such table/i.test(error.message);
}
