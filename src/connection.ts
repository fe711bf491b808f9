import type { ConnectionPlan } from './config/plan.js';
import type { ConnectionConfig, DriverName } from './config/types.js';
import type { NativePools } from './drivers/native-pools.js';
import type { Dialect, DriverPool, DriverSession, PoolStats, QueryResult } from './drivers/types.js';
import { DbModuleError, messageOf } from './errors.js';
import type { DatabaseEventEmitter } from './events.js';
import type { IamConnectionAuth } from './iam-connection.js';
import type { SecretConnectionAuth } from './secret-connection.js';
import type { SecretState } from './secrets/types.js';
import type { TokenState } from './iam/types.js';
import { isTerminable } from './drivers/termination.js';
import { borrowedPool } from './drivers/borrowed-pool.js';
import type { ClusterRouting } from './cluster/cluster.js';
import type { WriterFailover } from './cluster/writer-failover.js';
import type { Topology } from './cluster/types.js';
import type { Reader } from './cluster/reader-router.js';
import { runTransaction, type Queryable, type TransactionOptions } from './transaction.js';
import type { ConnectionTelemetry, LentMethodWrapper } from './telemetry/types.js';

/** The last connection-level failure of a connection, for `health()`. @public */
export interface LastError {
  code: string;
  message: string;
  at: number;
}

/**
 * A named connection: a pool of sessions to one database, with events and transactions.
 * `pool` is the driver's own pool (pg.Pool, mysql2 Pool; for SQLite a better-sqlite3 Database)
 * with every pool setting enforced on it, to hand to an ORM. Its type follows `D`: see {@link Connection}.
 * @public
 */
export class DriverConnection<D extends DriverName = DriverName> implements Queryable {
  readonly name: string;
  readonly driver: D;
  readonly config: ConnectionConfig;
  /** How this connection was resolved: endpoint, login user, TLS, IAM signing. Prints without secrets. */
  readonly plan: ConnectionPlan;
  readonly #pool: DriverPool;
  readonly #dialect: Dialect;
  readonly #events: DatabaseEventEmitter;
  #inFlight = 0;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #lastError: LastError | undefined;
  #borrowed: object | undefined;

  readonly #iam: IamConnectionAuth | undefined;
  readonly #secret: SecretConnectionAuth | undefined;
  #cluster: ClusterRouting | undefined;
  /** Where writes go when the cluster's writer can fail over; undefined otherwise (writes go to `#pool`). */
  #writer: WriterFailover | undefined;
  /** Spans and metrics, when telemetry is on; undefined (one branch per statement) when off. */
  #telemetry: ConnectionTelemetry | undefined;
  /** Telemetry on, SQLite: what puts the lent Database's statements in spans (see `pool`). */
  #lent: LentMethodWrapper | undefined;

  /** @internal Created by `createDatabase`. */
  constructor(plan: ConnectionPlan, pool: DriverPool, dialect: Dialect, events: DatabaseEventEmitter, auth: { iam?: IamConnectionAuth | undefined; secret?: SecretConnectionAuth | undefined } = {}) {
    this.#iam = auth.iam;
    this.#secret = auth.secret;
    this.name = plan.name;
    this.driver = plan.driver as D;
    this.config = plan.settings;
    this.plan = plan;
    this.#pool = pool;
    this.#dialect = dialect;
    this.#events = events;
  }

  /**
   * The driver's native pool, typed by `driver` ({@link NativePools}): pg.Pool, mysql2's Pool, and
   * for SQLite one better-sqlite3 Database (an in-memory database's only handle). On an Aurora or
   * Multi-AZ cluster, a pool of that shape whose every checkout goes to the writer of the moment,
   * so an ORM holding it follows a failover. Its `end()` (SQLite: `close()`) ends nothing, so an
   * ORM's `destroy()` ends the ORM's use: `db.close()` closes the pool.
   */
  get pool(): NativePools[D] {
    // the cluster's routing pool ends nothing either
    return (this.#cluster?.writerNative ?? (this.#borrowed ??= borrowedPool(this.#pool.peerHandle?.() ?? (this.#pool.native as object), this.#lent))) as NativePools[D];
  }

  /**
   * @internal Set by `createDatabase` when telemetry is on, before the connection runs a statement
   * or lends its pool: from then on what ORMs run through `pool` is traced too.
   */
  attachTelemetry(telemetry: ConnectionTelemetry): void {
    this.#telemetry = telemetry;
    this.#lent = telemetry.traceLent(this.#pool);
  }

  /** @internal Set by `createDatabase` once the cluster's topology is known. */
  attachCluster(cluster: ClusterRouting): void {
    this.#cluster = cluster;
    this.#writer = cluster.writer();
  }

  /**
   * Where reads go (DESIGN §9): statements and transactions on a reader chosen by
   * `cluster.reader_selection` among the healthy ones within `max_replica_lag`, or on the writer
   * as `read_from` allows. A connection without a cluster reads from its one server.
   */
  reader(): Reader<D> {
    return (this.#cluster?.reader() as Reader<D> | undefined) ?? this;
  }

  /** The cluster's topology as last refreshed, or undefined for a connection without one. */
  topology(): Topology | undefined {
    return this.#cluster?.topology();
  }

  /** Reads the cluster's topology now instead of at the next `topology_refresh`. */
  async refreshTopology(): Promise<Topology | undefined> {
    return this.#cluster?.refresh();
  }

  /** IAM connections: what the token provider knows (never the token itself). */
  tokenState(): TokenState | undefined {
    return this.#iam?.state();
  }

  /** `secrets_manager` connections: what is known of the secret (never a value). */
  secretState(): SecretState | undefined {
    return this.#secret?.state();
  }

  get lastError(): LastError | undefined {
    return this.#lastError;
  }

  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    return this.#writer ? this.#writer.query<T>(sql, params) : this.queryOn(this.#pool, sql, params);
  }

  /** @internal A statement on `pool` (this connection's, or one of its readers'), with its events and accounting. */
  async queryOn<T>(pool: DriverPool, sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    this.#enter();
    const started = performance.now();
    const telemetry = this.#telemetry;
    try {
      const result = await (telemetry === undefined ? pool.query<T>(sql, params) : telemetry.on(pool).query<T>(pool, sql, params));
      if (this.#events.has('query.executed')) {
        this.#events.emit('query.executed', { connection: this.name, sql, durationMs: performance.now() - started, rowCount: result.rowCount, inTransaction: false });
      }
      return result;
    } catch (error) {
      this.#recordFailure(error);
      if (this.#events.has('query.error')) {
        this.#events.emit('query.error', { connection: this.name, sql, durationMs: performance.now() - started, code: codeOf(error), message: messageOf(error), inTransaction: false });
      }
      throw error;
    } finally {
      this.#leave();
    }
  }

  /** Runs `fn` in a transaction: commits when it returns, rolls back and rethrows when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#writer ? this.#writer.transaction(fn, options) : this.transactionOn(this.#pool, fn, options);
  }

  /** @internal A transaction on one session of `pool`. */
  async transactionOn<T>(pool: DriverPool, fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    this.#enter();
    try {
      const telemetry = this.#telemetry?.on(pool);
      const transact = (session: DriverSession) => runTransaction({ connection: this.name, session, dialect: this.#dialect, events: this.#events, telemetry }, fn, options);
      if (telemetry === undefined) return await pool.withSession(transact);
      // the transaction's span covers the wait for its session too
      return await telemetry.transaction(0, options?.isolation ?? 'default', () => telemetry.withSession(pool, transact));
    } catch (error) {
      this.#recordFailure(error);
      throw error;
    } finally {
      this.#leave();
    }
  }

  /**
   * @internal One session of the writer, held for as long as `fn` runs (migrations hold their lock
   * on it), with transactions on it.
   */
  async holdSession<T>(fn: (session: Queryable) => Promise<T>): Promise<T> {
    this.#enter();
    try {
      const pool = this.#writerPool();
      const telemetry = this.#telemetry?.on(pool);
      const hold = (session: DriverSession) => {
        const context = { connection: this.name, session, dialect: this.#dialect, events: this.#events, telemetry };
        return fn({
          query: <R>(sql: string, params?: readonly unknown[]) => (telemetry === undefined ? session.query<R>(sql, params) : telemetry.query<R>(session, sql, params)),
          transaction: (body, options) =>
            telemetry === undefined ? runTransaction(context, body, options) : telemetry.transaction(0, options?.isolation ?? 'default', () => runTransaction(context, body, options)),
        });
      };
      return await (telemetry === undefined ? pool.withSession(hold) : telemetry.withSession(pool, hold));
    } catch (error) {
      this.#recordFailure(error);
      throw error;
    } finally {
      this.#leave();
    }
  }

  /** Opens (or reuses) a session and runs the dialect's health query, within `connection_timeout`. */
  async ping(): Promise<void> {
    this.#enter();
    try {
      await this.#writerPool().ping();
    } catch (error) {
      this.#recordFailure(error);
      throw error;
    } finally {
      this.#leave();
    }
  }

  stats(): PoolStats {
    return this.#writerPool().stats();
  }

  #writerPool(): DriverPool {
    return this.#writer?.pool ?? this.#pool;
  }

  /**
   * Refuses new work (DATABASE_CLOSED), lets in-flight queries and transactions finish, then
   * closes every session, all within `timeoutMs`: work still running then (a hung query, a
   * session an ORM never released) is cut short, its statement fails with DATABASE_CLOSED and
   * the server is asked to stop it. Idempotent: later calls return the same promise.
   */
  close(timeoutMs = 30_000): Promise<void> {
    this.#closing ??= this.#drainThenClose(timeoutMs);
    return this.#closing;
  }

  async #drainThenClose(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + Math.max(0, timeoutMs);
    if (this.#inFlight > 0) await settlesBy(new Promise<void>((resolve) => (this.#drained = resolve)), deadline);
    try {
      await this.#cluster?.close();
      this.#iam?.close();
      this.#secret?.close();
      // after a failover the writer's pool is another than the connection's own (closed by then)
      const pool = this.#writerPool();
      const closing = this.#writer ? Promise.all([this.#writer.closeWriter(), this.#pool.close()]).then(() => {}) : this.#pool.close();
      if (!(await settlesBy(closing, deadline))) {
        const { inUse, waiting } = pool.stats();
        if (inUse + waiting > 0 && isTerminable(pool)) {
          const ended = pool.terminate();
          this.#events.emit('connection.error', {
            connection: this.name,
            driver: this.driver,
            code: 'DATABASE_CLOSED',
            message: `connection "${this.name}": close() ran out of time (${timeoutMs} ms); ${ended} session(s) still in use were ended`,
            operation: 'close',
          });
        }
        // ended sessions close at once; what still lingers (a KILL on a silent network) goes on in the background
        if (!(await settlesBy(closing, performance.now() + TERMINATE_GRACE_MS))) return;
      }
      await closing;
      this.#events.emit('disconnected', { connection: this.name, driver: this.driver });
    } catch (error) {
      this.#events.emit('connection.error', { connection: this.name, driver: this.driver, code: codeOf(error), message: messageOf(error), operation: 'close' });
      throw error;
    }
  }

  #enter(): void {
    if (this.#closing) {
      throw new DbModuleError('DATABASE_CLOSED', `connection "${this.name}" is closed (or closing); no new queries are accepted`, {
        connection: this.name,
        retryable: false,
      });
    }
    this.#inFlight++;
  }

  #leave(): void {
    if (--this.#inFlight === 0 && this.#drained) this.#drained();
  }

  /** Connection-level failures (not SQL errors) are kept for health() and emitted as `connection.error`. */
  #recordFailure(error: unknown): void {
    const code = codeOf(error);
    if (!CONNECTION_LEVEL_CODES.has(code)) return;
    const message = messageOf(error);
    this.#lastError = { code, message, at: Date.now() };
    const operation = code === 'POOL_TIMEOUT' ? 'acquire' : code === 'CONNECTION_LOST' ? 'query' : 'connect';
    this.#events.emit('connection.error', { connection: this.name, driver: this.driver, code, message, operation });
  }

}

const CONNECTION_LEVEL_CODES: ReadonlySet<string> = new Set([
  'CONNECT_FAILED',
  'CONNECT_TIMEOUT',
  'AUTH_FAILED',
  'TLS_FAILED',
  'POOL_TIMEOUT',
  'CONNECTION_LOST',
  'AWS_CREDENTIALS_UNAVAILABLE',
  'IAM_AUTH_FAILED',
  'SECRET_UNAVAILABLE',
  'SECRET_INVALID',
]);

/** How long close() waits, after ending the sessions still in use, for the pool to finish closing. */
const TERMINATE_GRACE_MS = 1_000;

/** Waits for `work` until the `deadline` (performance.now() time); true when it settled by then. */
async function settlesBy(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = work.then(
    () => true,
    () => true,
  );
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()))));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

function codeOf(error: unknown): string {
  return error instanceof DbModuleError ? error.code : 'QUERY_FAILED';
}

/**
 * A connection, discriminated by `driver`: after `if (connection.driver === 'postgres')`,
 * `connection.pool` is a `pg.Pool`; `'mysql'`: mysql2's `Pool`. No cast to hand it to an ORM.
 * @public
 */
export type Connection = { [D in DriverName]: DriverConnection<D> }[DriverName];
/** The class of every {@link Connection} (for `instanceof`). @public */
export const Connection = DriverConnection;
