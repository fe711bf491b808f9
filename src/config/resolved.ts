import { DbModuleError } from '../errors.js';
import { REDACTED, redactDsn } from '../dsn/index.js';
import type { ClusterConfig, ConnectionConfig, DatabaseConfig, DriverName, MigrationsConfig, TelemetryConfig } from './types.js';

/** A connection as {@link redactConfig} returns it: plain, mutable, DSN redacted. @public */
export interface RedactedConnectionConfig {
  name: string;
  driver: DriverName;
  dsn: string;
  max_open_connections: number;
  max_idle_connections: number;
  connection_max_lifetime: number;
  connection_max_idle_time: number;
  connection_timeout: number;
  query_timeout: number;
  aws_iam_auth: {
    enabled: boolean;
    region?: string;
    db_user?: string;
    signing_host?: string;
    signing_port?: number;
    max_connects_per_second?: number;
  };
  cluster?: ClusterConfig;
  replicas?: string[];
  migrations?: MigrationsConfig;
}

/** A JSON-able copy of a resolved config with every DSN redacted. @public */
export interface RedactedDatabaseConfig {
  default: string;
  connections: Record<string, RedactedConnectionConfig>;
  telemetry?: { enabled: boolean };
  sources: Record<string, string>;
  warnings: string[];
}

// Only objects built by freezeConfig are here, so a look-alike (say, JSON.parse of a
// printed config, whose durations are already milliseconds) is validated, not trusted.
const resolvedConfigs = new WeakSet<object>();
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

function redactedDsn(dsn: string): string {
  try {
    return redactDsn(dsn);
  } catch {
    return '[unparseable DSN]';
  }
}

function redactConnection(connection: ConnectionConfig): RedactedConnectionConfig {
  const { replicas, ...rest } = connection;
  return {
    ...rest,
    dsn: redactedDsn(connection.dsn),
    // the external id guards the role against confused deputies: printed as set, never its value
    aws_iam_auth: { ...connection.aws_iam_auth, ...(connection.aws_iam_auth.external_id === undefined ? {} : { external_id: REDACTED }) },
    ...(replicas ? { replicas: replicas.map(redactedDsn) } : {}),
  };
}

/**
 * A plain JSON-able copy of a resolved config with every DSN passed through `redactDsn`:
 * safe to print, log or return from the CLI.
 * @public
 */
export function redactConfig(config: DatabaseConfig): RedactedDatabaseConfig {
  return {
    default: config.default,
    connections: Object.fromEntries(Object.entries(config.connections).map(([name, connection]) => [name, redactConnection(connection)])),
    ...(config.telemetry ? { telemetry: { ...config.telemetry } } : {}),
    sources: { ...config.sources },
    warnings: [...config.warnings],
  };
}

/**
 * True only for configs produced by `loadConfig`/`validateConfig` in this process, whose
 * values are already validated and whose durations are milliseconds.
 * @public
 */
export function isResolvedConfig(value: unknown): value is DatabaseConfig {
  return typeof value === 'object' && value !== null && resolvedConfigs.has(value);
}

// Non-enumerable, so spreads and deep-equality see only the data.
function hideBehind<T extends object>(target: T, redacted: () => unknown): T {
  Object.defineProperty(target, 'toJSON', { value: redacted, enumerable: false });
  Object.defineProperty(target, INSPECT, { value: redacted, enumerable: false });
  return target;
}

/** Freezes, brands and makes printing safe (`toJSON`, `util.inspect` show redacted DSNs). */
export function freezeConfig(parts: {
  default: string;
  connections: ReadonlyMap<string, ConnectionConfig>;
  sources: ReadonlyMap<string, string>;
  warnings: readonly string[];
  telemetry?: TelemetryConfig;
}): DatabaseConfig {
  const connections = Object.fromEntries(
    [...parts.connections].map(([name, connection]) => {
      const frozen = { ...connection, aws_iam_auth: Object.freeze({ ...connection.aws_iam_auth }) };
      return [name, Object.freeze(hideBehind(frozen, () => redactConnection(frozen)))];
    }),
  );
  const config: DatabaseConfig = {
    default: parts.default,
    connections: Object.freeze(connections),
    ...(parts.telemetry ? { telemetry: Object.freeze({ ...parts.telemetry }) } : {}),
    sources: Object.freeze(Object.fromEntries(parts.sources)),
    warnings: Object.freeze([...parts.warnings]),
  };
  Object.freeze(hideBehind(config, () => redactConfig(config)));
  resolvedConfigs.add(config);
  return config;
}

/**
 * A resolved config with only the connection `name` (its sources with it), which is also the
 * default: to open one connection of a larger configuration (the CLI's `migrate`).
 * @throws DbModuleError `CONNECTION_NOT_FOUND` listing the known names.
 * @public
 */
export function selectConnection(config: DatabaseConfig, name: string = config.default): DatabaseConfig {
  const connection = config.connections[name];
  if (!connection) {
    const known = Object.keys(config.connections);
    throw new DbModuleError('CONNECTION_NOT_FOUND', `no connection named "${name}"; known connections: ${known.join(', ')}`, { connection: name, solutions: [`Use one of: ${known.join(', ')}`] });
  }
  const prefix = `connections.${name}`;
  const sources = Object.entries(config.sources).filter(([path]) => path === prefix || path.startsWith(`${prefix}.`) || path.startsWith('telemetry.'));
  return freezeConfig({
    default: name,
    connections: new Map([[name, connection]]),
    sources: new Map(sources),
    warnings: config.warnings,
    ...(config.telemetry ? { telemetry: config.telemetry } : {}),
  });
}
