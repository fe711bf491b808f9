import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDsn, planConnection, rdsCaBundle, ROOT_CERT_PARAM_NAMES, TLS_MODE_PARAM_NAMES, type ConnectionConfig, type ConnectionPlan, type Logger, type ParsedDsn } from '../../index.js';
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
 * The environment a database tool needs to reach `connection`, from its plan: libpq's PG*
 * variables (PostgreSQL) or the mysql client's MYSQL_* ones, plus DATABASE_URL with the password
 * percent-encoded. The user is the plan's login user (`db_user` under IAM). IAM connections get a
 * fresh token as the password and the plan's TLS (the RDS CA bundle is written to a temporary
 * file for libpq); others get the DSN's password.
 */
export async function execEnvironment(connection: ConnectionConfig, io: CliIo, logger: Logger): Promise<ExecEnvironment> {
  const plan = planConnection(connection);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled(cleanups.map((step) => step()));
  };
  try {
    if (!plan.iam) {
      return { variables: variablesFor(plan, plan.dsn.password, rootCertOf(plan)), credential: plan.dsn.password === undefined ? 'no password' : 'the DSN password', cleanup };
    }
    let rootCert = rootCertOf(plan);
    if (plan.driver === 'postgres' && plan.tls.ca === 'rds-bundle') {
      const dir = await mkdtemp(join(tmpdir(), 'dbmodule-exec-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      rootCert = join(dir, 'rds-ca-bundle.pem');
      await writeFile(rootCert, `${rdsCaBundle().join('\n')}\n`, { mode: 0o600 });
    }
    const target = targetOfConnection(plan);
    const { token, state } = await signToken({ ...target, region: regionFor(target.host, target.region, io.env) }, io, logger);
    const until = state.expiresAt === undefined ? '' : `, valid until ${new Date(state.expiresAt).toISOString()}`;
    return {
      variables: variablesFor(plan, token, rootCert),
      credential: `a fresh IAM token for ${state.user}@${state.signedHost}:${state.signedPort} (key ...${state.accessKeyIdSuffix ?? '?'}${until})`,
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

// --- internal ---

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
