import type { Pool, PoolConnection, QueryError as Mysql2QueryError, ResultSetHeader } from 'mysql2';
import type { ConnectionConfig } from '../../config/types.js';
import { DbModuleError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { driverError } from '../driver-error.js';
import { DEAD_SESSION_ATTEMPTS, diedBeforeRunning, isSessionBroken } from '../session-health.js';
import { closedWhileRunning, closedWhileWaiting, type Terminable } from '../termination.js';
import type { DriverPool, DriverPoolFactory, DriverPoolOptions, DriverSession, PoolStats, QueryResult, SessionObserver } from '../types.js';
import { mysqlDialect } from './dialect.js';
import { type MysqlErrorContext, toMysqlError } from './errors.js';
import { redactWhenInspected } from './inspection.js';
import { connectionInternals, internalsOf } from './internals.js';
import { loadMysql2 } from './load-driver.js';
import { buildPoolOptions } from './options.js';
import { MysqlSessionPool, destroySession } from './session-pool.js';

type Outcome<T> = (error: DbModuleError | null, result?: QueryResult<T>) => void;

function toResult<T>(rows: unknown): QueryResult<T> {
  // A SELECT yields an array of rows; INSERT/UPDATE/DELETE a ResultSetHeader.
  if (Array.isArray(rows)) return { rows: rows as T[], rowCount: rows.length };
  return { rows: [], rowCount: (rows as ResultSetHeader | undefined)?.affectedRows ?? 0 };
}

/** What error messages of this connection may name: the connection, host:port, user and database. */
function errorContext(options: DriverPoolOptions, phase: MysqlErrorContext['phase']): MysqlErrorContext {
  const { plan } = options;
  return {
    connection: plan.name,
    phase,
    host: plan.host ?? 'localhost',
    port: plan.port ?? 3306,
    ...(plan.user === undefined ? {} : { user: plan.user }),
    ...(plan.database === undefined ? {} : { database: plan.database }),
  };
}

/** The DriverPool over one mysql2 pool; `native` is that pool, with every setting enforced by {@link MysqlSessionPool}. */
class MysqlDriverPool implements DriverPool, Terminable {
  readonly driver = 'mysql' as const;
  readonly native: Pool;
  readonly #sessions: MysqlSessionPool;
  readonly #config: ConnectionConfig;
  readonly #logger: Logger;
  readonly #context: MysqlErrorContext;
  #closing: Promise<void> | undefined;
  #terminated = false;

  constructor(native: Pool, sessions: MysqlSessionPool, options: DriverPoolOptions) {
    this.native = native;
    this.#sessions = sessions;
    this.#config = options.plan.settings;
    this.#logger = options.logger;
    this.#context = errorContext(options, 'query');
  }

  query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    if (this.#closing) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => {
      const attempt = (n: number): void =>
        this.#sessions.acquire((error, connection) => {
          if (error || !connection) return reject(this.#error(error, 'connect'));
          this.#send<T>(connection, sql, params, this.#config.query_timeout, (failure, result) => {
            // #send destroyed a timed-out session; any other outcome gives it back (a no-op for one mysql2 already dropped).
            if (failure?.code !== 'QUERY_TIMEOUT') connection.release();
            if (failure && n < DEAD_SESSION_ATTEMPTS && !this.#closing && diedBeforeRunning(failure)) return attempt(n + 1);
            if (failure) reject(failure);
            else resolve(result as QueryResult<T>);
          });
        });
      attempt(1);
    });
  }

  async withSession<T>(fn: (session: DriverSession) => Promise<T>): Promise<T> {
    if (this.#closing) throw this.#closedError();
    const connection = await this.#checkout();
    let open = true;
    const session: DriverSession = {
      query: <R>(sql: string, params?: readonly unknown[]) =>
        open
          ? new Promise<QueryResult<R>>((resolve, reject) => {
              this.#send<R>(connection, sql, params, this.#config.query_timeout, (failure, result) => (failure ? reject(failure) : resolve(result as QueryResult<R>)));
            })
          : Promise.reject(
              driverError(DbModuleError, 'QUERY_FAILED', 'this session was already given back to the pool; run queries inside the callback', {
                connection: this.#config.name,
              }),
            ),
    };
    try {
      const result = await fn(session);
      open = false;
      connection.release();
      return result;
    } catch (error) {
      open = false;
      if (isSessionBroken(error)) destroySession(connection);
      else connection.release();
      throw error;
    }
  }

  async ping(): Promise<void> {
    if (this.#closing) throw this.#closedError();
    const budget = this.#config.connection_timeout;
    const started = Date.now();
    const connection = await this.#checkout();
    const left = budget > 0 ? Math.max(1, budget - (Date.now() - started)) : 0;
    await new Promise<void>((resolve, reject) => {
      this.#send(connection, mysqlDialect.healthCheckQuery, undefined, left, (failure) => {
        if (failure?.code !== 'QUERY_TIMEOUT') connection.release();
        if (!failure) return resolve();
        if (failure.code !== 'QUERY_TIMEOUT') return reject(failure);
        reject(
          driverError(DbModuleError, 'CONNECT_TIMEOUT', `ping (${mysqlDialect.healthCheckQuery}) did not answer within connection_timeout (${budget} ms)`, {
            connection: this.#config.name,
            retryable: true,
            cause: failure,
          }),
        );
      });
    });
  }

  stats(): PoolStats {
    const config = this.#config;
    return { ...this.#sessions.stats(), maxOpen: config.max_open_connections, maxIdle: Math.min(config.max_idle_connections, config.max_open_connections) };
  }

  observeSessions(observer: SessionObserver): void {
    this.#sessions.observeSessions(observer);
  }

  close(): Promise<void> {
    this.#closing ??= this.#sessions.whenIdle().then(
      () =>
        new Promise<void>((resolve) => {
          this.native.end((error) => {
            // A session that died meanwhile cannot be ended politely; it is gone either way.
            if (error) this.#logger.debug('MySQL session failed while closing the pool', { connection: this.#config.name, code: error.code, message: error.message });
            resolve();
          });
        }),
    );
    return this.#closing;
  }

  terminate(): number {
    this.#terminated = true;
    const inUse = this.#sessions.terminate(() => closedWhileWaiting(this.#config.name));
    // close() waits for the session pool to be idle before ending the pool: the KILLs still get a session
    for (const connection of inUse) this.#abandon(connection, true);
    return inUse.length;
  }

  #checkout(): Promise<PoolConnection> {
    return new Promise((resolve, reject) => {
      this.#sessions.acquire((error, connection) => (error || !connection ? reject(this.#error(error, 'connect')) : resolve(connection)));
    });
  }

  /**
   * Runs one statement on `connection`, which stays checked out. A statement that exceeds
   * `timeoutMs` gets its session destroyed, and killed on the server, before QUERY_TIMEOUT is reported.
   */
  #send<T>(connection: PoolConnection, sql: string, params: readonly unknown[] | undefined, timeoutMs: number, done: Outcome<T>): void {
    const values = params as unknown[] | undefined;
    const onResult = (error: Mysql2QueryError | null, rows: unknown): void => {
      if (!error) return done(null, toResult<T>(rows));
      if (error.code === 'PROTOCOL_SEQUENCE_TIMEOUT') this.#abandon(connection);
      done(this.#error(error, 'query', params, timeoutMs));
    };
    if (timeoutMs > 0) connection.query({ sql, timeout: timeoutMs }, values, onResult);
    else connection.query(sql, values, onResult);
  }

  /** Destroys a session whose statement overran (or that close() ended), and ends the statement on the server too. */
  #abandon(connection: PoolConnection, terminating = false): void {
    const threadId = connection.threadId;
    // Closing the socket alone makes mysql2 fail the running statement (destroy() would leave it unanswered).
    if (terminating) connectionInternals(connection).stream?.destroy();
    else destroySession(connection);
    // The server keeps executing after the socket closes (it notices only when it writes the result).
    if (typeof threadId !== 'number' || (this.#closing && !terminating)) return;
    this.#sessions.acquireInternal((error, killer) => {
      if (error || !killer) return;
      // bounded: on a silent network the KILL would wait forever and hold a session slot
      const budget = this.#config.connection_timeout;
      const kill = budget > 0 ? { sql: `KILL CONNECTION ${threadId}`, timeout: budget } : { sql: `KILL CONNECTION ${threadId}` };
      killer.query(kill, (killError: Mysql2QueryError | null) => {
        if (killError?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') destroySession(killer);
        else killer.release();
        if (killError) this.#logger.debug('Could not kill a timed-out MySQL session', { connection: this.#config.name, threadId, code: killError.code });
      });
    });
  }

  #error(error: unknown, phase: MysqlErrorContext['phase'], params?: readonly unknown[], timeoutMs?: number): DbModuleError {
    if (this.#terminated && phase === 'query' && !(error instanceof DbModuleError)) return closedWhileRunning(this.#config.name, toMysqlError(error, { ...this.#context, phase }));
    return toMysqlError(error, {
      ...this.#context,
      phase,
      timeoutMs: phase === 'query' ? (timeoutMs ?? this.#config.query_timeout) : this.#config.connection_timeout,
      ...(params === undefined ? {} : { params }),
    });
  }

  #closedError(): DbModuleError {
    return driverError(DbModuleError, 'DATABASE_CLOSED', 'the pool is closed (or closing); no new queries are accepted', {
      connection: this.#config.name,
      retryable: false,
    });
  }
}

/**
 * Creates the MySQL/MariaDB pool of one connection. `native` is mysql2's own callback Pool
 * (what Kysely's MysqlDialect and Drizzle's mysql2 adapter take), with max_open/max_idle/idle
 * time given to mysql2, and acquire timeout, lifetime, per-session passwords and the
 * `onAuthFailure` retry (one max_open slot and one connection_timeout per opening) added to it.
 * @throws DbModuleError `DRIVER_NOT_INSTALLED` when mysql2 is missing; ConfigError `DSN_INVALID` for a bad DSN parameter.
 */
export const createMysqlPool: DriverPoolFactory = async (options) => {
  const mysql = await loadMysql2();
  const poolOptions = buildPoolOptions(options, mysql);
  const native = mysql.createPool(poolOptions);
  redactWhenInspected(internalsOf(native).config.connectionConfig);
  const config = options.plan.settings;
  const connectContext = { ...errorContext(options, 'connect'), timeoutMs: config.connection_timeout };
  const sessions = new MysqlSessionPool(native, {
    connection: config.name,
    acquireTimeoutMs: config.connection_timeout,
    connectTimeoutMs: config.connection_timeout,
    lifetimeMs: config.connection_max_lifetime,
    checkIdleSessions: config.check_idle_sessions,
    password: options.password,
    login: options.login,
    currentPassword: options.currentPassword,
    onAuthFailure: options.onAuthFailure,
    classify: (error) => toMysqlError(error, connectContext),
    clock: options.clock,
    logger: options.logger,
  });
  return new MysqlDriverPool(native, sessions, options);
};
