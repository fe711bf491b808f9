import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { ConnectionConfig } from '../../config/types.js';
import { DbModuleError, QueryError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { isSessionBroken } from '../session-health.js';
import type { DriverPool, DriverPoolFactory, DriverPoolOptions, DriverSession, PoolStats, QueryResult } from '../types.js';
import { isBusyError, retryWhileBusy } from './busy.js';
import { sqliteDialect } from './dialect.js';
import { toSqliteError } from './errors.js';
import { runStatement } from './execute.js';
import { SqliteHandlePool, type PendingHandle } from './handle-pool.js';
import { loadBetterSqlite3, type SqliteDatabaseConstructor } from './load-driver.js';
import { StatementCache } from './statement-cache.js';
import { resolveSqliteTarget, type SqliteTarget } from './target.js';

type Handle = BetterSqlite3.Database;

// setTimeout's ceiling; a larger value would fire at once.
const MAX_TIMER_MS = 2_147_483_647;

interface PoolLimits {
  maxOpen: number;
  maxIdle: number;
  lifetimeMs: number;
  idleTimeMs: number;
  timeoutMs: number;
}

/**
 * An in-memory database lives and dies with its one handle: a second handle would be a
 * second, empty database, and recycling the handle would drop every table. So `:memory:`
 * gets exactly one handle that is never recycled.
 */
function poolLimits(config: ConnectionConfig, target: SqliteTarget, logger: Logger): PoolLimits {
  const timeoutMs = config.connection_timeout > 0 ? Math.min(config.connection_timeout, MAX_TIMER_MS) : MAX_TIMER_MS;
  const connection = config.name;
  if (!target.memory) {
    const maxOpen = Math.max(1, config.max_open_connections);
    return {
      maxOpen,
      maxIdle: Math.max(0, Math.min(config.max_idle_connections, maxOpen)),
      lifetimeMs: Math.max(0, config.connection_max_lifetime),
      idleTimeMs: Math.max(0, config.connection_max_idle_time),
      timeoutMs,
    };
  }
  if (config.max_open_connections > 1) {
    logger.debug('SQLite in-memory database: max_open_connections forced to 1 (each handle is a separate database)', {
      connection,
      configured: config.max_open_connections,
    });
  }
  const recycling = config.connection_max_lifetime > 0 || config.connection_max_idle_time > 0 || config.max_idle_connections < 1;
  if (recycling) {
    logger.warn('SQLite in-memory database: connection_max_lifetime, connection_max_idle_time and max_idle_connections=0 are ignored (closing the handle would drop the database)', {
      connection,
    });
  }
  return { maxOpen: 1, maxIdle: 1, lifetimeMs: 0, idleTimeMs: 0, timeoutMs };
}

/** One handle held by `withSession`; unusable once `fn` has returned. */
class SqliteSession implements DriverSession {
  #db: Handle | undefined;
  readonly #pool: SqlitePool;

  constructor(pool: SqlitePool, db: Handle) {
    this.#pool = pool;
    this.#db = db;
  }

  async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const db = this.#db;
    if (db === undefined) throw this.#pool.staleSessionError();
    return this.#pool.execute<T>(db, sql, params);
  }

  end(): void {
    this.#db = undefined;
  }
}

class SqlitePool implements DriverPool {
  readonly driver = 'sqlite' as const;
  /** The {@link SqliteHandlePool} of better-sqlite3 handles. */
  readonly native: SqliteHandlePool;
  readonly #connection: string;
  readonly #logger: Logger;
  readonly #caches = new WeakMap<Handle, StatementCache>();
  readonly #timeoutMs: number;
  readonly #queryTimeoutMs: number;
  readonly #busyTimeoutMs: number;
  #closing: Promise<void> | undefined;
  #directoryReady: Promise<unknown> | undefined;

  constructor(Database: SqliteDatabaseConstructor, target: SqliteTarget, limits: PoolLimits, options: DriverPoolOptions) {
    const { config, logger } = options;
    this.#connection = config.name;
    this.#logger = logger;
    this.#timeoutMs = limits.timeoutMs;
    this.#queryTimeoutMs = Math.max(0, config.query_timeout);
    this.#busyTimeoutMs = target.busyTimeoutMs;
    this.native = new SqliteHandlePool({
      open: () => this.#open(Database, target),
      connection: config.name,
      maxOpen: limits.maxOpen,
      maxIdle: limits.maxIdle,
      lifetimeMs: limits.lifetimeMs,
      idleTimeMs: limits.idleTimeMs,
      acquireTimeoutMs: limits.timeoutMs,
      clock: options.clock,
      logger,
    });
  }

  async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const db = await this.#acquire();
    try {
      return await this.execute<T>(db, sql, params);
    } finally {
      this.native.release(db);
    }
  }

  async withSession<T>(fn: (session: DriverSession) => Promise<T>): Promise<T> {
    const db = await this.#acquire();
    const session = new SqliteSession(this, db);
    let broken = false;
    try {
      return await fn(session);
    } catch (error) {
      broken = isSessionBroken(error);
      throw error;
    } finally {
      session.end();
      if (broken) this.native.discard(db);
      else this.native.release(db);
    }
  }

  async ping(): Promise<void> {
    await this.query(sqliteDialect.healthCheckQuery);
  }

  stats(): PoolStats {
    return this.native.stats();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /**
   * Runs one statement on a held handle: synchronously when the database is free, else
   * waiting for the lock without blocking the event loop. Never throws synchronously.
   */
  execute<T>(db: Handle, sql: string, params: readonly unknown[] | undefined): QueryResult<T> | Promise<QueryResult<T>> {
    let cache = this.#caches.get(db);
    if (cache === undefined) {
      cache = new StatementCache(db);
      this.#caches.set(db, cache);
    }
    const started = this.#queryTimeoutMs > 0 ? performance.now() : -1;
    try {
      const result = runStatement<T>(db, cache, sql, params);
      if (started >= 0) this.#warnIfSlow(started);
      return result;
    } catch (error) {
      return this.#recover<T>(db, cache, error, sql, params);
    }
  }

  staleSessionError(): DbModuleError {
    return new QueryError('QUERY_FAILED', `connection "${this.#connection}": session used after withSession() returned; its handle belongs to another caller now`, {
      connection: this.#connection,
    });
  }

  async #recover<T>(db: Handle, cache: StatementCache, error: unknown, sql: string, params: readonly unknown[] | undefined): Promise<QueryResult<T>> {
    if (!isBusyError(error)) throw this.#queryFailure(db, error);
    // query_timeout, when shorter, bounds the wait for a lock: that is the one part of a
    // statement that can be cut short (a running statement cannot: see #warnIfSlow).
    const byQueryTimeout = this.#queryTimeoutMs > 0 && this.#queryTimeoutMs < this.#busyTimeoutMs;
    const waitMs = byQueryTimeout ? this.#queryTimeoutMs : this.#busyTimeoutMs;
    try {
      return await retryWhileBusy(() => runStatement<T>(db, cache, sql, params), error, Date.now() + waitMs);
    } catch (last) {
      if (byQueryTimeout && isBusyError(last)) {
        throw new QueryError('QUERY_TIMEOUT', `connection "${this.#connection}": the database stayed locked by another connection for query_timeout (${waitMs}ms)`, {
          connection: this.#connection,
          driverCode: 'SQLITE_BUSY',
          retryable: !db.inTransaction,
          possibleCauses: ['another connection or process holds a long write transaction'],
          solutions: ['keep write transactions short', 'raise query_timeout'],
          cause: last,
        });
      }
      throw this.#queryFailure(db, last);
    }
  }

  #queryFailure(db: Handle, error: unknown): DbModuleError {
    const failure = toSqliteError(error, { connection: this.#connection, phase: 'query' });
    if (failure.code === 'CONNECTION_LOST') this.native.discard(db);
    return failure;
  }

  // better-sqlite3 runs statements synchronously on the main thread and SQLite's progress
  // handler is compiled out, so nothing can interrupt a running statement: say so instead.
  #warnIfSlow(started: number): void {
    const durationMs = performance.now() - started;
    if (durationMs > this.#queryTimeoutMs) {
      this.#logger.warn('SQLite statement ran longer than query_timeout; a running SQLite statement cannot be interrupted', {
        connection: this.#connection,
        durationMs: Math.round(durationMs),
        queryTimeoutMs: this.#queryTimeoutMs,
      });
    }
  }

  #acquire(): Promise<Handle> {
    if (this.#closing !== undefined) return Promise.reject(this.#closedError());
    const pending = this.native.acquire();
    if (this.#queryTimeoutMs > 0 && this.#queryTimeoutMs < this.#timeoutMs) return this.#acquireWithin(pending, this.#queryTimeoutMs);
    return pending.promise.catch(this.#acquireFailed);
  }

  /** Waits for a handle at most `ms` (query_timeout), leaving no waiter in the queue after. */
  #acquireWithin(pending: PendingHandle, ms: number): Promise<Handle> {
    return new Promise<Handle>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        this.native.cancel(pending);
        reject(
          new QueryError('QUERY_TIMEOUT', `connection "${this.#connection}": no SQLite handle became free within query_timeout (${ms}ms)`, {
            connection: this.#connection,
            retryable: true,
            possibleCauses: ['every handle is held by a long transaction or session'],
            solutions: ['raise max_open_connections or query_timeout', 'keep transactions short'],
          }),
        );
      }, ms);
      pending.promise.then(
        (db) => {
          clearTimeout(timer);
          // The handle was already on its way when the timer fired: give it back.
          if (timedOut) this.native.release(db);
          else resolve(db);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (!timedOut) reject(this.#acquireError(error));
        },
      );
    });
  }

  readonly #acquireFailed = (error: unknown): never => {
    throw this.#acquireError(error);
  };

  #acquireError(error: unknown): DbModuleError {
    if (this.#closing !== undefined && !(error instanceof DbModuleError)) return this.#closedError();
    // A timeout while a handle is still being opened is a slow open, not a full pool.
    const phase = this.native.numPendingCreates() > 0 ? 'connect' : 'acquire';
    return toSqliteError(error, { connection: this.#connection, phase, timeoutMs: this.#timeoutMs });
  }

  #closedError(): DbModuleError {
    return new DbModuleError('DATABASE_CLOSED', `connection "${this.#connection}": the SQLite pool is closed`, { connection: this.#connection });
  }

  async #open(Database: SqliteDatabaseConstructor, target: SqliteTarget): Promise<Handle> {
    const context = { connection: this.#connection, phase: 'connect' as const, path: target.filename };
    const deadline = Date.now() + this.#timeoutMs;
    let db: Handle;
    try {
      if (!target.memory && !target.fileMustExist) await this.#ensureDirectory(target.filename);
      // busy_timeout 0: waits happen in retryWhileBusy, off the event loop's critical path.
      db = new Database(target.filename, { readonly: target.readonly, fileMustExist: target.fileMustExist, timeout: 0 });
    } catch (error) {
      throw toSqliteError(error, context);
    }
    try {
      for (const pragma of target.pragmas) await this.#applyPragma(db, pragma, deadline);
    } catch (error) {
      db.close();
      throw toSqliteError(error, context);
    }
    this.#caches.set(db, new StatementCache(db));
    this.#logger.debug('Opened SQLite handle', { connection: this.#connection, path: target.filename, readonly: target.readonly });
    return db;
  }

  /** Creates the database's directory once per pool (tried again after a failure). */
  #ensureDirectory(filename: string): Promise<unknown> {
    this.#directoryReady ??= mkdir(path.dirname(filename), { recursive: true }).catch((error: unknown) => {
      this.#directoryReady = undefined;
      throw error;
    });
    return this.#directoryReady;
  }

  async #applyPragma(db: Handle, pragma: string, deadline: number): Promise<void> {
    const apply = (): unknown => db.pragma(pragma, { simple: true });
    let result: unknown;
    try {
      result = apply();
    } catch (error) {
      result = await retryWhileBusy(apply, error, deadline);
    }
    const journal = /^journal_mode\s*=\s*(\w+)$/i.exec(pragma);
    if (journal?.[1] !== undefined && String(result).toLowerCase() !== journal[1].toLowerCase()) {
      this.#logger.warn('SQLite kept another journal mode than requested', { connection: this.#connection, requested: journal[1], actual: result });
    }
  }

  async #shutdown(): Promise<void> {
    await this.native.destroy();
    this.#logger.debug('Closed SQLite pool', { connection: this.#connection });
  }
}

/**
 * Creates the pool of an SQLite connection (better-sqlite3, loaded on first use).
 *
 * `native` is a {@link SqliteHandlePool}. File databases use WAL, and a statement that
 * finds the database locked waits for it (up to `connection_timeout`, or `_busy_timeout`
 * in the DSN) without blocking the event loop. `query_timeout` bounds waiting for a handle
 * or a lock; a statement that is already running cannot be interrupted (better-sqlite3 is
 * synchronous), so one that overruns is logged at warn instead. The pool is never
 * opened here: the first query or `ping()` opens the first handle.
 */
export const createSqlitePool: DriverPoolFactory = async (options) => {
  const Database = await loadBetterSqlite3();
  const target = resolveSqliteTarget(options.dsn, options.config, options.logger);
  return new SqlitePool(Database, target, poolLimits(options.config, target, options.logger), options);
};
