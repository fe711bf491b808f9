import { lookup } from 'node:dns/promises';
import { access, constants, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { planConnection, planDsn, type ConnectionPlan, type DsnPlan } from '../config/plan.js';
import { planView, type ConnectionPlanView } from '../config/plan-view.js';
import type { ConnectionConfig, DatabaseConfig } from '../config/types.js';
import { openConnection } from '../database.js';
import { readSecretLogin } from '../secret-connection.js';
import type { DriverName } from '../driver-name.js';
import { systemClock } from '../drivers/types.js';
import { DbModuleError } from '../errors.js';
import { DatabaseEventEmitter } from '../events.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from '../iam/types.js';
import { silentLogger } from '../logging.js';
import { describeTls } from '../tls/connection-tls.js';
import type { Connection } from '../connection.js';
import { isSecretParam, REDACTED } from '../dsn/index.js';
import { checkIamPhases, type CheckedCredentials, type IamCheckResult } from './iam-check.js';
import { PhaseRecorder, type CheckPhase } from './phases.js';
import { probePostgresTls, probeTcp } from './probes.js';

export type { CheckPhase, PhaseName, PhaseStatus } from './phases.js';
export type { CheckedCredentials } from './iam-check.js';

/** @public */
export interface ConnectionCheck {
  name: string;
  driver: DriverName;
  target: string;
  ok: boolean;
  /** How the connection was resolved (user, endpoint, signing endpoint, TLS): exactly what its driver is given. */
  plan?: ConnectionPlanView;
  /** IAM connections: the AWS credentials the `credentials` phase resolved (never a secret). */
  credentials?: CheckedCredentials;
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
 *   profile, assumed role, access key id suffix, expiry; also in `credentials` of the check),
 *   `token` (signed for host:port, region, user, expiry);
 * - `secrets_manager` connections: `secret` (the secret read as the connection reads it: its id,
 *   region, version, the user it holds and where the AWS credentials came from; never the password);
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
  const iamEnabled = connection.aws_iam_auth.enabled;

  // The plan is resolved once here, reported, and opened as it is.
  let base: DsnPlan | undefined;
  let plan: ConnectionPlan | undefined;
  const parsed = await recorder.run('dsn', async () => {
    base = planDsn(connection);
    check.target = base.target;
    // Without IAM the TLS comes from the DSN alone, so it belongs to this phase; with IAM, to `config`.
    if (!iamEnabled) plan = planConnection(base);
    return `${base.dsn.family} ${base.target}${describeParams(base)}${plan && plan.driver !== 'sqlite' ? `; ${describeTls(plan.tls)}` : ''}`;
  });
  if (!parsed || !base) return check;

  const iam = iamEnabled
    ? await checkIamPhases(base, recorder, options.credentials, (credentials) => {
        check.credentials = credentials;
      })
    : undefined;
  plan = iam?.plan ?? plan;
  if (!plan) return check;
  check.plan = planView(plan);
  const planned = plan;
  const { secret } = planned;
  if (secret) {
    const read = await recorder.run('secret', async () => {
      const started = performance.now();
      const login = await readSecretLogin({ ...planned, secret }, options.credentials === undefined ? {} : { credentials: options.credentials });
      return `secret "${secret.secretId}" (${secret.region}, from ${secret.regionSource}) version ${login.versionId}: user "${login.user}", read in ${Math.round(performance.now() - started)}ms with ${login.credentials}`;
    });
    if (!read) return check;
  }
  try {
    if (planned.driver === 'sqlite') {
      if (!(await recorder.run('file', () => checkSqlitePath(planned)))) return check;
      check.ok = await recorder.run('ping', () => openAndPing(planned, undefined));
    } else {
      check.ok = await checkNetworkPhases(planned, recorder, iam, options.credentials);
    }
  } finally {
    iam?.auth.close();
  }
  return check;
}

/** The DSN's parameters, secret-looking ones redacted: ` (application_name=api, sslmode=verify-full)`. */
function describeParams(base: DsnPlan): string {
  const entries = Object.entries(base.dsn.params).map(([key, value]) => `${key}=${isSecretParam(key) ? REDACTED : value}`);
  return entries.length === 0 ? '' : ` (${entries.join(', ')})`;
}

/** `given`: the credentials given to `check` (a `secrets_manager` connection reads its secret with them). */
async function checkNetworkPhases(plan: ConnectionPlan, recorder: PhaseRecorder, iam: IamCheckResult | undefined, given: CheckOptions['credentials']): Promise<boolean> {
  const host = plan.host ?? 'localhost';
  const port = plan.port ?? 0;
  const timeoutMs = plan.settings.connection_timeout;
  let address = host;
  const resolved = await recorder.run('dns', async () => {
    if (host.startsWith('/')) return `Unix socket ${host}`;
    address = (await lookup(host)).address;
    return `${host} -> ${address}`;
  });
  if (!resolved) return false;
  if (!host.startsWith('/') && !(await recorder.run('tcp', () => probeTcp(address, port, timeoutMs)))) return false;

  const tls = plan.tls.options;
  if (tls && plan.driver === 'postgres' && !host.startsWith('/')) {
    const verified = await recorder.run('tls', () => probePostgresTls({ address, port, host, tls, verification: describeTls(plan.tls), timeoutMs }));
    if (!verified) return false;
  } else if (tls && plan.driver === 'mysql') {
    recorder.skip('tls', `MySQL starts TLS after the server greeting, so TLS (${describeTls(plan.tls)}) is checked as part of authentication`);
  }

  if (!iam) return recorder.run('ping', () => openAndPing(plan, given));
  let opened: Connection | undefined;
  try {
    const authenticated = await recorder.run('authentication', async () => {
      const started = performance.now();
      opened = await openSingleSession(plan, iam.credentials);
      return `the server accepted the IAM token for user "${plan.user}"${plan.driver === 'mysql' ? ` over TLS (${describeTls(plan.tls)})` : ''} in ${Math.round(performance.now() - started)}ms`;
    });
    if (!authenticated || !opened) return false;
    const connection = opened;
    return await recorder.run('ping', async () => {
      const started = performance.now();
      await connection.ping();
      return `health query answered in ${Math.round(performance.now() - started)}ms`;
    });
  } finally {
    await opened?.close();
  }
}

async function openAndPing(plan: ConnectionPlan, credentials: CheckOptions['credentials']): Promise<string> {
  const connection = await openSingleSession(plan, credentials);
  try {
    const started = performance.now();
    await connection.ping();
    return `authenticated and ran the health query in ${Math.round(performance.now() - started)}ms`;
  } finally {
    await connection.close();
  }
}

/** Opens the plan itself, with one session: what `check` reports is what it connects with. */
async function openSingleSession(plan: ConnectionPlan, credentials: CheckOptions['credentials']): Promise<Connection> {
  const single: ConnectionPlan = { ...plan, settings: { ...plan.settings, max_open_connections: 1, max_idle_connections: 1 } };
  const { connection } = await openConnection(single, {
    logger: silentLogger,
    clock: systemClock,
    events: new DatabaseEventEmitter(),
    signal: undefined,
    credentials,
  });
  return connection;
}

async function checkSqlitePath(plan: ConnectionPlan): Promise<string> {
  const path = plan.dsn.path ?? ':memory:';
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
