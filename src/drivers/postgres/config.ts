import type { ConnectionOptions } from 'node:tls';
import type { PoolConfig } from 'pg';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { driverError } from '../driver-error.js';
import { KEEPALIVE_IDLE_MS } from '../keepalive.js';
import type { DriverPoolOptions } from '../types.js';

/** Startup parameters pg sends as they are. */
const STRING_PARAMS = ['application_name', 'fallback_application_name', 'options', 'client_encoding'] as const;
/** Server settings pg sends in the startup packet, in milliseconds. */
const MILLISECOND_PARAMS = ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout'] as const;
/** Already carried by ParsedDsn's own fields; a copy left in `params` must not override them. */
const STRUCTURAL_PARAMS = new Set(['host', 'hostaddr', 'port', 'user', 'password', 'dbname', 'database']);
/** Superseded by the connection's own settings. */
const SUPERSEDED_PARAMS: Readonly<Record<string, string>> = {
  connect_timeout: 'connection_timeout',
  query_timeout: 'query_timeout',
  max: 'max_open_connections',
  pool_max: 'max_open_connections',
};

/**
 * The pg-pool options of one connection, built field by field from the parsed DSN (never a
 * `connectionString`: pg lets a connection string's password and sslmode override ours).
 */
export function buildPoolConfig(options: DriverPoolOptions): PoolConfig {
  const { plan, logger } = options;
  const config = plan.settings;
  const ssl = plan.tls.options === false ? false : copyTls(plan.tls.options);
  const pool: PoolConfig = {
    host: plan.host,
    port: plan.port,
    user: plan.user,
    database: plan.database,
    password: options.password ?? plan.dsn.password,
    ssl,
    // an explicit value, so a PGSSLNEGOTIATION in the environment can't contradict `ssl`
    sslnegotiation: plan.tls.direct ? 'direct' : 'postgres',
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    max: config.max_open_connections,
    // pg-pool reads 0 as "never", which is what 0 means in our config too
    idleTimeoutMillis: config.connection_max_idle_time,
    connectionTimeoutMillis: config.connection_timeout,
    ...(config.query_timeout > 0 ? { query_timeout: config.query_timeout } : {}),
    ...driverParams(plan.params, plan.name, logger),
  };
  return pool;
}

/**
 * pg-pool and pg redefine `ssl.key` as non-enumerable on the object they are given, which
 * throws on a frozen object; they get their own copy.
 */
function copyTls(tls: ConnectionOptions): ConnectionOptions {
  const copy: ConnectionOptions = { ...tls };
  if ('key' in tls) copy.key = tls.key;
  return copy;
}

function driverParams(params: Readonly<Record<string, string>>, connection: string, logger: Logger): PoolConfig {
  const result: PoolConfig = {};
  for (const [name, value] of Object.entries(params)) {
    if (STRUCTURAL_PARAMS.has(name)) continue;
    if ((STRING_PARAMS as readonly string[]).includes(name)) {
      result[name as (typeof STRING_PARAMS)[number]] = value;
    } else if ((MILLISECOND_PARAMS as readonly string[]).includes(name)) {
      result[name as (typeof MILLISECOND_PARAMS)[number]] = parseWholeNumber(name, value, connection);
    } else if (name === 'keepalives') {
      result.keepAlive = value !== '0';
    } else if (name === 'keepalives_idle') {
      result.keepAliveInitialDelayMillis = parseWholeNumber(name, value, connection) * 1000;
    } else if (name in SUPERSEDED_PARAMS) {
      logger.warn('DSN parameter ignored: the connection setting applies instead', { connection, param: name, setting: SUPERSEDED_PARAMS[name] });
    } else {
      logger.warn('DSN parameter ignored: the postgres driver does not support it', { connection, param: name });
    }
  }
  return result;
}

function parseWholeNumber(name: string, value: string, connection: string): number {
  if (!/^\d+$/.test(value.trim())) {
    throw driverError(ConfigError, 'DSN_INVALID', `DSN parameter ${name} must be a whole number, got "${value}"`, { connection });
  }
  return Number(value.trim());
}
