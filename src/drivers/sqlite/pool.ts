import type BetterSqlite3 from 'better-sqlite3';
import { DbModuleError, QueryError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { driverError } from '../driver-error.js';
import { isSessionBroken } from '../session-health.js';
import { closedWhileRunning, type Terminable } from '../termination.js';
import type { DriverPool, DriverPoolFactory, DriverPoolOptions, DriverSession, PoolStats, QueryResult, SessionObserver } from '../types.js';
import { isBusyError, retryWhileBusy } from './busy.js';
import { sqliteDialect } from './dialect.js';
import { toSqliteError } from './errors.js';
import { runStatement } from './execute.js';
import { sqlitePoolLimits, type SqlitePoolLimits } from './limits.js';
import { loadBetterSqlite3, type SqliteDatabaseConstructor } from './load-driver.js';
import { createHandleOpener } from './open-handle.js';
import { openPeerHandle } from './peer-handle.js';
import { SqliteSessionPool, type PendingHandle } from './session-pool.js';
import { StatementCache } from './statement-cache.js';
import { resolveSqliteTarget, type SqliteTarget } from './target.js';

type Handle = BetterSqlite3.Database;

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

class SqlitePool implements DriverPool, Terminable {
  readonly driver = 'sqlite' as const;
  /** The {@link SqliteSessionPool} of better-sqlite3 handles. */
  readonly native: SqliteSessionPool;
  readonly #connection: string;
  readonly #logger: Logger;
  readonly #caches = new WeakMap<Handle, StatementCache>();
  readonly #timeoutMs: number;
  readonly #queryTimeoutMs: number;
  readonly #busyTimeoutMs: number;
  readonly #openPeer: () => Handle;
  /** The handle lent to ORMs; for an in-memory database, also the pool's one handle (the same database). */
  #peer: Handle | undefined;
  #closing: Promise<void> | undefined;
  #terminated = false;

  constructor(Database: SqliteDatabaseConstructor, target: SqliteTarget, limits: SqlitePoolLimits, options: DriverPoolOptions) {
    const { logger } = options;
    const config = options.plan.settings;
    this.#connection = config.name;
    this.#logger = logger;
    this.#timeoutMs = limits.timeoutMs;
    this.#queryTimeoutMs = Math.max(0, config.query_timeout);
    this.#busyTimeoutMs = target.busyTimeoutMs;
    this.#openPeer = () => openPeerHandle(Database, target, config.name);
    const open = createHandleOpener({ Database, target, connection: config.name, logger, timeoutMs: limits.timeoutMs });
    this.native = new SqliteSessionPool({
      // an in-memory database is one handle: the pool's and the ORM's are the same one
      open: target.memory ? async () => (this.#peer?.open ? this.#peer : (this.#peer = await open())) : open,
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

  observeSessions(observer: SessionObserver): void {
    this.native.observeSessions(observer);
  }

  /**
   * What `connection.pool` lends: one better-sqlite3 Database, opened on first use. A file
   * database gets a handle of its own for ORMs (they serialise on it); an in-memory one shares
   * the pool's only handle, so both see the same tables.
   */
  peerHandle(): Handle {
    if (this.#closing !== undefined) throw this.#closedError();
    if (!this.#peer?.open) this.#peer = this.#openPeer();
    return this.#peer;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  terminate(): number {
    this.#terminated = true;
    return this.native.terminateInUse();
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
    return driverError(QueryError, 'QUERY_FAILED', 'session used after withSession() returned; its handle belongs to another caller now', {
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
        throw driverError(QueryError, 'QUERY_TIMEOUT', `the database stayed locked by another connection for query_timeout (${waitMs}ms)`, {
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
    return this.#terminated ? closedWhileRunning(this.#connection, failure) : failure;
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
          driverError(QueryError, 'QUERY_TIMEOUT', `no SQLite handle became free within query_timeout (${ms}ms)`, {
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
    return driverError(DbModuleError, 'DATABASE_CLOSED', 'the SQLite pool is closed', { connection: this.#connection });
  }

  async #shutdown(): Promise<void> {
    await this.native.destroy();
    // a pool handle (in memory) closes through the pool; a handle of its own is closed here
    if (this.#peer?.open) this.#peer.close();
    this.#logger.debug('Closed SQLite pool', { connection: this.#connection });
  }
}

/**
 * Creates the pool of an SQLite connection (better-sqlite3, loaded on first use).
 *
 * `native` is a {@link SqliteSessionPool}. File databases use WAL, and a statement that
 * finds the database locked waits for it (up to `connection_timeout`, or `_busy_timeout`
 * in the DSN) without blocking the event loop. `query_timeout` bounds waiting for a handle
 * or a lock; a statement that is already running cannot be interrupted (better-sqlite3 is
 * synchronous), so one that overruns is logged at warn instead. The pool is never
 * opened here: the first query or `ping()` opens the first handle.
 */
export const createSqlitePool: DriverPoolFactory = async (options) => {
  const Database = await loadBetterSqlite3();
  if (options.password !== undefined) {
    options.logger.warn('SQLite has no server: the password function is ignored', { connection: options.plan.name });
  }
  const target = resolveSqliteTarget(options.plan.dsn, options.plan.settings, options.logger);
  return new SqlitePool(Database, target, sqlitePoolLimits(options.plan.settings, target, options.logger), options);
};
