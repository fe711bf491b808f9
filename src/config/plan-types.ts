import type { ParsedDsn } from '../dsn/types.js';
import type { DriverName } from '../driver-name.js';
import type { CredentialsPlan } from '../iam/types.js';
import type { ConnectionTls } from '../tls/connection-tls.js';

export type { CredentialsPlan };
import type { ClusterConfig, ConnectionConfig } from './types.js';

/** What the DSN of a connection says: parsed once, with the endpoint it dials. @public */
export interface DsnPlan {
  readonly name: string;
  readonly driver: DriverName;
  /** The validated settings: pool limits and timeouts (milliseconds). */
  readonly settings: ConnectionConfig;
  /** The DSN's parts, decoded. Under IAM or Secrets Manager the password is removed (the token or the secret's replaces it). */
  readonly dsn: ParsedDsn;
  /** The DSN redacted, for messages: `postgres://app@db.example.com:5432/app`. */
  readonly target: string;
  /** The host dialled (network drivers; a path for a Unix socket), `localhost` when the DSN has none. */
  readonly host?: string;
  /** The port dialled, the driver's default (5432, 3306) when the DSN has none. */
  readonly port?: number;
  /** True when IAM or Secrets Manager removed a (placeholder) password from the DSN. */
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

/** Where a connection's login comes from with `secrets_manager`. @public */
export interface SecretPlan {
  /** The secret's name or ARN, as configured. */
  readonly secretId: string;
  readonly region: string;
  readonly regionSource: 'secrets_manager.region' | 'secret ARN' | 'hostname' | 'AWS_REGION' | 'AWS_DEFAULT_REGION';
  /** How long a fetched secret is used before it is fetched again (ms). */
  readonly refreshMs: number;
  readonly endpoint?: string;
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
  /** The secret that supplies the login (`secrets_manager`); `user` is then the DSN's, used when the secret names none. */
  readonly secret?: SecretPlan;
  /** Set when `aws_iam_auth.profile` or `role_arn` say where the AWS credentials come from. */
  readonly credentials?: CredentialsPlan;
  /**
   * The endpoint by name when `cluster.instance_addresses` has it dialled at another address
   * (`host`/`port`): the name TLS checks and IAM signs for, and the port a cluster's instance
   * endpoints share.
   */
  readonly endpoint?: { readonly host: string; readonly port: number };
  /** What the connection knows of its cluster: topology discovery, replicas, reader routing. */
  readonly cluster?: ClusterPlan;
}

/**
 * A connection's cluster, resolved once. Present when the connection has a `cluster` block
 * (not `enabled: false`), `replicas`, or dials an RDS cluster endpoint (`*.cluster-*`, `*.cluster-ro-*`).
 * @public
 */
export interface ClusterPlan {
  /** Topology discovery: `true` (configured on), `auto` (on when the server reports a topology) or false. */
  readonly topology: 'auto' | boolean;
  /** Why topology is off when it is: `cluster.enabled is false`, `RDS Proxy endpoint`. */
  readonly topologyOffReason?: string;
  /** The settings (defaults applied when the connection has no `cluster` block). */
  readonly settings: ClusterConfig;
  /** Instance endpoints, `?` standing for the instance id: `instance_host_pattern`, else derived from the host. */
  readonly instancePattern?: string;
  /** The plans of the `replicas` DSNs, each dialled and signed for its own host. */
  readonly replicas: readonly ConnectionPlan[];
}

/** The plan of an IAM connection. @public */
export type IamConnectionPlan = ConnectionPlan & { readonly iam: IamPlan };

/** The plan of a connection whose login comes from Secrets Manager. @public */
export type SecretConnectionPlan = ConnectionPlan & { readonly secret: SecretPlan };
