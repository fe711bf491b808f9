/**
 * What the rest of dbmodule sees of telemetry. Declared without `@opentelemetry/api` types, so
 * dbmodule's declarations compile (strict, `skipLibCheck: false`) where that package is not installed.
 */
import type { ConnectionPlan, IamConnectionPlan, SecretConnectionPlan } from '../config/plan.js';
import type { AuthFailure, AuthFailureDecision, DriverPool, DriverSession, QueryResult } from '../drivers/types.js';
import type { DbModuleError } from '../errors.js';
import type { FailoverReason, SecretFetchReason } from '../events.js';
import type { RefreshReport } from '../iam/token-provider.js';
import type { Logger } from '../logging.js';

/** What runs a statement: a driver pool, or the session a transaction holds. */
export interface StatementRunner {
  query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
}

/** A Database's telemetry: it knows where every pool goes, so a statement on an instance or a replica names that server. */
export interface DatabaseTelemetry {
  /** Remembers the plan `pool` was opened from (a connection's, an instance's, a replica's). */
  registerPool(pool: DriverPool, plan: ConnectionPlan): void;
  /** The telemetry of one connection, opened on `pool` (MySQL: its server is asked once what it is). */
  connection(plan: ConnectionPlan, pool: DriverPool, logger: Logger): Promise<ConnectionTelemetry>;
  /** Spans of dbmodule's own work (IAM tokens and logins, topology, failover, waiting for a session) and the pool metrics. */
  readonly internal: InternalTelemetry;
}

/** One connection's telemetry. */
export interface ConnectionTelemetry {
  /** The telemetry of statements and transactions on `pool`. */
  on(pool: DriverPool): EndpointTelemetry;
  /**
   * Traces what is run through `pool`'s native pool, as `connection.pool` lends it to ORMs, in the
   * spans of {@link on}: PostgreSQL and MySQL by hooks the native pool carries from now on
   * (undefined is returned); SQLite by the wrapper of the lent Database's view, returned for
   * `borrowedPool`. Called only when telemetry is on: off, the native pool carries no hook.
   */
  traceLent(pool: DriverPool): LentMethodWrapper | undefined;
}

/** Replaces a method of a lent native object (`prepare`, `exec`) with a traced one, or leaves it (undefined). */
export type LentMethodWrapper = (key: PropertyKey, method: (...args: unknown[]) => unknown) => ((...args: unknown[]) => unknown) | undefined;

/**
 * The CLIENT span of one statement a native pool's session runs (see {@link EndpointTelemetry.statement}):
 * the same span and measurement as {@link EndpointTelemetry.query}'s.
 */
export interface StatementSpan {
  /** Runs the driver call with this span active and the driver's own tracing suppressed. */
  run<T>(call: () => T): T;
  /** `callback`, made to run in the context the statement was started in (the caller's work after it is traced as usual). */
  bind<F extends (...args: never[]) => unknown>(callback: F): F;
  /** Ends the span and records `db.client.operation.duration`; later calls of `end` or `fail` do nothing. */
  end(): void;
  /** Ends the span as failed with `error` (the driver's error, classified as dbmodule classifies it); later calls do nothing. */
  fail(error: unknown): void;
  /** The text to send for `sql`: with this span's trace context as a sqlcommenter comment when `sqlcommenter` is on, else `sql`. */
  sent(sql: string): string;
}

/** Spans and measurements of statements and transactions on one endpoint. */
export interface EndpointTelemetry {
  /** Runs one statement on `runner` in a CLIENT span, measured in `db.client.operation.duration`. */
  query<T>(runner: StatementRunner, sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Checks out a session of `pool` with tracing suppressed, then runs `body` on it in the caller's context. */
  withSession<T>(pool: DriverPool, body: (session: DriverSession) => Promise<T>): Promise<T>;
  /** Runs a transaction scope (depth 0: the transaction; deeper: a savepoint) in an INTERNAL span. */
  transaction<T>(depth: number, isolation: string, run: () => Promise<T>): Promise<T>;
  /**
   * Starts the CLIENT span of a statement sent on one of the native pool's sessions (an ORM's, on
   * `connection.pool`), the child of the active span; undefined when tracing is suppressed there:
   * inside {@link query} (dbmodule's own statement, already in its span) or where the application
   * turned tracing off.
   */
  statement(sql: string): StatementSpan | undefined;
  /**
   * Runs a checkout of the native pool (`connect`) with tracing suppressed (a driver
   * instrumentation's `pg-pool.connect` span would be a second CLIENT span), handing it
   * `callback` made to run in the caller's context: a waiter served by another caller's release
   * runs in its own context, not in the releaser's.
   */
  checkout<F extends (...args: never[]) => unknown, R>(connect: (callback: F | undefined) => R, callback: F | undefined): R;
}

/**
 * The INTERNAL spans of dbmodule's own work and the pool metrics (src/telemetry/internal-spans.ts,
 * pool-metrics.ts). Nothing here runs per statement: token refreshes, session openings, topology
 * reads and failovers only.
 */
export interface InternalTelemetry {
  /** The token and login telemetry of one IAM pool (the connection's, or an instance's). */
  iam(plan: IamConnectionPlan): IamTelemetry;
  /** The secret fetches of one `secrets_manager` connection. */
  secret(plan: SecretConnectionPlan): SecretTelemetry;
  /** The topology and failover telemetry of one cluster connection. */
  cluster(plan: ConnectionPlan): ClusterTelemetry;
  /** `pool` was opened from `plan`: its metrics are reported from now on, its checkouts observed (`instance`: a cluster instance's or a replica's pool). */
  poolOpened(pool: DriverPool, plan: ConnectionPlan, instance: boolean): void;
  /** `pool` closed: its metrics stop. */
  poolClosed(pool: DriverPool): void;
  /** The Database closed: every pool's metrics stop. */
  close(): void;
}

/** One IAM pool's spans and counters. */
export interface IamTelemetry {
  /** A token refresh ended (signed or failed), as the token provider timed it. */
  refreshed(report: RefreshReport): void;
  /** Runs the auth-failure hook (`decide`) for a login the server refused. */
  authFailure(failure: AuthFailure, decide: (failure: AuthFailure) => Promise<AuthFailureDecision>): Promise<AuthFailureDecision>;
}

/** One `secrets_manager` connection's spans. */
export interface SecretTelemetry {
  /** Runs one fetch of the secret (`reason`: initial, refresh, rejected) in a `secret.fetch` span: its version id, never a value. */
  fetch<T extends { readonly versionId: string }>(reason: SecretFetchReason, run: () => Promise<T>): Promise<T>;
}

/** What started a failover: the writer's instance id, why, and the error code that made it suspect. */
export interface FailoverStart {
  readonly from: string;
  readonly reason: FailoverReason;
  readonly code?: string | undefined;
}

/** What a `topology.refresh` span reports of a refresh's result (the cluster's TopologySnapshot has it). */
export interface TopologyReadout {
  readonly instances: ReadonlyArray<{ readonly id: string; readonly role: 'writer' | 'reader' }>;
}

/** One cluster connection's spans. */
export interface ClusterTelemetry {
  /** Reads the topology from `source` (`background`: the periodic refresh, not a caller's). */
  topologyRefresh<S extends TopologyReadout>(source: string, background: boolean, read: () => Promise<S>): Promise<S>;
  /** Seeks the new writer (`seek` resolves to its failure, undefined when found; `writer()` then names it). */
  failover(start: FailoverStart, seek: () => Promise<DbModuleError | undefined>, writer: () => string): Promise<DbModuleError | undefined>;
  /** A writer pool a failover left behind closed: its metrics stop. */
  poolClosed(pool: DriverPool): void;
}
