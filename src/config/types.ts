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
  /**
   * A named profile of the shared AWS config files instead of the default chain (a `role_arn`
   * profile with `source_profile` or `credential_source` included). For IAM signing and Secrets
   * Manager alike, also when `enabled` is false.
   */
  readonly profile?: string;
  /** A role assumed (STS AssumeRole) with the chain's (or `profile`'s) credentials, refreshed before its credentials expire. */
  readonly role_arn?: string;
  /** With `role_arn`: the session name CloudTrail shows. Default: `dbmodule-<connection>`. */
  readonly role_session_name?: string;
  /** With `role_arn`: the external id the role's trust policy asks for. */
  readonly external_id?: string;
  /** With `role_arn`: how long the assumed credentials last, 15 minutes to 12 hours (the role's maximum). Default: 1 hour. Milliseconds. */
  readonly duration?: number;
}

/**
 * A login fetched from AWS Secrets Manager instead of the DSN's password (DESIGN §12). Durations in milliseconds.
 * @public
 */
export interface SecretsManagerConfig {
  /** The secret's name or ARN. */
  readonly secret_id: string;
  /** Default: the ARN's region, else the RDS hostname's, else `AWS_REGION` / `AWS_DEFAULT_REGION`. */
  readonly region?: string;
  /** How long a fetched secret is used before it is fetched again. Default 1 hour. */
  readonly refresh: number;
  /** The Secrets Manager endpoint (a VPC endpoint, a local stand-in). Default: the region's. */
  readonly endpoint?: string;
}

/** Where reads go: only readers, readers and else the writer, or the writer. @public */
export type ReadFrom = 'readers' | 'readers-or-writer' | 'writer';

/** How a reader is chosen among those eligible. @public */
export type ReaderSelection = 'random' | 'least-connections' | 'lowest-lag';

/**
 * A connection's cluster settings (DESIGN §9), durations in milliseconds. Present only when the
 * connection has a `cluster` block; a DSN whose host is an RDS cluster endpoint gets these
 * defaults with `enabled: 'auto'` without one (see the connection's plan).
 * @public
 */
export interface ClusterConfig {
  /** auto: on when the server reports Aurora or Multi-AZ topology. */
  readonly enabled: 'auto' | boolean;
  /** Instance endpoints, `?` standing for the instance id; default derived from the cluster endpoint. */
  readonly instance_host_pattern?: string;
  readonly topology_refresh: number;
  readonly failover_refresh: number;
  readonly failover_timeout: number;
  readonly read_from: ReadFrom;
  readonly reader_selection: ReaderSelection;
  /** Readers lagging more are skipped; 0 = no limit. */
  readonly max_replica_lag: number;
  /**
   * Instance endpoint (`host` or `host:port`) to the address dialled for it (`127.0.0.2:5432`):
   * tunnels, port-forwards, local clusters. In code also a function, for addresses that change
   * while the connection is open (instances added to a local cluster).
   */
  readonly instance_addresses: Readonly<Record<string, string>> | InstanceAddressResolver;
}

/**
 * A connection's migrations (DESIGN §10), durations in milliseconds.
 * @public
 */
export interface MigrationsConfig {
  /** Absolute: resolved against the config file's directory (the working directory without one). Default `migrations`. */
  readonly directory: string;
  /** The history table. Default `schema_migrations`. */
  readonly table: string;
  /** How long a run waits for another migrator's lock before MIGRATION_LOCKED. Default 60000. */
  readonly lock_timeout: number;
  /** Apply a migration whose version is below the last applied one instead of refusing. Default false. */
  readonly allow_out_of_order: boolean;
  /** Run pending migrations in `createDatabase`. Default false. */
  readonly run_on_start: boolean;
}

/**
 * Where to dial an endpoint (`host:port` or `host`), or undefined to dial it by its name.
 * @public
 */
export type InstanceAddressResolver = (endpoint: { readonly host: string; readonly port: number }) => string | undefined;

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
  /**
   * Before a session that sat idle is handed out, wait for the sockets to be polled (two turns of
   * the event loop), so one whose server already hung up is replaced instead (RELIABILITY.md,
   * scenario 2). Default true. Off, a session the server or a proxy closed while it sat idle can
   * reach the next caller, whose statement then fails with CONNECTION_LOST (`connection.query`,
   * transactions and ORMs alike); the pool drops the session. It saves two event-loop turns per
   * checkout: 3–5% of throughput against a loopback server at concurrency 1, about 1% over a real
   * network (BENCHMARKS.md).
   */
  readonly check_idle_sessions: boolean;
  readonly aws_iam_auth: IamAuthConfig;
  /** The login from AWS Secrets Manager; the DSN's password is then ignored. */
  readonly secrets_manager?: SecretsManagerConfig;
  /** Cluster settings, when the connection has a `cluster` block. */
  readonly cluster?: ClusterConfig;
  /** DSNs of plain read replicas (secret-bearing, like `dsn`); missing parts are the main DSN's. */
  readonly replicas?: readonly string[];
  /** Migration settings, when the connection has a `migrations` block (the defaults apply without one). */
  readonly migrations?: MigrationsConfig;
}

/** Where a resolved value came from: `file <path>`, `env <VARIABLE>`, `object`, or `default`. @public */
export type ValueSource = string;

/**
 * The `telemetry` block (DESIGN §11): OpenTelemetry spans and metrics for every connection.
 * Present only when the configuration has the block or `DB_TELEMETRY_ENABLED` is set.
 * @public
 */
export interface TelemetryConfig {
  /** Spans and metrics through `@opentelemetry/api` (which must then be installed). Default false. */
  readonly enabled: boolean;
  /**
   * Appends the statement span's W3C trace context to each statement dbmodule sends, as a
   * sqlcommenter comment (`/*traceparent='00-…'*\/`), so server-side logs and query insights join
   * the trace. Default false.
   */
  readonly sqlcommenter: boolean;
}

/** @public */
export interface DatabaseConfig {
  readonly default: string;
  readonly connections: Readonly<Record<string, ConnectionConfig>>;
  /** The `telemetry` block, when there is one; `createDatabase`'s `telemetry` option overrides it. */
  readonly telemetry?: TelemetryConfig;
  /** Source of every value, keyed by path (`connections.writer.dsn`, `default`). */
  readonly sources: Readonly<Record<string, ValueSource>>;
  /** Deprecation and consistency warnings found while loading (never secrets). */
  readonly warnings: readonly string[];
}
