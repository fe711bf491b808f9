import type { DriverName } from '../driver-name.js';

export type { DriverName };

/** @public */
export interface IamAuthConfig {
  readonly enabled: boolean;
  /** Region the token is signed for; when absent it is parsed from the RDS hostname. */
  readonly region?: string;
  /** Database user; takes precedence over the DSN's username. */
  readonly db_user?: string;
  /** Host the token is signed for (tunnels, CNAMEs); default: the DSN host. */
  readonly signing_host?: string;
  /** Port the token is signed for; default: the DSN port (5432 / 3306). */
  readonly signing_port?: number;
  /** New IAM connections per second per process for this endpoint. Default: 50 (RDS throttles at 200/s). */
  readonly max_connects_per_second?: number;
}

/**
 * One validated connection. Durations are milliseconds in the resolved config
 * (the file and env accept Go durations or seconds). `dsn` is secret-bearing:
 * `JSON.stringify` and `util.inspect` of a resolved config show it redacted.
 * @public
 */
export interface ConnectionConfig {
  readonly name: string;
  readonly driver: DriverName;
  readonly dsn: string;
  /** Never more server sessions than this. Default 10 (1 for SQLite `:memory:`). */
  readonly max_open_connections: number;
  /** Idle sessions beyond this are closed. Default: max_open_connections. */
  readonly max_idle_connections: number;
  /** Sessions older than this are replaced when released (with jitter); 0 = no limit. Default 0. */
  readonly connection_max_lifetime: number;
  /** Idle sessions older than this are closed; 0 = no limit. Default 0. */
  readonly connection_max_idle_time: number;
  /** Budget for connect + ping, and for acquiring a session from a full pool. Default 10000. */
  readonly connection_timeout: number;
  /** Bounds one query; the session is destroyed when it fires. 0 = none. Default 0. */
  readonly query_timeout: number;
  readonly aws_iam_auth: IamAuthConfig;
}

/** Where a resolved value came from: `file <path>`, `env <VARIABLE>`, `object`, or `default`. @public */
export type ValueSource = string;

/** @public */
export interface DatabaseConfig {
  readonly default: string;
  readonly connections: Readonly<Record<string, ConnectionConfig>>;
  /** Source of every value, keyed by path (`connections.writer.dsn`, `default`). */
  readonly sources: Readonly<Record<string, ValueSource>>;
  /** Deprecation and consistency warnings found while loading (never secrets). */
  readonly warnings: readonly string[];
}
