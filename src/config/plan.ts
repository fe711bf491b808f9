import { defaultPort, describeDsn, parseDsn } from '../dsn/index.js';
import type { ParsedDsn } from '../dsn/types.js';
import type { DriverName } from '../driver-name.js';
import { endpointInvalidError, usernameMissingError } from '../iam/errors.js';
import { resolveSigningTarget } from '../iam/signing-target.js';
import { connectionTls } from '../tls/connection-tls.js';
import { withoutTlsParams } from '../tls/sslmode.js';
import { DEFAULTS } from './defaults.js';
import { planView, type ConnectionPlanView } from './plan-view.js';
import type { ConnectionPlan, DsnPlan, IamConnectionPlan, IamPlan } from './plan-types.js';
import type { ConnectionConfig } from './types.js';

export type { ConnectionPlan, DsnPlan, IamConnectionPlan, IamPlan } from './plan-types.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * The one place a connection's DSN is parsed (validation reports its problems through this too).
 * @throws ConfigError `DSN_INVALID` naming the DSN part at fault (never its secret).
 */
export function parseConnectionDsn(dsn: string, driver: DriverName, connection: string): ParsedDsn {
  return parseDsn(dsn, { driver, connection });
}

/**
 * Parses a connection's DSN and settles the endpoint it dials.
 * @throws ConfigError `DSN_INVALID` naming the DSN part at fault (never its secret).
 */
export function planDsn(settings: ConnectionConfig): DsnPlan {
  const { name, driver } = settings;
  const parsed = parseConnectionDsn(settings.dsn, driver, name);
  const passwordStripped = settings.aws_iam_auth.enabled && parsed.password !== undefined;
  const dsn: ParsedDsn = passwordStripped ? withoutPassword(parsed) : parsed;
  const network = driver !== 'sqlite';
  return {
    name,
    driver,
    settings,
    dsn,
    target: describeDsn(dsn),
    passwordStripped,
    ...(network ? { host: dsn.host ?? 'localhost', port: dsn.port ?? defaultPort(driver) } : {}),
    params: withoutTlsParams(dsn.params),
  };
}

/**
 * Resolves a connection once: its DSN ({@link planDsn}), the user that logs in, TLS, and with
 * IAM the signing endpoint, user and region. The user that signs is the user that logs in.
 * @throws ConfigError `DSN_INVALID` or `TLS_FAILED` (IAM without TLS); IamError
 * `IAM_ENDPOINT_INVALID`, `IAM_USERNAME_MISSING`, `IAM_REGION_MISSING`.
 */
export function planConnection(from: ConnectionConfig | DsnPlan): ConnectionPlan {
  const base = 'settings' in from ? from : planDsn(from);
  const { name, dsn, settings } = base;
  const iamConfig = settings.aws_iam_auth;
  const iam = iamConfig.enabled ? planIam(base) : undefined;
  const tls = connectionTls(dsn, { connection: name, iam: iam !== undefined });
  const user = iam?.user ?? dsn.user;
  const plan: ConnectionPlan = {
    ...base,
    ...(user === undefined ? {} : { user }),
    ...(dsn.database === undefined ? {} : { database: dsn.database }),
    tls,
    ...(iam ? { iam } : {}),
  };
  const view = (): ConnectionPlanView => planView(plan);
  Object.defineProperty(plan, 'toJSON', { value: view, enumerable: false });
  Object.defineProperty(plan, INSPECT, { value: view, enumerable: false });
  return Object.freeze(plan);
}

/**
 * What an IAM connection signs for, before validation: `signing_host`/`signing_port` else the host
 * and port dialled, and `db_user` else the DSN's user (the user that then logs in).
 */
export function signingInput(base: DsnPlan): { host: string; port: number; user: string | undefined } {
  const config = base.settings.aws_iam_auth;
  return { host: config.signing_host ?? base.dsn.host ?? '', port: config.signing_port ?? base.port ?? 0, user: config.db_user ?? base.dsn.user };
}

/** True for the plan of an IAM connection. */
export function usesIam(plan: ConnectionPlan): plan is IamConnectionPlan {
  return plan.iam !== undefined;
}

// --- internal ---

function planIam(base: DsnPlan): IamPlan {
  const { name, dsn, settings } = base;
  const config = settings.aws_iam_auth;
  if (!dsn.host || dsn.host.startsWith('/')) {
    throw withConnection(endpointInvalidError(`connection "${name}": IAM authentication needs a TCP host in the DSN, got ${dsn.host ? `socket ${dsn.host}` : 'none'} (${base.target})`), name);
  }
  const { host, port, user } = signingInput(base);
  if (!user) {
    throw withConnection(usernameMissingError(`connection "${name}": IAM authentication needs a database user: the DSN has none and aws_iam_auth.db_user is not set`), name);
  }
  let target: ReturnType<typeof resolveSigningTarget>;
  try {
    target = resolveSigningTarget({ host, port, user, ...(config.region === undefined ? {} : { region: config.region }) });
  } catch (error) {
    throw error instanceof Error ? withConnection(error, name) : error;
  }
  return {
    user: target.user,
    userSource: config.db_user === undefined ? 'dsn' : 'aws_iam_auth.db_user',
    signingHost: target.host,
    signingPort: target.port,
    region: target.region,
    regionSource: target.regionSource === 'configured' ? 'aws_iam_auth.region' : 'hostname',
    maxConnectsPerSecond: config.max_connects_per_second ?? DEFAULTS.max_connects_per_second,
  };
}

function withoutPassword(dsn: ParsedDsn): ParsedDsn {
  const { password: _stripped, ...rest } = dsn;
  return rest;
}

function withConnection<E extends Error & { connection?: string }>(error: E, connection: string): E {
  if (error.connection === undefined) Object.defineProperty(error, 'connection', { value: connection, enumerable: true });
  return error;
}
