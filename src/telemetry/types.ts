/**
 * What the rest of dbmodule sees of telemetry. Declared without `@opentelemetry/api` types, so
 * dbmodule's declarations compile (strict, `skipLibCheck: false`) where that package is not installed.
 */
import type { ConnectionPlan } from '../config/plan.js';
import type { DriverPool, DriverSession, QueryResult } from '../drivers/types.js';
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
}

/** One connection's telemetry. */
export interface ConnectionTelemetry {
  /** The telemetry of statements and transactions on `pool`. */
  on(pool: DriverPool): EndpointTelemetry;
}

/** Spans and measurements of statements and transactions on one endpoint. */
export interface EndpointTelemetry {
  /** Runs one statement on `runner` in a CLIENT span, measured in `db.client.operation.duration`. */
  query<T>(runner: StatementRunner, sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Checks out a session of `pool` with tracing suppressed, then runs `body` on it in the caller's context. */
  withSession<T>(pool: DriverPool, body: (session: DriverSession) => Promise<T>): Promise<T>;
  /** Runs a transaction scope (depth 0: the transaction; deeper: a savepoint) in an INTERNAL span. */
  transaction<T>(depth: number, isolation: string, run: () => Promise<T>): Promise<T>;
}
