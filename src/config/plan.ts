import { defaultPort, describeDsn, parseDsn } from '../dsn/index.js';
import type { ParsedDsn } from '../dsn/types.js';
import type { DriverName } from '../driver-name.js';
import { endpointInvalidError, usernameMissingError } from '../iam/errors.js';
import { resolveSigningTarget } from '../iam/signing-target.js';
import { connectionTls } from '../tls/connection-tls.js';
import { withoutTlsParams } from '../tls/sslmode.js';
import { defaultInstancePattern, dialAddress, isRdsProxy, rdsEndpointKind, type Endpoint } from './endpoints.js';
import { CLUSTER_DEFAULTS, DEFAULTS } from './defaults.js';
import { planView, type ConnectionPlanView } from './plan-view.js';
import { planCredentials, planSecret } from './secret-plan.js';
import type { ClusterPlan, ConnectionPlan, DsnPlan, IamConnectionPlan, IamPlan, SecretConnectionPlan } from './plan-types.js';
import type { ClusterConfig, ConnectionConfig } from './types.js';

export type { ClusterPlan, ConnectionPlan, CredentialsPlan, DsnPlan, IamConnectionPlan, IamPlan, SecretConnectionPlan, SecretPlan } from './plan-types.js';

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
  return dsnPlanOf(settings, parseConnectionDsn(settings.dsn, settings.driver, settings.name));
}

function dsnPlanOf(settings: ConnectionConfig, parsed: ParsedDsn): DsnPlan {
  const { name, driver } = settings;
  const passwordStripped = (settings.aws_iam_auth.enabled || settings.secrets_manager !== undefined) && parsed.password !== undefined;
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
  const plan = finishPlan(base, planCluster(base));
  if (base.host === undefined || base.port === undefined) return plan;
  // a tunnel or a local cluster: the DSN names the endpoint, instance_addresses says where it is
  const endpoint = { host: base.host, port: base.port };
  const address = dialAddress(endpoint, base.settings.cluster?.instance_addresses ?? {});
  return address === endpoint ? plan : planEndpoint(plan, endpoint, address);
}

/**
 * The plan of one endpoint of a connection's cluster (an instance, or a reader endpoint), or of
 * its own endpoint dialled elsewhere: the connection's plan dialling `address` for `endpoint`, with
 * TLS checking the endpoint's name and IAM signing for it (another endpoint's whatever
 * `signing_host` says; the connection's own keeps a configured one, and its cluster).
 */
export function planEndpoint(plan: ConnectionPlan, endpoint: Endpoint, address: Endpoint = endpoint): ConnectionPlan {
  const { endpoint: ownEndpoint, cluster, ...rest } = plan;
  const own = ownEndpoint ?? { host: plan.host, port: plan.port };
  const isOwn = own.host === endpoint.host && own.port === endpoint.port;
  // another endpoint signs for itself; the connection's own keeps a configured signing_host
  const settings = forEndpoint(plan.settings, endpoint, isOwn);
  const dsn: ParsedDsn = { ...plan.dsn, host: address.host, port: address.port };
  const moved = address.host !== endpoint.host || address.port !== endpoint.port;
  const derived = finishPlan(
    { ...rest, settings, dsn, target: describeDsn(dsn), host: address.host, port: address.port, ...(moved ? { endpoint } : {}) },
    isOwn ? cluster : undefined,
  );
  if (address.host === endpoint.host || derived.tls.servername === undefined && derived.tls.mode !== 'verify-full') return derived;
  // dialled by address: the certificate must still name the endpoint
  const options = derived.tls.options === false ? false : { ...derived.tls.options, servername: endpoint.host };
  return freezePlan({ ...derived, tls: { ...derived.tls, servername: endpoint.host, options } });
}

function finishPlan(base: DsnPlan, cluster: ClusterPlan | undefined): ConnectionPlan {
  const { name, dsn, settings } = base;
  const iamConfig = settings.aws_iam_auth;
  const iam = iamConfig.enabled ? planIam(base) : undefined;
  const secret = planSecret(base);
  const credentials = planCredentials(base, iam, secret);
  const tls = connectionTls(dsn, { connection: name, iam: iam !== undefined });
  const user = iam?.user ?? dsn.user;
  const plan: ConnectionPlan = {
    ...base,
    ...(user === undefined ? {} : { user }),
    ...(dsn.database === undefined ? {} : { database: dsn.database }),
    tls,
    ...(iam ? { iam } : {}),
    ...(secret ? { secret } : {}),
    ...(credentials ? { credentials } : {}),
    ...(cluster ? { cluster } : {}),
  };
  return freezePlan(plan);
}

function freezePlan(plan: ConnectionPlan): ConnectionPlan {
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

/** True for the plan of a connection whose login comes from Secrets Manager. */
export function usesSecret(plan: ConnectionPlan): plan is SecretConnectionPlan {
  return plan.secret !== undefined;
}

// --- internal ---

/** IAM signs for the endpoint by name (not the address it is dialled at); for the connection's own endpoint a configured signing_host wins. */
function forEndpoint(settings: ConnectionConfig, endpoint: Endpoint, keepConfigured: boolean): ConnectionConfig {
  const iam = settings.aws_iam_auth;
  if (!iam.enabled) return settings;
  const host = keepConfigured ? (iam.signing_host ?? endpoint.host) : endpoint.host;
  const port = keepConfigured ? (iam.signing_port ?? endpoint.port) : endpoint.port;
  return { ...settings, aws_iam_auth: { ...iam, signing_host: host, signing_port: port } };
}

function planCluster(base: DsnPlan): ClusterPlan | undefined {
  const { settings, host } = base;
  const configured = settings.cluster;
  const kind = host === undefined ? undefined : rdsEndpointKind(host);
  const clusterHost = kind === 'cluster' || kind === 'cluster-ro' || kind === 'cluster-custom';
  const replicas = (settings.replicas ?? []).map((dsn) => planReplica(base, dsn));
  if (configured === undefined && !clusterHost && replicas.length === 0) return undefined;
  const clusterSettings: ClusterConfig = configured ?? { ...CLUSTER_DEFAULTS, instance_addresses: {} };
  const offReason =
    configured?.enabled === false ? 'cluster.enabled is false'
    : host !== undefined && isRdsProxy(host) ? 'an RDS Proxy endpoint: the proxy hides the instances'
    : replicas.length > 0 ? 'replicas are listed: their roles are checked instead'
    : undefined;
  const topology = offReason === undefined ? clusterSettings.enabled : false;
  if (topology === false && replicas.length === 0) return undefined;
  const instancePattern = clusterSettings.instance_host_pattern ?? (host === undefined ? undefined : defaultInstancePattern(host));
  return Object.freeze({
    topology,
    ...(offReason === undefined ? {} : { topologyOffReason: offReason }),
    settings: clusterSettings,
    ...(instancePattern === undefined ? {} : { instancePattern }),
    replicas: Object.freeze(replicas),
  });
}

/**
 * A `replicas` DSN planned like the connection's own: the parts it leaves out (user, password,
 * database, parameters) are the main DSN's, and IAM signs for the replica's own host.
 */
function planReplica(base: DsnPlan, replicaDsn: string): ConnectionPlan {
  const { settings } = base;
  const parsed = parseConnectionDsn(replicaDsn, settings.driver, settings.name);
  const main = parseConnectionDsn(settings.dsn, settings.driver, settings.name);
  const merged: ParsedDsn = {
    ...main,
    ...Object.fromEntries(Object.entries(parsed).filter(([, value]) => value !== undefined)),
    params: { ...main.params, ...parsed.params },
  };
  const replicaSettings: ConnectionConfig = { ...settings, dsn: replicaDsn, aws_iam_auth: withoutSigningEndpoint(settings.aws_iam_auth) };
  const { cluster: _cluster, replicas: _replicas, ...plain } = replicaSettings;
  return finishPlan(dsnPlanOf(plain, merged), undefined);
}

function withoutSigningEndpoint(iam: ConnectionConfig['aws_iam_auth']): ConnectionConfig['aws_iam_auth'] {
  const { signing_host: _host, signing_port: _port, ...rest } = iam;
  return rest;
}

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
