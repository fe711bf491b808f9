import { DbModuleError } from '../errors.js';
import { dirname, resolve } from 'node:path';
import type { ClusterConfig, ConnectionConfig, DriverName, IamAuthConfig, MigrationsConfig, SecretsManagerConfig } from './types.js';
import { CLUSTER_DEFAULTS, DEFAULTS, MIGRATIONS_DEFAULTS } from './defaults.js';
import { parseConnectionDsn } from './plan.js';
import { isPlainObject } from './describe.js';
import { envVariable } from './env.js';
import type { Problem } from './problems.js';
import {
  connectionEntries,
  CONNECTION_KEYS,
  DEPRECATED_KEYS,
  issuePath,
  NESTED_BLOCKS,
  parseAll,
  rawConnectionSchema,
  unknownKeys,
  type RawCluster,
  type RawConnection,
  type RawMigrations,
  type RawSecrets,
} from './schema.js';
import { suggest } from './suggest.js';

/** Outcome of {@link resolveConnection}: the connection when it has no problem. */
export interface ResolvedConnection {
  readonly config?: ConnectionConfig;
  /** Source of every resolved leaf, keyed by full path. */
  readonly sources: Readonly<Record<string, string>>;
  readonly problems: readonly Problem[];
  readonly warnings: readonly string[];
}

const DEPRECATION: Readonly<Record<(typeof DEPRECATED_KEYS)[number], string>> = {
  token_refresh_interval: 'tokens are refreshed automatically before they expire',
  connection_close_grace_period: 'established connections are never closed because a token expired',
};

// Only an unmistakable scheme names a driver: `postgres:` without `//` could be the user
// of a Go-style MySQL DSN (`postgres:pw@tcp(host)/db`).
function driverFromScheme(dsn: string): DriverName | undefined {
  const match = /^([a-z0-9]+):(\/\/)?/i.exec(dsn.trim());
  const scheme = match?.[1]?.toLowerCase();
  const slashes = match?.[2] !== undefined;
  if ((scheme === 'postgres' || scheme === 'postgresql') && slashes) return 'postgres';
  if ((scheme === 'mysql' || scheme === 'mariadb') && slashes) return 'mysql';
  if (scheme === 'sqlite' || scheme === 'sqlite3') return 'sqlite';
  return undefined;
}

// Field by field, so one bad value does not hide the cross-checks of the others.
function partialParse(raw: Record<string, unknown>): Partial<RawConnection> {
  const data: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(connectionEntries)) {
    const result = parseAll(schema, raw[key]);
    if (result.success && result.output !== undefined) data[key] = result.output;
  }
  return data as Partial<RawConnection>;
}

/** `block` is the nested block the key is in (`aws_iam_auth`, `cluster`), or undefined at the connection's level. */
function unknownKeyMessage(key: string, block: string | undefined): string {
  const accepted = block === undefined ? CONNECTION_KEYS : (NESTED_BLOCKS[block] ?? []);
  const local = suggest(key, accepted);
  if (local) return `unknown key; did you mean \`${local}\`?`;
  if (block !== undefined) {
    const other = suggest(key, CONNECTION_KEYS);
    if (other) return `unknown key; \`${other}\` is a connection key, not a ${block} key`;
  } else {
    for (const [name, keys] of Object.entries(NESTED_BLOCKS)) {
      const other = suggest(key, keys);
      if (other) return `unknown key; did you mean \`${name}.${other}\`?`;
    }
  }
  return `unknown key (accepted: ${accepted.join(', ')})`;
}

function ms(value: number): string {
  return `${value}ms`;
}

/**
 * Validates one merged raw connection (file/object values with environment values laid
 * over them) and applies defaults. `sources` maps raw paths to their origin.
 */
export function resolveConnection(name: string, raw: unknown, sources: ReadonlyMap<string, string>): ResolvedConnection {
  const base = `connections.${name}`;
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const sourceOf = (key: string) => sources.get(`${base}.${key}`);
  const at = (key: string, message: string, cause?: unknown): void => {
    const path = key ? `${base}.${key}` : base;
    const source = sources.get(path);
    problems.push({
      path,
      message,
      connection: name,
      ...(source?.startsWith('env ') ? { variables: [source.slice(4)] } : {}),
      ...(cause === undefined ? {} : { cause }),
    });
  };
  const nameOf = (key: string) => {
    const source = sourceOf(key);
    return source?.startsWith('env ') ? `${base}.${key} (${source.slice(4)})` : `${base}.${key}`;
  };

  if (name.trim() === '') at('', 'connection names must not be empty');
  if (!isPlainObject(raw)) {
    at('', `expected a mapping with at least a dsn, received ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}`);
    return { sources: {}, problems, warnings };
  }

  const whole = parseAll(rawConnectionSchema, raw);
  const failed = new Set<string>();
  for (const issue of whole.issues ?? []) {
    const path = issuePath(issue);
    const nestedBlock = path.length > 1 && path[0] !== undefined && path[0] in NESTED_BLOCKS ? path[0] : undefined;
    const unknown = unknownKeys(issue, nestedBlock === undefined ? CONNECTION_KEYS : (NESTED_BLOCKS[nestedBlock] ?? []));
    if (unknown) {
      // the path ends with the first unknown key; the rest is its block's
      const block = path.slice(0, -1);
      failed.add(block[0] ?? '');
      for (const key of unknown) at([...block, key].join('.'), unknownKeyMessage(key, nestedBlock));
    } else {
      failed.add(path[0] ?? '');
      at(path.join('.'), issue.message);
    }
  }
  const data = whole.success ? whole.output : partialParse(raw);
  const iam = data.aws_iam_auth;

  const rawIam = isPlainObject(raw.aws_iam_auth) ? raw.aws_iam_auth : {};
  for (const key of DEPRECATED_KEYS) {
    for (const [block, key2] of [[raw, key], [rawIam, `aws_iam_auth.${key}`]] as const) {
      if (block[key] !== undefined && block[key] !== null) {
        warnings.push(`${nameOf(key2)} is deprecated and ignored: ${DEPRECATION[key]}`);
      }
    }
  }

  const dsn = data.dsn;
  if (dsn === undefined && !failed.has('dsn')) {
    at('dsn', `is required (set it in the configuration or in ${envVariable(name, ['dsn'])})`);
  }
  const schemeDriver = dsn === undefined ? undefined : driverFromScheme(dsn);
  let driver = data.driver;
  let driverSource = sourceOf('driver');
  if (driver === undefined && !failed.has('driver') && dsn !== undefined) {
    if (schemeDriver) {
      driver = schemeDriver;
      driverSource = sourceOf('dsn');
    } else {
      at('driver', `is missing and the DSN's scheme does not name one; set driver (postgres, mysql or sqlite) or ${envVariable(name, ['driver'])}`);
    }
  } else if (driver !== undefined && schemeDriver !== undefined && schemeDriver !== driver) {
    at('driver', `is ${driver} but the DSN's scheme is for ${schemeDriver}`);
    driver = undefined;
  }
  if (driver !== undefined && dsn !== undefined) {
    try {
      parseConnectionDsn(dsn, driver, name);
    } catch (error) {
      // The DSN parser redacts its own messages; anything else might echo the DSN.
      at('dsn', error instanceof DbModuleError ? error.message : 'could not be parsed', error);
    }
  }

  const maxOpen = data.max_open_connections ?? DEFAULTS.max_open_connections;
  const maxIdle = data.max_idle_connections ?? maxOpen;
  if (data.max_idle_connections !== undefined && !failed.has('max_open_connections') && maxIdle > maxOpen) {
    at('max_idle_connections', `(${maxIdle}) must not exceed ${nameOf('max_open_connections')} (${maxOpen}${data.max_open_connections === undefined ? ', the default' : ''})`);
  }

  const timeout = data.connection_timeout;
  const iamTimeout = iam?.connection_timeout;
  if (timeout !== undefined && iamTimeout !== undefined && timeout !== iamTimeout) {
    at('connection_timeout', `(${ms(timeout)}) differs from ${nameOf('aws_iam_auth.connection_timeout')} (${ms(iamTimeout)}); set only one`);
  }

  const enabled = iam?.enabled ?? false;
  const maxConnects = iam?.max_connects_per_second ?? (enabled ? DEFAULTS.max_connects_per_second : undefined);
  const aws_iam_auth: IamAuthConfig = {
    enabled,
    ...(iam?.region === undefined ? {} : { region: iam.region }),
    ...(iam?.db_user === undefined ? {} : { db_user: iam.db_user }),
    ...(iam?.signing_host === undefined ? {} : { signing_host: iam.signing_host }),
    ...(iam?.signing_port === undefined ? {} : { signing_port: iam.signing_port }),
    ...(maxConnects === undefined ? {} : { max_connects_per_second: maxConnects }),
    ...(iam?.profile === undefined ? {} : { profile: iam.profile }),
    ...(iam?.role_arn === undefined ? {} : { role_arn: iam.role_arn }),
    ...(iam?.role_session_name === undefined ? {} : { role_session_name: iam.role_session_name }),
    ...(iam?.external_id === undefined ? {} : { external_id: iam.external_id }),
    ...(iam?.duration === undefined ? {} : { duration: iam.duration }),
  };
  const ignored = ['region', 'db_user', 'signing_host', 'signing_port', 'max_connects_per_second'].filter((key) => iam?.[key as keyof typeof iam] !== undefined);
  if (!enabled && ignored.length > 0) {
    warnings.push(`${base}.aws_iam_auth: ${ignored.join(', ')} ${ignored.length > 1 ? 'are' : 'is'} ignored because aws_iam_auth.enabled is false`);
  }

  const secrets = data.secrets_manager === undefined ? undefined : secretsConfig(data.secrets_manager);
  if (data.secrets_manager !== undefined && secrets === undefined && !failed.has('secrets_manager')) {
    at('secrets_manager.secret_id', `is required: the name or ARN of the secret holding the login (or set ${envVariable(name, ['secrets_manager', 'secret_id'])})`);
  }
  if (data.secrets_manager !== undefined && enabled) {
    at('secrets_manager', 'cannot be used with aws_iam_auth.enabled: true: a login is either an IAM token or the password of a secret; remove one');
  }
  if (data.secrets_manager !== undefined && driver === 'sqlite') at('secrets_manager', 'SQLite has no login; remove it or use a postgres or mysql connection');
  // the credential keys serve IAM signing and Secrets Manager alike
  const credentialKeys = ['profile', 'role_arn', 'role_session_name', 'external_id', 'duration'].filter((key) => iam?.[key as keyof typeof iam] !== undefined);
  if (!enabled && data.secrets_manager === undefined && credentialKeys.length > 0) {
    warnings.push(`${base}.aws_iam_auth: ${credentialKeys.join(', ')} ${credentialKeys.length > 1 ? 'are' : 'is'} ignored: the connection uses no AWS credentials (neither aws_iam_auth.enabled nor secrets_manager)`);
  }
  const roleOnly = ['role_session_name', 'external_id', 'duration'].filter((key) => iam?.[key as keyof typeof iam] !== undefined);
  if (iam?.role_arn === undefined && roleOnly.length > 0) {
    warnings.push(`${base}.aws_iam_auth: ${roleOnly.join(', ')} ${roleOnly.length > 1 ? 'are' : 'is'} ignored without aws_iam_auth.role_arn`);
  }
  if (iam?.duration !== undefined && (iam.duration < 900_000 || iam.duration > 43_200_000)) {
    at('aws_iam_auth.duration', `(${ms(iam.duration)}) must be between 15m and 12h: the range STS AssumeRole accepts`);
  }

  const cluster = data.cluster === undefined ? undefined : clusterConfig(data.cluster);
  const replicas = data.replicas;
  if (driver === 'sqlite' && (cluster !== undefined || replicas !== undefined)) {
    at(cluster !== undefined ? 'cluster' : 'replicas', 'SQLite has no clusters or replicas; remove it or use a postgres or mysql connection');
  }

  const leafSources: Record<string, string> = {};
  const record = (key: string, source: string | undefined) => {
    leafSources[`${base}.${key}`] = source ?? 'default';
  };
  record('driver', driverSource);
  record('dsn', sourceOf('dsn'));
  for (const key of ['max_open_connections', 'max_idle_connections', 'connection_max_lifetime', 'connection_max_idle_time', 'query_timeout', 'check_idle_sessions']) {
    record(key, sourceOf(key));
  }
  record('connection_timeout', sourceOf('connection_timeout') ?? sourceOf('aws_iam_auth.connection_timeout'));
  for (const key of Object.keys(aws_iam_auth)) record(`aws_iam_auth.${key}`, sourceOf(`aws_iam_auth.${key}`));
  if (cluster) for (const key of Object.keys(cluster)) record(`cluster.${key}`, sourceOf(`cluster.${key}`));
  if (replicas) record('replicas', sourceOf('replicas'));
  if (secrets) for (const key of Object.keys(secrets)) record(`secrets_manager.${key}`, sourceOf(`secrets_manager.${key}`));
  const migrations = data.migrations === undefined ? undefined : migrationsConfig(data.migrations, sources.get(`connections.${name}.migrations.directory`) ?? sources.get(`connections.${name}`));
  if (migrations) for (const key of Object.keys(migrations)) record(`migrations.${key}`, sourceOf(`migrations.${key}`));

  if (problems.length > 0 || driver === undefined || dsn === undefined) return { sources: leafSources, problems, warnings };
  return {
    config: {
      name,
      driver,
      dsn,
      max_open_connections: maxOpen,
      max_idle_connections: maxIdle,
      connection_max_lifetime: data.connection_max_lifetime ?? DEFAULTS.connection_max_lifetime,
      connection_max_idle_time: data.connection_max_idle_time ?? DEFAULTS.connection_max_idle_time,
      connection_timeout: timeout ?? iamTimeout ?? DEFAULTS.connection_timeout,
      query_timeout: data.query_timeout ?? DEFAULTS.query_timeout,
      check_idle_sessions: data.check_idle_sessions ?? DEFAULTS.check_idle_sessions,
      aws_iam_auth,
      ...(secrets ? { secrets_manager: secrets } : {}),
      ...(cluster ? { cluster } : {}),
      ...(replicas ? { replicas } : {}),
      ...(migrations ? { migrations } : {}),
    },
    sources: leafSources,
    problems,
    warnings,
  };
}

/** A `secrets_manager` block with defaults applied; undefined without its secret_id. */
function secretsConfig(raw: RawSecrets): SecretsManagerConfig | undefined {
  if (raw.secret_id === undefined) return undefined;
  return Object.freeze({
    secret_id: raw.secret_id,
    ...(raw.region === undefined ? {} : { region: raw.region }),
    refresh: raw.refresh ?? DEFAULTS.secret_refresh,
    ...(raw.endpoint === undefined ? {} : { endpoint: raw.endpoint }),
  });
}

/** A `cluster` block with defaults applied (CLUSTER_DEFAULTS). */
function clusterConfig(raw: RawCluster): ClusterConfig {
  return Object.freeze({
    enabled: raw.enabled ?? CLUSTER_DEFAULTS.enabled,
    ...(raw.instance_host_pattern === undefined ? {} : { instance_host_pattern: raw.instance_host_pattern }),
    topology_refresh: raw.topology_refresh ?? CLUSTER_DEFAULTS.topology_refresh,
    failover_refresh: raw.failover_refresh ?? CLUSTER_DEFAULTS.failover_refresh,
    failover_timeout: raw.failover_timeout ?? CLUSTER_DEFAULTS.failover_timeout,
    read_from: raw.read_from ?? CLUSTER_DEFAULTS.read_from,
    reader_selection: raw.reader_selection ?? CLUSTER_DEFAULTS.reader_selection,
    max_replica_lag: raw.max_replica_lag ?? CLUSTER_DEFAULTS.max_replica_lag,
    instance_addresses: raw.instance_addresses ?? {},
  });
}

/**
 * A `migrations` block with defaults applied (MIGRATIONS_DEFAULTS); the directory resolved against
 * the directory of the file that set it (or of the connection's file), else the working directory.
 * Without a block (`raw` undefined), the defaults alone.
 */
export function migrationsConfig(raw: RawMigrations | undefined, source: string | undefined): MigrationsConfig {
  const base = source?.startsWith('file ') ? dirname(source.slice(5)) : process.cwd();
  return Object.freeze({
    directory: resolve(base, raw?.directory ?? MIGRATIONS_DEFAULTS.directory),
    table: raw?.table ?? MIGRATIONS_DEFAULTS.table,
    lock_timeout: raw?.lock_timeout ?? MIGRATIONS_DEFAULTS.lock_timeout,
    allow_out_of_order: raw?.allow_out_of_order ?? MIGRATIONS_DEFAULTS.allow_out_of_order,
    run_on_start: raw?.run_on_start ?? MIGRATIONS_DEFAULTS.run_on_start,
  });
}
