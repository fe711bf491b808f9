import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaultPort, formatDsn, parseDsn, rdsCaBundle, sslModeToTls, type ConnectionConfig, type Logger, type ParsedDsn } from '../../index.js';
import type { CliIo } from '../io.js';
import { regionFor, signToken, targetOfConnection } from './iam-target.js';

/** Variables `exec` owns: inherited values are removed first, so a stale one never reaches the child. */
export const MANAGED_VARIABLES: readonly string[] = [
  'PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD', 'PGPASSFILE', 'PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY',
  'MYSQL_HOST', 'MYSQL_TCP_PORT', 'MYSQL_UNIX_PORT', 'MYSQL_PWD', 'MYSQL_USER', 'MYSQL_DATABASE', 'LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN',
  'DATABASE_URL',
];

/** The child's connection variables, and what to remove once it has exited. */
export interface ExecEnvironment {
  readonly variables: Record<string, string>;
  /** Describes the credential for log lines: `IAM token for app@host:5432 ...` or `DSN password`; never the value. */
  readonly credential: string;
  cleanup(): Promise<void>;
}

/**
 * The environment a database tool needs to reach `connection`: libpq's PG* variables (PostgreSQL)
 * or the mysql client's MYSQL_* ones, plus DATABASE_URL with the password percent-encoded. IAM
 * connections get a fresh token as the password (and TLS: verify-full against the RDS CA bundle,
 * written to a temporary file, unless the DSN names its own CA); others get the DSN's password.
 */
export async function execEnvironment(connection: ConnectionConfig, io: CliIo, logger: Logger): Promise<ExecEnvironment> {
  const dsn = parseDsn(connection.dsn, { driver: connection.driver, connection: connection.name });
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled(cleanups.map((step) => step()));
  };
  try {
    if (!connection.aws_iam_auth.enabled) {
      return { variables: variablesFor(connection, dsn, dsn.user, dsn.password, {}), credential: dsn.password === undefined ? 'no password' : 'the DSN password', cleanup };
    }
    const target = targetOfConnection(connection, dsn);
    const host = target.host ?? '';
    const tls = iamTlsParams(connection, dsn);
    if (connection.driver === 'postgres' && !tls.sslrootcert) {
      const dir = await mkdtemp(join(tmpdir(), 'dbmodule-exec-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      tls.sslrootcert = join(dir, 'rds-ca-bundle.pem');
      await writeFile(tls.sslrootcert, `${rdsCaBundle().join('\n')}\n`, { mode: 0o600 });
    }
    const { token, state } = await signToken({ host, port: target.port ?? 0, user: target.user ?? '', region: regionFor(host, target.region, io.env) }, io, logger);
    const until = state.expiresAt === undefined ? '' : `, valid until ${new Date(state.expiresAt).toISOString()}`;
    return {
      variables: variablesFor(connection, dsn, state.user, token, tls),
      credential: `a fresh IAM token for ${state.user}@${state.signedHost}:${state.signedPort} (key ...${state.accessKeyIdSuffix ?? '?'}${until})`,
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

// --- internal ---

interface TlsParams {
  sslmode?: string;
  sslrootcert?: string;
}

/** IAM tokens only travel over TLS: the DSN's mode if it asks for TLS, else verify-full. */
function iamTlsParams(connection: ConnectionConfig, dsn: ParsedDsn): TlsParams {
  const settings = sslModeToTls(dsn, connection.name);
  if (settings.explicit && settings.tls === false) {
    throw new ConfigError('TLS_FAILED', `connection "${connection.name}": ${settings.source ?? `sslmode=${settings.mode}`} turns TLS off, but the IAM token would then cross the network in the clear`, {
      connection: connection.name,
      solutions: ['Remove sslmode from the DSN (IAM connections default to verify-full against the RDS CA bundle)'],
    });
  }
  const rootCert = rootCertOf(dsn);
  return { sslmode: settings.explicit ? settings.mode : 'verify-full', ...(rootCert ? { sslrootcert: rootCert } : {}) };
}

function rootCertOf(dsn: ParsedDsn): string | undefined {
  return ['sslrootcert', 'ssl-ca', 'ssl_ca', 'sslca'].map((key) => dsn.params[key]).find((value) => value !== undefined && value !== '');
}

function variablesFor(connection: ConnectionConfig, dsn: ParsedDsn, user: string | undefined, password: string | undefined, iamTls: TlsParams): Record<string, string> {
  const variables: Record<string, string> = {};
  const set = (name: string, value: string | number | undefined): void => {
    if (value !== undefined && value !== '') variables[name] = String(value);
  };
  const host = dsn.host ?? 'localhost';
  const port = dsn.port ?? defaultPort(connection.driver);
  if (connection.driver === 'postgres') {
    const settings = sslModeToTls(dsn, connection.name);
    set('PGHOST', host);
    set('PGPORT', port);
    set('PGUSER', user);
    set('PGDATABASE', dsn.database);
    set('PGPASSWORD', password);
    set('PGSSLMODE', connection.aws_iam_auth.enabled ? iamTls.sslmode : settings.explicit ? settings.mode : undefined);
    set('PGSSLROOTCERT', connection.aws_iam_auth.enabled ? iamTls.sslrootcert : rootCertOf(dsn));
    set('PGSSLCERT', dsn.params.sslcert);
    set('PGSSLKEY', dsn.params.sslkey);
  } else if (connection.driver === 'mysql') {
    if (host.startsWith('/')) set('MYSQL_UNIX_PORT', host);
    else set('MYSQL_HOST', host);
    set('MYSQL_TCP_PORT', port);
    set('MYSQL_USER', user);
    set('MYSQL_DATABASE', dsn.database);
    set('MYSQL_PWD', password);
    // RDS asks IAM users for mysql_clear_password; libmysqlclient sends it only when allowed.
    if (connection.aws_iam_auth.enabled) set('LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN', '1');
  }
  const params: Record<string, string> = { ...dsn.params };
  if (connection.driver === 'postgres' && connection.aws_iam_auth.enabled) {
    if (!Object.keys(params).some((key) => ['sslmode', 'ssl-mode', 'ssl_mode', 'ssl', 'tls'].includes(key)) && iamTls.sslmode) params.sslmode = iamTls.sslmode;
    if (!rootCertOf(dsn) && iamTls.sslrootcert) params.sslrootcert = iamTls.sslrootcert;
  }
  const forUrl: ParsedDsn = { ...dsn, ...(user === undefined ? {} : { user }), params };
  set('DATABASE_URL', formatDsn(forUrl, password === undefined ? {} : { password }));
  return variables;
}
