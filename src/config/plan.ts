import { defaultPort, describeDsn, parseDsn } from '../dsn/index.js';
import type { ParsedDsn } from '../dsn/types.js';
import type { DriverName } from '../driver-name.js';
import { endpointInvalidError, usernameMissingError } from '../iam/errors.js';
import { resolveSigningTarget } from '../iam/signing-target.js';
import { connectionTls, type ConnectionTls } from '../tls/connection-tls.js';
import { withoutTlsParams } from '../tls/sslmode.js';
import { DEFAULTS } from './defaults.js';
import { planView, type ConnectionPlanView } from './plan-view.js';
import type { ConnectionConfig } from './types.js';

/** What the DSN of a connection says: parsed once, with the endpoint it dials. @public */
export interface DsnPlan {
  readonly name: string;
  readonly driver: DriverName;
  /** The validated settings: pool limits and timeouts (milliseconds). */
  readonly settings: ConnectionConfig;
  /** The DSN's parts, decoded. Under IAM the password is removed (the token replaces it). */
  readonly dsn: ParsedDsn;
  /** The DSN redacted, for messages: `postgres://app@db.example.com:5432/app`. */
  readonly target: string;
  /** The host dialled (network drivers; a path for a Unix socket), `localhost` when the DSN has none. */
  readonly host?: string;
  /** The port dialled, the driver's default (5432, 3306) when the DSN has none. */
  readonly port?: number;
  /** True when IAM removed a (placeholder) password from the DSN. */
  readonly passwordStripped: boolean;
  /** The DSN's parameters less the TLS ones, which {@link ConnectionPlan.tls} has translated. */
  readonly params: Readonly<Record<string, string>>;
}

/** How an IAM connection signs its tokens. @public */
export interface IamPlan {
  /** The user the token is signed for, which is also the user that logs in. */
  readonly user: string;
  readonly userSource: 'aws_iam_auth.db_user' | 'dsn';
  readonly signingHost: string;
  readonly signingPort: number;
  readonly region: string;
  readonly regionSource: 'aws_iam_auth.region' | 'hostname';
  readonly maxConnectsPerSecond: number;
}

/**
 * One connection resolved once, immutable: every consumer (the pool, new sessions, `check`,
 * `exec`, `token --connection`, `health()`) reads this and nothing else decides the user, the
 * endpoint or the TLS. `JSON.stringify` and `util.inspect` show {@link planView}: no secret.
 * @public
 */
export interface ConnectionPlan extends DsnPlan {
  /** The user that logs in: `aws_iam_auth.db_user` when IAM is on and it is set, else the DSN's. */
  readonly user?: string;
  readonly database?: string;
  readonly tls: ConnectionTls;
  readonly iam?: IamPlan;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * Parses a connection's DSN and settles the endpoint it dials.
 * @throws ConfigError `DSN_INVALID` naming the DSN part at fault (never its secret).
 */
export function planDsn(settings: ConnectionConfig): DsnPlan {
  const { name, driver } = settings;
  const parsed = parseDsn(settings.dsn, { driver, connection: name });
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
