import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { formatDsn, planConnection, rdsCaBundle, readSecretLogin, ROOT_CERT_PARAM_NAMES, TLS_MODE_PARAM_NAMES, type ConnectionConfig, type ConnectionPlan, type Logger, type ParsedDsn } from '../../index.js';
import type { CliIo } from '../io.js';
import { credentialsFromCliEnv } from './credentials.js';
import { regionFor, signToken, targetOfConnection } from './iam-target.js';

/**
 * Variables `exec` owns: inherited values are removed first, so a stale one never reaches the child.
 * PGSERVICE too: libpq would take host, port, user and TLS from that service over the variables.
 */
export const MANAGED_VARIABLES: readonly string[] = [
  'PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD', 'PGPASSFILE', 'PGSERVICE', 'PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY',
  'MYSQL_HOST', 'MYSQL_TCP_PORT', 'MYSQL_UNIX_PORT', 'MYSQL_PWD', 'MYSQL_USER', 'MYSQL_DATABASE', 'LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN',
  'DATABASE_URL',
];

/** The child's connection variables, and what to remove once it has exited. */
export interface ExecEnvironment {
  readonly variables: Record<string, string>;
  /**
   * The command line to run: the MySQL and MariaDB clients (`mysql`, `mariadb`, `mysqldump`, ...)
   * get `--defaults-file` first, an option file that says everything they need (host and
   * port over TCP, never the local socket; user, password, database, TLS),
   * because their environment variables cannot (no TLS, no user or database in MariaDB's). It is
   * the only option file they read: a ~/.my.cnf, read after an extra file, would override it and
   * send them to a local socket, as another user, or without TLS.
   */
  argumentsFor(command: readonly string[]): string[];
  /** Describes the credential for log lines: `IAM token for app@host:5432 ...` or `DSN password`; never the value. */
  readonly credential: string;
  cleanup(): Promise<void>;
}

/**
 * The environment a database tool needs to reach `connection`, from its plan: libpq's PG*
 * variables (PostgreSQL) or the mysql client's MYSQL_* ones, plus DATABASE_URL with the password
 * percent-encoded. The user is the plan's login user (`db_user` under IAM). IAM connections get a
 * fresh token as the password and the plan's TLS (the RDS CA bundle is written to a temporary
 * file for libpq); `secrets_manager` connections the secret's user and password; others the DSN's password.
 */
export async function execEnvironment(connection: ConnectionConfig, io: CliIo, logger: Logger): Promise<ExecEnvironment> {
  let plan = planConnection(connection);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled(cleanups.map((step) => step()));
  };
  try {
    let dir: string | undefined;
    const file = async (name: string, text: string): Promise<string> => {
      if (!dir) {
        const created = await mkdtemp(join(tmpdir(), 'dbmodule-exec-'));
        cleanups.push(() => rm(created, { recursive: true, force: true }));
        dir = created;
      }
      const path = join(dir, name);
      await writeFile(path, text, { mode: 0o600 });
      return path;
    };
    let rootCert = rootCertOf(plan);
    if (plan.tls.ca === 'rds-bundle') rootCert = await file('rds-ca-bundle.pem', `${rdsCaBundle().join('\n')}\n`);
    let password = plan.dsn.password;
    let credential = password === undefined ? 'no password' : 'the DSN password';
    if (plan.iam) {
      const target = targetOfConnection(plan);
      // the connection's own credentials (aws_iam_auth.profile, role_arn), as it signs with them
      const { token, state } = await signToken({ ...target, region: regionFor(target.host, target.region, io.env) }, io, logger, plan);
      const until = state.expiresAt === undefined ? '' : `, valid until ${new Date(state.expiresAt).toISOString()}`;
      const role = state.assumedRoleArn === undefined ? '' : `, role ${state.assumedRoleArn}`;
      password = token;
      credential = `a fresh IAM token for ${state.user}@${state.signedHost}:${state.signedPort} (key ...${state.accessKeyIdSuffix ?? '?'}${role}${until})`;
    }
    const { secret } = plan;
    if (secret) {
      // the login the connection would use: the secret's AWSCURRENT user and password
      const environment = credentialsFromCliEnv(io.env);
      const login = await readSecretLogin({ ...plan, secret }, { logger, ...(environment ? { credentials: environment } : {}) });
      password = login.password;
      plan = { ...plan, user: login.user };
      credential = `the login of secret "${secret.secretId}" (version ${login.versionId}, user ${login.user}; ${login.credentials})`;
    }
    const options = plan.driver === 'mysql' ? await file('my.cnf', mysqlOptionFile(plan, password, rootCert)) : undefined;
    return {
      variables: variablesFor(plan, password, rootCert),
      argumentsFor: (command) => (options && isMysqlClient(command[0]) ? [command[0]!, `--defaults-file=${options}`, ...command.slice(1)] : [...command]),
      credential,
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

// --- internal ---

/** The MySQL and MariaDB command-line clients, which read option files. */
const MYSQL_CLIENTS: ReadonlySet<string> = new Set(
  ['', '-dump', '-admin', '-check', '-import', '-show', '-binlog', '-slap'].flatMap((suffix) => [`mysql${suffix.replace('-', '')}`, `mariadb${suffix}`]),
);

function isMysqlClient(command: string | undefined): boolean {
  return command !== undefined && MYSQL_CLIENTS.has(basename(command));
}

/**
 * The option file for the MySQL and MariaDB clients. Certificate checks go to `[client-mariadb]`,
 * which only MariaDB's clients read (`ssl-verify-server-cert`; MySQL 8's clients verify the CA once
 * `ssl-ca` is given); `loose-` options are skipped silently by a client that does not know them.
 * `database` goes to the interactive clients' groups only (mysqldump refuses it).
 */
function mysqlOptionFile(plan: ConnectionPlan, password: string | undefined, rootCert: string | undefined): string {
  const client: string[] = [];
  const mariadb: string[] = [];
  const host = plan.host ?? 'localhost';
  if (host.startsWith('/')) client.push(`socket=${quoted(host)}`, 'protocol=SOCKET');
  else client.push(`host=${quoted(host)}`, `port=${plan.port ?? 3306}`, 'protocol=TCP');
  if (plan.user !== undefined) client.push(`user=${quoted(plan.user)}`);
  if (password !== undefined) client.push(`password=${quoted(password)}`);
  // what distributions' client configuration (no longer read) sets; otherwise the locale decides
  client.push('default-character-set=utf8mb4');
  // the driver's own default says nothing: the client's default applies
  const mode = sslModeOf(plan);
  if (mode === 'verify-full' || mode === 'verify-ca') {
    if (rootCert && rootCert !== 'system') client.push(`ssl-ca=${quoted(rootCert)}`);
    client.push('loose-ssl');
    mariadb.push('ssl-verify-server-cert');
  } else if (mode === 'require' || mode === 'prefer') {
    client.push('loose-ssl');
    mariadb.push('disable-ssl-verify-server-cert');
  } else if (mode === 'disable') {
    client.push('loose-skip-ssl');
  }
  // RDS asks IAM users for mysql_clear_password: MariaDB's clients send it, MySQL's with LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN (set too)
  const database = plan.database ? [`database=${quoted(plan.database)}`] : [];
  return ['# written by dbmodule exec; removed when the command exits', '[client]', ...client, '', '[client-mariadb]', ...mariadb, '', '[mysql]', ...database, ''].join('\n');
}

/** An option value in double quotes, backslashes and quotes escaped as option files read them. */
function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The CA libpq should verify with: the plan's CA file, or `system`. */
function rootCertOf(plan: ConnectionPlan): string | undefined {
  return plan.tls.ca === 'file' ? plan.tls.caFile : plan.tls.ca === 'system' ? 'system' : undefined;
}

/** The TLS mode a tool should use: the plan's, unless it is only the driver's default (libpq's own default then applies). */
function sslModeOf(plan: ConnectionPlan): string | undefined {
  return plan.tls.source === 'driver default' ? undefined : plan.tls.mode;
}

function variablesFor(plan: ConnectionPlan, password: string | undefined, rootCert: string | undefined): Record<string, string> {
  const variables: Record<string, string> = {};
  const set = (name: string, value: string | number | undefined): void => {
    if (value !== undefined && value !== '') variables[name] = String(value);
  };
  const host = plan.host ?? 'localhost';
  const sslmode = sslModeOf(plan);
  if (plan.driver === 'postgres') {
    set('PGHOST', host);
    set('PGPORT', plan.port);
    set('PGUSER', plan.user);
    set('PGDATABASE', plan.database);
    set('PGPASSWORD', password);
    set('PGSSLMODE', sslmode);
    set('PGSSLROOTCERT', rootCert);
    set('PGSSLCERT', plan.dsn.params.sslcert);
    set('PGSSLKEY', plan.dsn.params.sslkey);
  } else if (plan.driver === 'mysql') {
    if (host.startsWith('/')) set('MYSQL_UNIX_PORT', host);
    else set('MYSQL_HOST', host);
    set('MYSQL_TCP_PORT', plan.port);
    set('MYSQL_USER', plan.user);
    set('MYSQL_DATABASE', plan.database);
    set('MYSQL_PWD', password);
    // RDS asks IAM users for mysql_clear_password; libmysqlclient sends it only when allowed.
    if (plan.iam) set('LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN', '1');
  }
  const params: Record<string, string> = { ...plan.dsn.params };
  if (plan.driver === 'postgres') {
    // The URL says the plan's TLS in libpq's words, whatever spelling the DSN used.
    for (const name of [...TLS_MODE_PARAM_NAMES, ...ROOT_CERT_PARAM_NAMES]) delete params[name];
    if (sslmode) params.sslmode = sslmode;
    if (rootCert) params.sslrootcert = rootCert;
  }
  const forUrl: ParsedDsn = { ...plan.dsn, ...(plan.user === undefined ? {} : { user: plan.user }), params };
  set('DATABASE_URL', formatDsn(forUrl, password === undefined ? {} : { password }));
  return variables;
}
