import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { ConnectionConfig, DriverName } from '../config/types.js';
import type { ParsedDsn } from '../dsn/types.js';
import type { Logger } from '../logging.js';

/** @public */
export interface QueryResult<T = Record<string, unknown>> {
  rows: T[];
  /** Rows returned (SELECT) or affected (INSERT/UPDATE/DELETE). */
  rowCount: number;
}

/** Pool counters, the same shape on every driver. @public */
export interface PoolStats {
  /** Sessions open on the server (idle + in use + being opened). */
  total: number;
  idle: number;
  inUse: number;
  /** Callers waiting for a session. */
  waiting: number;
  maxOpen: number;
  maxIdle: number;
}

/** A source of wall-clock time; tests substitute a controllable one. @public */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** One server session held exclusively (a transaction runs on one). */
export interface DriverSession {
  query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
}

/**
 * Everything a driver pool needs, already validated and normalised.
 * `password` is the seam for IAM: called once for every new physical connection.
 */
export interface DriverPoolOptions {
  readonly config: ConnectionConfig;
  readonly dsn: ParsedDsn;
  /** Overrides the DSN password; called per physical connection. */
  readonly password?: () => Promise<string>;
  /** TLS options; when set, they replace whatever `sslmode`/`ssl` the DSN said. */
  readonly tls?: TlsConnectionOptions;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** The driver-specific half of a connection; `Connection` adds events, timing and transactions on top. */
export interface DriverPool {
  readonly driver: DriverName;
  /** The driver's own pool (pg.Pool, mysql2 Pool, a SQLite handle pool), with every pool setting enforced. */
  readonly native: unknown;
  query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Runs `fn` on one exclusively held session; the session is destroyed instead of reused if `fn` reports it broken. */
  withSession<T>(fn: (session: DriverSession) => Promise<T>): Promise<T>;
  /** Opens (or reuses) a session and runs the dialect's health query. */
  ping(): Promise<void>;
  stats(): PoolStats;
  /** Waits for sessions in use to be released, then closes every session. */
  close(): Promise<void>;
}

/** SQL differences between dialects, as data. */
export interface Dialect {
  readonly healthCheckQuery: string;
  begin(isolation?: IsolationLevel): string[];
  savepoint(name: string): string;
  releaseSavepoint(name: string): string;
  rollbackToSavepoint(name: string): string;
}

/** @public */
export type IsolationLevel = 'read uncommitted' | 'read committed' | 'repeatable read' | 'serializable';

export type DriverPoolFactory = (options: DriverPoolOptions) => Promise<DriverPool>;
