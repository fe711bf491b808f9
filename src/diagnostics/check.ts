import { lookup } from 'node:dns/promises';
import { access, constants, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { ConnectionConfig, DatabaseConfig, DriverName } from '../config/types.js';
import { createDatabase } from '../database.js';
import { defaultPort, describeDsn, parseDsn } from '../dsn/index.js';
import type { ParsedDsn } from '../dsn/types.js';
import { DbModuleError } from '../errors.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from '../iam/types.js';
import { silentLogger } from '../logging.js';
import { sslModeToTls } from '../tls/sslmode.js';
import { checkIamPhases, type IamCheckResult } from './iam-check.js';
import { PhaseRecorder, type CheckPhase } from './phases.js';
import { probePostgresTls, probeTcp } from './probes.js';

export type { CheckPhase, PhaseName, PhaseStatus } from './phases.js';

/** @public */
export interface ConnectionCheck {
  name: string;
  driver: DriverName;
  target: string;
  ok: boolean;
  phases: CheckPhase[];
}

/** @public */
export interface CheckReport {
  ok: boolean;
  connections: ConnectionCheck[];
}

/** @public */
export interface CheckOptions {
  /** Check only this connection (`CONNECTION_NOT_FOUND` if it does not exist). */
  connection?: string;
  /** AWS credentials (or a provider) for IAM connections. Default: the AWS SDK default chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialProvider;
}

/**
 * Diagnoses connections phase by phase, stopping a connection at its first failed phase:
 * - every connection: `dsn` (parsed, redacted target);
 * - IAM connections: `config` (user, signing endpoint, region, TLS policy), `credentials` (source,
 *   access key id suffix, expiry), `token` (signed for host:port, region, user, expiry);
 * - network drivers: `dns`, `tcp`, then `tls` when TLS is used (PostgreSQL: SSLRequest and the
 *   handshake, certificate verified with the connection's own options; MySQL negotiates TLS after
 *   the server greeting, so there it is verified as part of `authentication`);
 * - IAM connections: `authentication` (a session opened with a fresh token), then `ping`;
 *   other connections: `ping` (authentication and the health query); SQLite: `file`, `ping`.
 * Never throws for a failed check: the report says what failed and why, with the causes and
 * solutions of the failing layer. Nothing secret appears in it (no token, password or secret key).
 * @public
 */
export async function checkConnections(config: DatabaseConfig, options: CheckOptions = {}): Promise<CheckReport> {
  const names = options.connection ? [options.connection] : Object.keys(config.connections);
  const checks: ConnectionCheck[] = [];
  for (const name of names) {
    const connection = config.connections[name];
    if (!connection) {
      const known = Object.keys(config.connections).join(', ');
      throw new DbModuleError('CONNECTION_NOT_FOUND', `no connection named "${name}"; known connections: ${known}`, { connection: name });
    }
    checks.push(await checkConnection(connection, options));
  }
  return { ok: checks.every((check) => check.ok), connections: checks };
}

// --- internal ---

async function checkConnection(connection: ConnectionConfig, options: CheckOptions): Promise<ConnectionCheck> {
  const recorder = new PhaseRecorder();
  const check: ConnectionCheck = { name: connection.name, driver: connection.driver, target: '', ok: false, phases: recorder.phases };

  let dsn: ParsedDsn | undefined;
  const parsed = await recorder.run('dsn', async () => {
    dsn = parseDsn(connection.dsn, { driver: connection.driver, connection: connection.name });
    check.target = describeDsn(dsn);
    return `${dsn.family} ${check.target}`;
  });
  if (!parsed || !dsn) return check;
  const target = dsn;

  if (connection.driver === 'sqlite') {
    if (!(await recorder.run('file', () => checkSqlitePath(target)))) return check;
    check.ok = await recorder.run('ping', () => openAndPing(connection));
    return check;
  }

  const iam = connection.aws_iam_auth.enabled ? await checkIamPhases(connection, target, recorder, options.credentials) : undefined;
  if (connection.aws_iam_auth.enabled && !iam) return check;
  try {
    check.ok = await checkNetworkPhases(connection, target, recorder, iam);
  } finally {
    iam?.auth.close();
  }
  return check;
}

async function checkNetworkPhases(connection: ConnectionConfig, dsn: ParsedDsn, recorder: PhaseRecorder, iam: IamCheckResult | undefined): Promise<boolean> {
  const host = dsn.host ?? 'localhost';
  const port = dsn.port ?? defaultPort(connection.driver) ?? 0;
  const timeoutMs = connection.connection_timeout;
  let address = host;
  const resolved = await recorder.run('dns', async () => {
    if (host.startsWith('/')) return `Unix socket ${host}`;
    address = (await lookup(host)).address;
    return `${host} -> ${address}`;
  });
  if (!resolved) return false;
  if (!host.startsWith('/') && !(await recorder.run('tcp', () => probeTcp(address, port, timeoutMs)))) return false;

  const tls = tlsToProbe(connection, dsn, iam);
  if (tls && connection.driver === 'postgres' && !host.startsWith('/')) {
    const verified = await recorder.run('tls', () => probePostgresTls({ address, port, host, tls: tls.options, verification: tls.verification, timeoutMs }));
    if (!verified) return false;
  } else if (tls && connection.driver === 'mysql') {
    recorder.skip('tls', `MySQL starts TLS after the server greeting, so TLS (${tls.verification}) is checked as part of authentication`);
  }

  if (!iam) return recorder.run('ping', () => openAndPing(connection));
  let opened: Awaited<ReturnType<typeof createDatabase>> | undefined;
  try {
    const authenticated = await recorder.run('authentication', async () => {
      const started = performance.now();
      opened = await createDatabase(singleConnection(connection), { logger: silentLogger, credentials: iam.credentials });
      const user = iam.auth.state().user;
      return `the server accepted the IAM token for user "${user}"${connection.driver === 'mysql' ? ' over verified TLS' : ''} in ${Math.round(performance.now() - started)}ms`;
    });
    if (!authenticated || !opened) return false;
    const db = opened;
    return await recorder.run('ping', async () => {
      const started = performance.now();
      await db.connection().ping();
      return `health query answered in ${Math.round(performance.now() - started)}ms`;
    });
  } finally {
    await opened?.close();
  }
}

/** The TLS options the connection itself would use, when it uses TLS. */
function tlsToProbe(connection: ConnectionConfig, dsn: ParsedDsn, iam: IamCheckResult | undefined): { options: ConnectionOptions; verification: string } | undefined {
  if (iam) {
    const options = iam.auth.tls;
    const mode = options.rejectUnauthorized === false ? 'require (encrypted, not verified)' : options.checkServerIdentity ? 'verify-ca' : 'verify-full';
    return { options, verification: `${mode}, ${iam.auth.tls.ca && !dsnHasRootCert(dsn) ? 'RDS CA bundle' : 'configured CA'}` };
  }
  const settings = sslModeToTls(dsn, connection.name);
  if (settings.tls === false) return undefined;
  const verification = settings.mode === 'require' && settings.tls.rejectUnauthorized === false ? 'require (encrypted, not verified)' : settings.mode;
  return { options: settings.tls, verification: `${verification}${dsnHasRootCert(dsn) ? ', configured CA' : ', system CAs'}` };
}

function dsnHasRootCert(dsn: ParsedDsn): boolean {
  return ['sslrootcert', 'ssl-ca', 'ssl_ca', 'sslca'].some((key) => Boolean(dsn.params[key]));
}

async function openAndPing(connection: ConnectionConfig): Promise<string> {
  const db = await createDatabase(singleConnection(connection), { logger: silentLogger });
  try {
    const started = performance.now();
    await db.connection().ping();
    return `authenticated and ran the health query in ${Math.round(performance.now() - started)}ms`;
  } finally {
    await db.close();
  }
}

/** The connection alone, back in raw (file) form: durations in seconds, one session. */
function singleConnection(connection: ConnectionConfig): Record<string, unknown> {
  const seconds = (ms: number) => ms / 1000;
  return {
    default: connection.name,
    connections: {
      [connection.name]: {
        driver: connection.driver,
        dsn: connection.dsn,
        max_open_connections: 1,
        max_idle_connections: 1,
        connection_timeout: seconds(connection.connection_timeout),
        ...(connection.query_timeout > 0 ? { query_timeout: seconds(connection.query_timeout) } : {}),
        aws_iam_auth: { ...connection.aws_iam_auth },
      },
    },
  };
}

async function checkSqlitePath(dsn: ParsedDsn): Promise<string> {
  const path = dsn.path ?? ':memory:';
  if (path === ':memory:' || path.startsWith('file::memory:')) return 'in-memory database';
  const absolute = resolve(path);
  try {
    await access(absolute, constants.R_OK | constants.W_OK);
    return `${absolute} exists and is writable`;
  } catch {
    await mkdir(dirname(absolute), { recursive: true });
    await access(dirname(absolute), constants.W_OK);
    return `${absolute} will be created`;
  }
}
