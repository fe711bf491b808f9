/** dbmodule contenders: `connection.query`, and `connection.pool` (the driver's own pool) used directly. */

import type { Pool as PgPool } from 'pg';
import type { Pool as MysqlPool } from 'mysql2';
import { createDatabase, type Database, type TelemetrySetting } from '../../src/index.js';
import type { Clock } from '../../src/drivers/types.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from '../../src/iam/types.js';
import { createLogfmtLogger } from '../../src/logging.js';
import { BENCH_CREDENTIALS } from '../lib/aws.js';
import { MYSQL_URL, PG_URL, serverAddress, type Engine } from '../lib/databases.js';
import { mysqlQuery } from './mysql.js';
import { POOL_SIZE, type QueryTarget, type Route } from './target.js';

export interface DbmoduleOptions {
  readonly maxOpen?: number;
  readonly clock?: Clock;
  /** Default: the fake static keys. */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialProvider;
  /** Extra keys of the connection's configuration. */
  readonly extra?: Record<string, unknown>;
  /** `createDatabase`'s `telemetry` option (default: off, as the configuration says nothing). */
  readonly telemetry?: TelemetrySetting;
}

/** The connection's configuration object, as a user would write it. */
export function dbmoduleConfig(engine: Engine, route: Route, options: DbmoduleOptions = {}): Record<string, unknown> {
  const common = { driver: engine, max_open_connections: options.maxOpen ?? POOL_SIZE, ...options.extra };
  if (route.kind === 'direct') return { connections: { bench: { ...common, ...route.connection, dsn: route.url ?? (engine === 'postgres' ? PG_URL : MYSQL_URL) } } };
  const scheme = engine === 'postgres' ? 'postgresql' : 'mysql';
  const database = serverAddress(engine).database;
  return {
    connections: {
      bench: {
        ...common,
        dsn: `${scheme}://${route.user}@localhost:${route.port}/${database}?sslmode=verify-full&sslrootcert=${encodeURIComponent(route.caFile)}`,
        aws_iam_auth: {
          enabled: true,
          signing_host: route.signingHost,
          signing_port: route.signingPort,
          ...(route.maxConnectsPerSecond ? { max_connects_per_second: route.maxConnectsPerSecond } : {}),
        },
      },
    },
  };
}

/** Opens one database with the connection `bench`; warnings and errors go to stderr. */
export function openDbmodule(engine: Engine, route: Route, options: DbmoduleOptions = {}): Promise<Database> {
  return createDatabase(dbmoduleConfig(engine, route, options), {
    logger: createLogfmtLogger('warn'),
    credentials: options.credentials ?? BENCH_CREDENTIALS,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
  });
}

/** `connection.query(sql, params)`. */
export async function dbmoduleQuery(engine: Engine, route: Route): Promise<QueryTarget> {
  const db = await openDbmodule(engine, route);
  const connection = db.connection();
  return {
    name: 'dbmodule-query',
    label: 'dbmodule connection.query',
    run: (sql, params) => connection.query(sql, params),
    close: () => db.close(),
  };
}

/** `connection.query` with `check_idle_sessions: false`: what the hand-over's wait for the sockets costs (issue 11). */
export async function dbmoduleQueryUnchecked(engine: Engine, route: Route): Promise<QueryTarget> {
  const db = await openDbmodule(engine, route, { extra: { check_idle_sessions: false } });
  const connection = db.connection();
  return {
    name: 'dbmodule-query-unchecked',
    label: 'dbmodule connection.query, check_idle_sessions: false',
    run: (sql, params) => connection.query(sql, params),
    close: () => db.close(),
  };
}

/**
 * `connection.query(sql, params)` with telemetry on, into the OpenTelemetry SDK as production
 * wires it (contenders/otel.ts); `sampled`: `ParentBased(TraceIdRatioBased(0.1))` instead of
 * every span. The SDK is loaded only in this contender's process.
 */
export async function dbmoduleQueryOtel(engine: Engine, route: Route, sampled: boolean): Promise<QueryTarget> {
  const { startBenchSdk, SAMPLED_RATIO } = await import('./otel.js');
  const sdk = startBenchSdk(sampled);
  const db = await openDbmodule(engine, route, { telemetry: { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider } }).catch(async (error: unknown) => {
    await sdk.shutdown();
    throw error;
  });
  const connection = db.connection();
  let statements = 0;
  return {
    name: sampled ? 'dbmodule-query-otel-sampled' : 'dbmodule-query-otel',
    label: sampled ? `dbmodule connection.query, OpenTelemetry sampled ${SAMPLED_RATIO}` : 'dbmodule connection.query, OpenTelemetry',
    run: (sql, params) => {
      statements += 1;
      return connection.query(sql, params);
    },
    verify: () => sdk.verify(statements),
    close: async () => {
      await db.close();
      await sdk.shutdown();
    },
  };
}

/** `connection.pool` used as the driver's pool, the way an ORM uses it. */
export async function dbmodulePool(engine: Engine, route: Route): Promise<QueryTarget> {
  const db = await openDbmodule(engine, route);
  const connection = db.connection();
  const run =
    engine === 'postgres'
      ? ((pool: PgPool) => (sql: string, params?: readonly unknown[]) => pool.query(sql, params as unknown[] | undefined))(connection.pool as PgPool)
      : ((pool: MysqlPool) => (sql: string, params?: readonly unknown[]) => mysqlQuery(pool, sql, params))(connection.pool as MysqlPool);
  return { name: 'dbmodule-pool', label: 'dbmodule connection.pool', run, close: () => db.close() };
}

/** `connection.reader().query(sql, params)`: reads routed to a reader by the connection's topology. */
export async function dbmoduleReader(engine: Engine, route: Route): Promise<QueryTarget> {
  const db = await openDbmodule(engine, route);
  const reader = db.connection().reader();
  return {
    name: 'dbmodule-reader',
    label: 'dbmodule reader().query',
    run: (sql, params) => reader.query(sql, params),
    close: () => db.close(),
  };
}
