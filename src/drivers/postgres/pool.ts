import type { PoolClient, QueryResult as PgQueryResult } from 'pg';
import { DbModuleError } from '../../errors.js';
import { driverError } from '../driver-error.js';
import { DEAD_SESSION_ATTEMPTS, diedBeforeRunning, isSessionBroken } from '../session-health.js';
import { closedWhileRunning, closedWhileWaiting, type Terminable } from '../termination.js';
import type { DriverPool, DriverPoolFactory, DriverPoolOptions, DriverSession, PoolStats, QueryResult, SessionObserver } from '../types.js';
import { buildPoolConfig } from './config.js';
import { postgresDialect } from './dialect.js';
import { toPostgresError, type PostgresErrorContext } from './errors.js';
import { loadPg } from './load-driver.js';
import { createPostgresSessionPool, type PostgresSessionPool } from './session-pool.js';

/** pg answers a multi-statement text with one result per statement; the last one is the answer. */
function toQueryResult<T>(result: PgQueryResult | PgQueryResult[]): QueryResult<T> {
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  if (!last) return { rows: [], rowCount: 0 };
  // pg's rowCount is null for statements without a count in their command tag (DDL, SHOW, ...)
  return { rows: last.rows as T[], rowCount: last.rowCount ?? last.rows.length };
}

/** One session held by `withSession`; refuses further work once it has proved broken. */
class PostgresSession implements DriverSession {
  readonly #client: PoolClient;
  readonly #context: PostgresErrorContext;
  readonly #terminated: () => boolean;
  broken: DbModuleError | undefined;

  constructor(client: PoolClient, context: PostgresErrorContext, terminated: () => boolean) {
    this.#client = client;
    this.#context = context;
    this.#terminated = terminated;
  }

  async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    if (this.broken) {
      // a statement queued behind a timed-out one would wait for the server to finish it
      throw driverError(DbModuleError, 'CONNECTION_LOST', `this session was discarded after ${this.broken.code}; the statement was not sent`, {
        connection: this.#context.connection,
        retryable: false,
        cause: this.broken,
      });
    }
    try {
      return toQueryResult<T>(await this.#client.query(sql, params as unknown[] | undefined));
    } catch (error) {
      const mapped = toPostgresError(error, this.#context);
      if (isSessionBroken(mapped)) this.broken = mapped;
      throw this.#terminated() ? closedWhileRunning(this.#context.connection, mapped) : mapped;
    }
  }
}

class PostgresDriverPool implements DriverPool, Terminable {
  readonly driver = 'postgres' as const;
  readonly native: PostgresSessionPool;
  readonly #maxOpen: number;
  readonly #maxIdle: number;
  readonly #connectionTimeout: number;
  readonly #acquireContext: PostgresErrorContext;
  readonly #queryContext: PostgresErrorContext;
  #closing: Promise<void> | undefined;
  #terminated = false;

  constructor(native: PostgresSessionPool, options: DriverPoolOptions, endpoint: string) {
    const config = options.plan.settings;
    this.native = native;
    this.#maxOpen = config.max_open_connections;
    this.#maxIdle = config.max_idle_connections;
    this.#connectionTimeout = config.connection_timeout;
    this.#acquireContext = { connection: config.name, phase: 'acquire', endpoint };
    this.#queryContext = { connection: config.name, phase: 'query', endpoint };
  }

  query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    // callbacks end to end (pg-pool's and pg's own): one promise per query, none per checkout
    return new Promise((resolve, reject) => this.#attempt(sql, params as unknown[] | undefined, 1, resolve, reject));
  }

  #attempt<T>(sql: string, params: unknown[] | undefined, attempt: number, resolve: (result: QueryResult<T>) => void, reject: (error: unknown) => void): void {
    if (this.#closing || this.native.ending) return reject(this.#closedError());
    this.native.connect((acquireError, client) => {
      if (!client) return reject(this.#acquireError(acquireError));
      try {
        // undefined values, as before: the simple protocol, so a multi-statement text still works
        client.query(sql, params as unknown[], (error: Error | null, result: PgQueryResult | PgQueryResult[]) => {
          if (error) return this.#failed(client, error, sql, params, attempt, resolve, reject);
          client.release();
          resolve(toQueryResult<T>(result));
        });
      } catch (error) {
        this.#failed(client, error, sql, params, attempt, resolve, reject);
      }
    });
  }

  #failed<T>(client: PoolClient, error: unknown, sql: string, params: unknown[] | undefined, attempt: number, resolve: (result: QueryResult<T>) => void, reject: (error: unknown) => void): void {
    const mapped = toPostgresError(error, this.#queryContext);
    client.release(isSessionBroken(mapped));
    if (this.#terminated) return reject(closedWhileRunning(this.#queryContext.connection, mapped));
    // the statement provably never left the client: another session runs it, transparently
    if (attempt < DEAD_SESSION_ATTEMPTS && diedBeforeRunning(mapped)) return this.#attempt(sql, params, attempt + 1, resolve, reject);
    reject(mapped);
  }

  async withSession<T>(fn: (session: DriverSession) => Promise<T>): Promise<T> {
    const client = await this.#acquire();
    const session = new PostgresSession(client, this.#queryContext, () => this.#terminated);
    let destroy = false;
    try {
      return await fn(session);
    } catch (error) {
      destroy = isSessionBroken(error);
      throw error;
    } finally {
      client.release(destroy || session.broken !== undefined);
    }
  }

  async ping(): Promise<void> {
    const started = performance.now();
    const client = await this.#acquire();
    // the health query gets what is left of connection_timeout, so ping as a whole stays within it
    const remaining = Math.max(1, Math.ceil(this.#connectionTimeout - (performance.now() - started)));
    const queryTimeout = this.#connectionTimeout > 0 ? { query_timeout: remaining } : {};
    try {
      await client.query({ text: postgresDialect.healthCheckQuery, ...queryTimeout });
    } catch (error) {
      const mapped = toPostgresError(error, this.#queryContext);
      client.release(true);
      throw mapped;
    }
    client.release();
  }

  stats(): PoolStats {
    const { totalCount: total, idleCount: idle, waitingCount: waiting } = this.native;
    return { total, idle, inUse: total - idle, waiting, maxOpen: this.#maxOpen, maxIdle: this.#maxIdle };
  }

  observeSessions(observer: SessionObserver): void {
    this.native.observeSessions(observer);
  }

  close(): Promise<void> {
    this.#closing ??= this.native.end();
    return this.#closing;
  }

  terminate(): number {
    this.#terminated = true;
    return this.native.terminateInUse(() => closedWhileWaiting(this.#acquireContext.connection));
  }

  async #acquire(): Promise<PoolClient> {
    if (this.#closing || this.native.ending) throw this.#closedError();
    try {
      return await this.native.connect();
    } catch (error) {
      throw this.#acquireError(error);
    }
  }

  #acquireError(error: unknown): DbModuleError {
    if (error instanceof DbModuleError) return error;
    if (this.native.ending) return this.#closedError(error);
    return toPostgresError(error, this.#acquireContext);
  }

  #closedError(cause?: unknown): DbModuleError {
    const connection = this.#acquireContext.connection;
    return driverError(DbModuleError, 'DATABASE_CLOSED', 'the pool is closed', { connection, retryable: false, cause });
  }
}

/**
 * Creates the PostgreSQL pool of one connection: a real `pg.Pool` (`native`) with every pool
 * setting enforced on it, and the driver-neutral {@link DriverPool} around it. No session is
 * opened until the first query or ping.
 * @public
 */
export const createPostgresPool: DriverPoolFactory = async (options) => {
  const pg = await loadPg();
  const { plan, logger, clock } = options;
  const config = plan.settings;
  const connection = plan.name;
  const endpoint = `${plan.host}:${plan.port}`;
  const { onAuthFailure, login } = options;
  const native = createPostgresSessionPool(pg, buildPoolConfig(options), {
    maxIdle: config.max_idle_connections,
    lifetimeMs: config.connection_max_lifetime,
    checkIdleSessions: config.check_idle_sessions,
    clock,
    cancelTimeoutMs: config.connection_timeout > 0 ? config.connection_timeout : 10_000,
    onIdleError: (error) =>
      logger.warn('idle session failed and was removed from the pool', { connection, endpoint, code: (error as { code?: unknown }).code, error: error.message }),
    onSessionError: (error) => logger.debug('session in use failed', { connection, endpoint, error: error.message }),
    ...(onAuthFailure
      ? {
          authRetry: {
            connection,
            timeoutMs: config.connection_timeout,
            classify: (error: unknown) => toPostgresError(error, { connection, phase: 'connect', endpoint }),
            onAuthFailure,
            // an ORM on the native pool gets pg's own error, as it would without the hook
            keepDriverError: true,
            logger,
          },
        }
      : {}),
    ...(login ? { login } : {}),
  });
  return new PostgresDriverPool(native, options, endpoint);
};
