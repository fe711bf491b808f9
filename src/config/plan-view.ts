import { isSecretParam, REDACTED } from '../dsn/index.js';
import type { DriverName } from '../driver-name.js';
import { describeTls, type CaSource } from '../tls/connection-tls.js';
import type { SslMode } from '../tls/sslmode.js';
import { formatDuration } from './duration.js';
import type { ConnectionPlan, CredentialsPlan } from './plan-types.js';

/** A {@link ConnectionPlan} as `check --json` shows it: JSON-able, nothing secret. @public */
export interface ConnectionPlanView {
  name: string;
  driver: DriverName;
  target: string;
  /** `host:port` dialled, or the socket path / SQLite file. */
  endpoint: string;
  /** The endpoint's name, when `cluster.instance_addresses` has it dialled at `endpoint`. */
  endpointName?: string;
  user?: string;
  database?: string;
  /** The DSN's non-TLS parameters; secret-looking ones are redacted. */
  params: Record<string, string>;
  tls: { mode: SslMode; source: string; ca?: CaSource; caFile?: string; servername?: string; description: string };
  iam?: { user: string; userSource: string; signingEndpoint: string; region: string; regionSource: string; maxConnectsPerSecond: number };
  /** The secret the login comes from (its id, never its contents). */
  secret?: { secretId: string; region: string; regionSource: string; refresh: string; endpoint?: string };
  /** Where the AWS credentials come from, when not the default chain as it is. */
  credentials?: { profile?: string; roleArn?: string; roleSessionName?: string; externalId?: 'set'; roleDuration?: string; stsRegion?: string };
  pool: { maxOpen: number; maxIdle: number; maxLifetime: string; maxIdleTime: string; connectionTimeout: string; queryTimeout: string };
  cluster?: {
    topology: 'auto' | boolean;
    topologyOffReason?: string;
    instancePattern?: string;
    topologyRefresh: string;
    readFrom: string;
    readerSelection: string;
    maxReplicaLag: string;
    /** The mapping, or `function` when the code gave one. */
    instanceAddresses: Record<string, string> | 'function';
    /** The replicas' targets, redacted. */
    replicas: string[];
  };
}

/** Where the credentials come from; the external id is a shared secret of sorts (the confused-deputy guard): only that it is set. */
function credentialsView(credentials: CredentialsPlan): NonNullable<ConnectionPlanView['credentials']> {
  const { profile, role } = credentials;
  return {
    ...(profile === undefined ? {} : { profile }),
    stsRegion: credentials.stsRegion,
    ...(role === undefined
      ? {}
      : {
          roleArn: role.arn,
          roleSessionName: role.sessionName,
          ...(role.externalId === undefined ? {} : { externalId: 'set' as const }),
          roleDuration: formatDuration(role.durationSeconds * 1000),
        }),
  };
}

/** The plan without its secrets (DSN password, CA and key contents), durations as Go durations. @public */
export function planView(plan: ConnectionPlan): ConnectionPlanView {
  const { tls, iam, settings } = plan;
  return {
    name: plan.name,
    driver: plan.driver,
    target: plan.target,
    endpoint: plan.host === undefined ? (plan.dsn.path ?? plan.dsn.database ?? ':memory:') : plan.host.startsWith('/') ? plan.host : `${plan.host}:${plan.port}`,
    ...(plan.endpoint === undefined ? {} : { endpointName: `${plan.endpoint.host}:${plan.endpoint.port}` }),
    ...(plan.user === undefined ? {} : { user: plan.user }),
    ...(plan.database === undefined ? {} : { database: plan.database }),
    params: Object.fromEntries(Object.entries(plan.params).map(([key, value]) => [key, isSecretParam(key) ? REDACTED : value])),
    tls: {
      mode: tls.mode,
      source: tls.source,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.caFile === undefined ? {} : { caFile: tls.caFile }),
      ...(tls.servername === undefined ? {} : { servername: tls.servername }),
      description: describeTls(tls),
    },
    ...(iam
      ? {
          iam: {
            user: iam.user,
            userSource: iam.userSource,
            signingEndpoint: `${iam.signingHost}:${iam.signingPort}`,
            region: iam.region,
            regionSource: iam.regionSource,
            maxConnectsPerSecond: iam.maxConnectsPerSecond,
          },
        }
      : {}),
    ...(plan.secret
      ? {
          secret: {
            secretId: plan.secret.secretId,
            region: plan.secret.region,
            regionSource: plan.secret.regionSource,
            refresh: formatDuration(plan.secret.refreshMs),
            ...(plan.secret.endpoint === undefined ? {} : { endpoint: plan.secret.endpoint }),
          },
        }
      : {}),
    ...(plan.credentials ? { credentials: credentialsView(plan.credentials) } : {}),
    pool: {
      maxOpen: settings.max_open_connections,
      maxIdle: settings.max_idle_connections,
      maxLifetime: formatDuration(settings.connection_max_lifetime),
      maxIdleTime: formatDuration(settings.connection_max_idle_time),
      connectionTimeout: formatDuration(settings.connection_timeout),
      queryTimeout: formatDuration(settings.query_timeout),
    },
    ...(plan.cluster
      ? {
          cluster: {
            topology: plan.cluster.topology,
            ...(plan.cluster.topologyOffReason === undefined ? {} : { topologyOffReason: plan.cluster.topologyOffReason }),
            ...(plan.cluster.instancePattern === undefined ? {} : { instancePattern: plan.cluster.instancePattern }),
            topologyRefresh: formatDuration(plan.cluster.settings.topology_refresh),
            readFrom: plan.cluster.settings.read_from,
            readerSelection: plan.cluster.settings.reader_selection,
            maxReplicaLag: formatDuration(plan.cluster.settings.max_replica_lag),
            instanceAddresses: typeof plan.cluster.settings.instance_addresses === 'function' ? 'function' : { ...plan.cluster.settings.instance_addresses },
            replicas: plan.cluster.replicas.map((replica) => replica.target),
          },
        }
      : {}),
  };
}
