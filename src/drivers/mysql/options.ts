import { connect } from 'node:net';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { AuthPlugin, PoolOptions, SslOptions } from 'mysql2';
import { ConfigError } from '../../errors.js';
import { driverError } from '../driver-error.js';
import { KEEPALIVE_IDLE_MS } from '../keepalive.js';
import type { DriverPoolOptions } from '../types.js';
import type { Mysql2Module } from './load-driver.js';

type ParamTarget = PoolOptions & Record<string, unknown>;
/** `invalid(expected)` builds the error naming the connection, the parameter and its value. */
type ParamApplier = (value: string, target: ParamTarget, invalid: (expected: string) => ConfigError) => void;

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

function bool(option: keyof PoolOptions): ParamApplier {
  return (value, target, invalid) => {
    const word = value.trim().toLowerCase();
    if (!TRUE_WORDS.has(word) && !FALSE_WORDS.has(word)) throw invalid('true or false');
    target[option] = TRUE_WORDS.has(word);
  };
}

function int(option: keyof PoolOptions): ParamApplier {
  return (value, target, invalid) => {
    if (!/^\d+$/.test(value.trim())) throw invalid('a non-negative integer');
    target[option] = Number(value);
  };
}

function text(option: keyof PoolOptions): ParamApplier {
  return (value, target) => {
    target[option] = value;
  };
}

function invalidParam(connection: string, param: string, value: string, expected: string): ConfigError {
  return driverError(ConfigError, 'DSN_INVALID', `DSN parameter ${param}=${JSON.stringify(value)} is invalid; expected ${expected}`, {
    connection,
  });
}

/** DSN parameters that mean something to mysql2 (its own option names, plus go-sql-driver names with the same meaning). */
const PARAMS: Readonly<Record<string, ParamApplier>> = {
  charset: text('charset'),
  // mysql2's "charset" is a collation name (UTF8MB4_UNICODE_CI); go-sql-driver splits the two.
  collation: text('charset'),
  timezone: (value, target, invalid) => {
    if (!/^(?:local|Z|[+-]\d\d:\d\d)$/.test(value)) throw invalid('local, Z or an offset like +02:00');
    target.timezone = value;
  },
  dateStrings: bool('dateStrings'),
  supportBigNumbers: bool('supportBigNumbers'),
  bigNumberStrings: bool('bigNumberStrings'),
  decimalNumbers: bool('decimalNumbers'),
  jsonStrings: bool('jsonStrings'),
  multipleStatements: bool('multipleStatements'),
  multiStatements: bool('multipleStatements'),
  namedPlaceholders: bool('namedPlaceholders'),
  compress: bool('compress'),
  allowCleartextPasswords: bool('enableCleartextPlugin'),
  enableCleartextPlugin: bool('enableCleartextPlugin'),
  keepAliveInitialDelay: int('keepAliveInitialDelay'),
  maxPreparedStatements: int('maxPreparedStatements'),
  localAddress: text('localAddress'),
  flags: text('flags'),
};

/** go-sql-driver parameters with no mysql2 equivalent (or one that dbmodule's config owns). */
const GO_ONLY_PARAMS = new Set([
  'parseTime',
  'loc',
  'timeout',
  'readTimeout',
  'writeTimeout',
  'interpolateParams',
  'columnsWithAlias',
  'clientFoundRows',
  'maxAllowedPacket',
  'rejectReadOnly',
  'checkConnLiveness',
  'allowNativePasswords',
  'allowOldPasswords',
  'allowAllFiles',
  'allowFallbackToPlaintext',
  'serverPubKey',
  'strict',
  'connectionAttributes',
]);

/** mysql2 reads only these TLS fields (lib/base/connection.js getSecureContext and startTLS). */
function toMysqlSsl(tls: TlsConnectionOptions): SslOptions {
  const verify = tls.rejectUnauthorized !== false;
  const ssl: SslOptions = {
    rejectUnauthorized: verify,
    // mysql2 checks the host name only when asked; Node's default check (no custom checkServerIdentity) means verify-full.
    verifyIdentity: verify && tls.checkServerIdentity === undefined,
  };
  if (tls.ca !== undefined) ssl.ca = tls.ca as SslOptions['ca'];
  if (tls.cert !== undefined) ssl.cert = tls.cert as SslOptions['cert'];
  if (tls.key !== undefined) ssl.key = tls.key as SslOptions['key'];
  if (tls.passphrase !== undefined) ssl.passphrase = tls.passphrase;
  if (tls.ciphers !== undefined) ssl.ciphers = tls.ciphers;
  if (tls.minVersion !== undefined) ssl.minVersion = tls.minVersion;
  if (tls.maxVersion !== undefined) ssl.maxVersion = tls.maxVersion;
  return ssl;
}

/** The plan's TLS in mysql2's terms. */
function resolveSsl(options: DriverPoolOptions): SslOptions | undefined {
  const tls = options.plan.tls.options;
  if (tls === false) return undefined;
  if (tls.crl !== undefined) options.logger.warn('Ignoring a TLS option mysql2 cannot apply', { connection: options.plan.name, option: 'crl' });
  return toMysqlSsl(tls);
}

/**
 * A `mysql_clear_password` plugin answering with the password mysql2 copied into this
 * connection's config, i.e. the one the password function gave for this session.
 */
const clearPasswordPlugin: AuthPlugin = ({ connection }) => () => Buffer.from(`${connection.config.password ?? ''}\0`);

/**
 * Translates a resolved connection into mysql2 pool options: pool settings, the DSN parts,
 * DSN parameters mysql2 understands (unknown ones are ignored with a warning), and TLS.
 * The password is left out when a password function is given (it is set per new session).
 * @throws ConfigError `DSN_INVALID` naming a parameter with an invalid value.
 */
export function buildPoolOptions(options: DriverPoolOptions, mysql: Mysql2Module): PoolOptions {
  const { plan, logger } = options;
  const { settings: config, dsn } = plan;
  const maxOpen = Math.max(0, config.max_open_connections);
  const target: ParamTarget = {
    host: plan.host ?? 'localhost',
    port: plan.port ?? 3306,
    connectionLimit: maxOpen,
    maxIdle: maxOpen === 0 ? config.max_idle_connections : Math.min(config.max_idle_connections, maxOpen),
    // mysql2 defaults to 60 s; "no limit" must be explicit.
    idleTimeout: config.connection_max_idle_time > 0 ? config.connection_max_idle_time : Number.POSITIVE_INFINITY,
    connectTimeout: config.connection_timeout,
    waitForConnections: true,
    queueLimit: 0,
    enableKeepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_IDLE_MS,
    // Retired and reaped sessions send COM_QUIT instead of dropping the socket (no "Aborted connection" on the server).
    gracefulEnd: true,
  };
  if (plan.user !== undefined) target.user = plan.user;
  if (plan.database !== undefined) target.database = plan.database;
  if (!options.password && dsn.password !== undefined) target.password = dsn.password;

  for (const [param, value] of Object.entries(plan.params)) {
    const apply = PARAMS[param];
    if (apply) {
      apply(value, target, (expected) => invalidParam(config.name, param, value, expected));
    } else if (GO_ONLY_PARAMS.has(param)) {
      logger.warn('Ignoring go-sql-driver DSN parameter that has no mysql2 equivalent', { connection: config.name, param });
    } else {
      logger.warn('Ignoring DSN parameter the MySQL driver does not understand', { connection: config.name, param });
    }
  }
  if (typeof target.charset === 'string' && (mysql.Charsets as unknown as Record<string, number | undefined>)[target.charset.toUpperCase()] === undefined) {
    throw invalidParam(config.name, dsn.params.collation === target.charset ? 'collation' : 'charset', target.charset, 'a MySQL character set or collation name (utf8mb4, UTF8MB4_UNICODE_CI, ...)');
  }

  const ssl = resolveSsl(options);
  if (ssl) target.ssl = ssl;
  const servername = plan.tls.servername;
  if (ssl && servername !== undefined && servername !== target.host) {
    // mysql2 checks the certificate against `host` only: it gets the name, and a socket to the address dialled
    const address = { host: target.host ?? 'localhost', port: target.port ?? 3306 };
    target.host = servername;
    target.stream = () => {
      const socket = connect(address);
      socket.setKeepAlive(true, KEEPALIVE_IDLE_MS);
      return socket;
    };
  }
  if (options.password) {
    // RDS IAM users authenticate with mysql_clear_password, which mysql2 >= 3.22 disables by default.
    target.enableCleartextPlugin = true;
    target.authPlugins = { mysql_clear_password: clearPasswordPlugin };
  }
  return target;
}
