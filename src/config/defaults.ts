import { resolve } from 'node:path';

/** Values of keys left unset. Durations in milliseconds. @public */
export const DEFAULTS = Object.freeze({
  max_open_connections: 10,
  connection_max_lifetime: 0,
  connection_max_idle_time: 0,
  connection_timeout: 10_000,
  query_timeout: 0,
  check_idle_sessions: true,
  /** Only when aws_iam_auth.enabled; RDS throttles new IAM connections at 200/s. */
  max_connects_per_second: 50,
  /** secrets_manager.refresh. */
  secret_refresh: 3_600_000,
  /** aws_iam_auth.duration of assumed-role credentials (STS's own default). */
  role_duration: 3_600_000,
});

/** Cluster settings left unset (DESIGN §9). Durations in milliseconds. @public */
export const CLUSTER_DEFAULTS = Object.freeze({
  enabled: 'auto' as const,
  topology_refresh: 30_000,
  failover_refresh: 100,
  failover_timeout: 60_000,
  read_from: 'readers-or-writer' as const,
  reader_selection: 'random' as const,
  max_replica_lag: 5_000,
});

/** Migration settings left unset (DESIGN §10). Durations in milliseconds. @public */
export const MIGRATIONS_DEFAULTS = Object.freeze({
  directory: 'migrations',
  table: 'schema_migrations',
  lock_timeout: 60_000,
  allow_out_of_order: false,
  run_on_start: false,
});

/** Where the embedded default SQLite database lives, relative to the working directory. */
export const DEFAULT_SQLITE_PATH = '.dbmodule/default.sqlite';

/**
 * The raw section used when there is no file and no `DB_<NAME>_DSN`: one SQLite connection
 * named `default`. The path is made absolute against `cwd` so that the `cwd` option is
 * honoured and a later `process.chdir` cannot move the database.
 */
export function embeddedDefault(cwd: string): { connections: { default: { driver: 'sqlite'; dsn: string } } } {
  // The DSN parser percent-decodes `sqlite:` paths and splits at `?`: escape both.
  const path = resolve(cwd, DEFAULT_SQLITE_PATH).replace(/%/g, '%25').replace(/\?/g, '%3F');
  return { connections: { default: { driver: 'sqlite', dsn: `sqlite:${path}` } } };
}
