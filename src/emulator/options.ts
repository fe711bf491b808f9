import { suggest } from '../config/suggest.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging.js';

/** AWS credentials the emulator accepts tokens from. @public */
export interface EmulatorCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Present for temporary (STS) credentials: tokens must carry it as `X-Amz-Security-Token`. */
  readonly sessionToken?: string;
  /** When the credentials stop being valid (epoch milliseconds or a Date), on the emulator clock. */
  readonly expiresAt?: number | Date;
}

/** One protocol endpoint of the emulator. @public */
export interface EmulatorEndpointOptions {
  /** Port to listen on. Default: 0 (a random free port). */
  readonly port?: number;
  /**
   * The port tokens must be signed for, when clients sign for another port than the one the
   * emulator listens on (a tunnel, or tests signing for :5432). Default: the listening port.
   */
  readonly advertisedPort?: number;
  /**
   * The real server sessions are relayed to. Its credentials are the ones the emulator logs in
   * with; without a user in the URL the login user is used. Required for MySQL; for PostgreSQL
   * an embedded PGlite database serves the sessions when it is absent.
   */
  readonly upstream?: string;
}

/** Certificate and key to present instead of generated ones (PEM). @public */
export interface EmulatorTlsOptions {
  readonly cert: string;
  readonly key: string;
  /** The CA that signed `cert`; written to `caFile`. Default: `cert` itself (self-signed). */
  readonly ca?: string;
}

/** One instance of an emulated cluster. @public */
export interface EmulatorClusterInstanceOptions {
  /** The instance id (`db-1`): its endpoint is `<id>.<clusterId>.<region>.rds.amazonaws.com`. */
  readonly id: string;
  /** The real server behind it (a primary for the writer, a replica for a reader). */
  readonly upstream: string;
  /** The writer. Default: the first instance. */
  readonly writer?: boolean;
  /** The replica lag the topology reports for it, in milliseconds. Default: 0. */
  readonly lagMs?: number;
}

/**
 * An Aurora-shaped cluster in front of real servers: an endpoint per instance, the cluster
 * (writer) endpoint and the `cluster-ro` (reader) endpoint, each accepting only IAM tokens signed
 * for its own name, and every session answering Aurora's topology queries from the emulator's state.
 * @public
 */
export interface EmulatorClusterOptions {
  readonly engine: 'postgres' | 'mysql';
  /** The cluster's name: `<name>.cluster-<clusterId>.<region>.rds.amazonaws.com`. Default: `mydb`. */
  readonly name?: string;
  /** The account-and-region id in every endpoint name. Default: `abc123def456`. */
  readonly clusterId?: string;
  /** The port tokens are signed for on every endpoint, as in production. Default: 5432 or 3306. */
  readonly port?: number;
  readonly instances: readonly EmulatorClusterInstanceOptions[];
}

/**
 * The local AWS endpoint: Secrets Manager and STS on one HTTP port, authenticating requests by
 * SigV4 against the emulator's keys and clock (for tests of code that fetches passwords from
 * Secrets Manager or assumes roles, through the real SDK clients' `endpoint` option).
 * @public
 */
export interface EmulatorAwsOptions {
  /** Port to listen on (plain HTTP, on the emulator's `listen` address). Default: 0 (a random free port). */
  readonly port?: number;
  /** The 12-digit account secrets' ARNs and the keys' IAM users belong to. Default: `123456789012`. */
  readonly accountId?: string;
}

/** Options of {@link startEmulator}. @public */
export interface EmulatorOptions {
  /** The region tokens must be signed for. Default: `us-east-1`. */
  readonly region?: string;
  /**
   * Names the endpoint answers to: put in the certificate's SAN and accepted as the signed host
   * (`<name>:<port>`). `*.` matches exactly one label, as in TLS; `**.` matches one or more labels
   * for the signed host (RDS names have several: `mydb.cluster-x.<region>.rds.amazonaws.com`) and
   * becomes `*.` in the certificate. Default: `['localhost', '**.<region>.rds.amazonaws.com']`.
   */
  readonly hostnames?: readonly string[];
  /** Address to listen on. Default: `127.0.0.1`. */
  readonly listen?: string;
  /** The PostgreSQL endpoint, or `false` to disable it. Default: enabled, random port, PGlite. */
  readonly postgres?: EmulatorEndpointOptions | false;
  /** The MySQL endpoint (needs `upstream`), or `false`. Default: disabled. */
  readonly mysql?: EmulatorEndpointOptions | false;
  /** An emulated Aurora cluster (the single `postgres` endpoint is then off unless configured). */
  readonly cluster?: EmulatorClusterOptions;
  /**
   * Serve Secrets Manager and STS too (`emulator.aws`), on `true` a random port. Credentials its
   * STS issues are trusted by every endpoint of the emulator until they expire on its clock. With
   * `postgres: false` and no other endpoint, the emulator is an AWS endpoint only. Default: off.
   */
  readonly aws?: boolean | EmulatorAwsOptions;
  /** Which database users authenticate with IAM; the others are passed to the upstream with their own password. Default: every user. */
  readonly iamUsers?: readonly string[] | ((user: string) => boolean);
  /** Static keys. Default: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` from `env`, when set. */
  readonly credentials?: readonly EmulatorCredentials[];
  /** Certificate to present instead of a generated one. */
  readonly tls?: EmulatorTlsOptions;
  /** Where to write the CA certificate clients must trust. Default: `ca.pem` in a new temporary directory (removed on close). */
  readonly caFile?: string;
  /** Time source (epoch milliseconds), before the offset set with `setClockOffset`. Default: `Date.now`. */
  readonly clock?: { now(): number };
  /** Budget for a client to complete the handshake and authentication. Default: 10000. */
  readonly handshakeTimeoutMillis?: number;
  /** How far in the future a token's `X-Amz-Date` may be (clock skew). Default: 300. */
  readonly clockSkewSeconds?: number;
  /** Environment to read default credentials from. Default: `process.env`. */
  readonly env?: Record<string, string | undefined>;
  /** Diagnostics of sessions (never secrets). Default: silent. */
  readonly logger?: Logger;
}

export interface ResolvedEndpoint {
  readonly port: number;
  readonly advertisedPort: number | undefined;
  readonly upstream: string | undefined;
}

export interface ResolvedCluster {
  readonly engine: 'postgres' | 'mysql';
  readonly name: string;
  readonly clusterId: string;
  readonly port: number;
  readonly instances: ReadonlyArray<Required<Omit<EmulatorClusterInstanceOptions, 'writer'>> & { readonly writer: boolean }>;
}

export interface ResolvedAws {
  readonly port: number;
  readonly accountId: string;
}

export interface ResolvedEmulatorOptions {
  readonly region: string;
  readonly hostnames: readonly string[];
  readonly listen: string;
  readonly postgres: ResolvedEndpoint | undefined;
  readonly mysql: ResolvedEndpoint | undefined;
  readonly cluster: ResolvedCluster | undefined;
  readonly aws: ResolvedAws | undefined;
  readonly isIamUser: (user: string) => boolean;
  readonly credentials: readonly EmulatorCredentials[];
  readonly tls: EmulatorTlsOptions | undefined;
  readonly caFile: string | undefined;
  readonly clock: { now(): number };
  readonly handshakeTimeoutMillis: number;
  readonly clockSkewSeconds: number;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** Applies defaults and validates; every later step reads only the resolved options. */
export function resolveEmulatorOptions(options: EmulatorOptions = {}): ResolvedEmulatorOptions {
  rejectUnknown('', options, OPTION_KEYS);
  for (const name of ['postgres', 'mysql'] as const) {
    const value = options[name];
    if (value) rejectUnknown(`${name}.`, value, ENDPOINT_KEYS);
  }
  if (options.tls) rejectUnknown('tls.', options.tls, TLS_KEYS);
  const aws = resolveAws(options.aws);
  const cluster = options.cluster === undefined ? undefined : resolveCluster(options.cluster);
  const region = options.region ?? 'us-east-1';
  if (!REGION.test(region)) throw invalid('region', `"${region}" is not an AWS region name (like us-east-1)`);
  const hostnames = options.hostnames ?? ['localhost', `**.${region}.rds.amazonaws.com`];
  if (hostnames.length === 0) throw invalid('hostnames', 'at least one hostname is needed');
  for (const name of hostnames) {
    if (!/^(\*\*?\.)?[A-Za-z0-9.:-]+$/.test(name)) throw invalid('hostnames', `"${name}" is not a hostname`);
  }
  const postgres = options.postgres === false || (cluster && options.postgres === undefined) ? undefined : endpoint('postgres', options.postgres ?? {});
  const mysql = options.mysql === false || options.mysql === undefined ? undefined : endpoint('mysql', options.mysql);
  if (mysql && !mysql.upstream) throw invalid('mysql.upstream', 'the MySQL endpoint needs an upstream server URL (mysql://user:password@host:3306/db)');
  if (!postgres && !mysql && !cluster && !aws) throw invalid('postgres', 'both endpoints are disabled: enable postgres or mysql');
  const handshakeTimeoutMillis = options.handshakeTimeoutMillis ?? 10_000;
  if (!(handshakeTimeoutMillis > 0)) throw invalid('handshakeTimeoutMillis', 'must be a positive number of milliseconds');
  const clockSkewSeconds = options.clockSkewSeconds ?? 300;
  if (!(clockSkewSeconds >= 0)) throw invalid('clockSkewSeconds', 'must be zero or more');
  if (options.tls && (!options.tls.cert || !options.tls.key)) throw invalid('tls', 'both cert and key (PEM) are needed');
  return {
    region,
    hostnames: [...hostnames],
    listen: options.listen ?? '127.0.0.1',
    postgres,
    mysql,
    cluster,
    aws,
    isIamUser: iamUserPredicate(options.iamUsers),
    credentials: options.credentials ? [...options.credentials] : credentialsFromEnv(options.env ?? process.env),
    tls: options.tls,
    caFile: options.caFile,
    clock: options.clock ?? { now: () => Date.now() },
    handshakeTimeoutMillis,
    clockSkewSeconds,
  };
}

// --- internal ---

const OPTION_KEYS = ['region', 'hostnames', 'listen', 'postgres', 'mysql', 'cluster', 'iamUsers', 'credentials', 'tls', 'caFile', 'clock', 'handshakeTimeoutMillis', 'clockSkewSeconds', 'env', 'logger', 'aws'] as const satisfies ReadonlyArray<keyof EmulatorOptions>;
const AWS_KEYS = ['port', 'accountId'] as const satisfies ReadonlyArray<keyof EmulatorAwsOptions>;
const ENDPOINT_KEYS = ['port', 'advertisedPort', 'upstream'] as const satisfies ReadonlyArray<keyof EmulatorEndpointOptions>;
const TLS_KEYS = ['cert', 'key', 'ca'] as const satisfies ReadonlyArray<keyof EmulatorTlsOptions>;
const CLUSTER_KEYS = ['engine', 'name', 'clusterId', 'port', 'instances'] as const satisfies ReadonlyArray<keyof EmulatorClusterOptions>;
const INSTANCE_KEYS = ['id', 'upstream', 'writer', 'lagMs'] as const satisfies ReadonlyArray<keyof EmulatorClusterInstanceOptions>;
const LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;

function resolveAws(options: EmulatorOptions['aws']): ResolvedAws | undefined {
  if (options === undefined || options === false) return undefined;
  if (options !== true && (typeof options !== 'object' || options === null)) throw invalid('aws', `${JSON.stringify(options)} is not true, false or { port?, accountId? }`);
  const given = options === true ? {} : options;
  rejectUnknown('aws.', given, AWS_KEYS);
  const port = given.port ?? 0;
  if (!isPort(port, true)) throw invalid('aws.port', `${String(port)} is not a port number`);
  const accountId = given.accountId ?? '123456789012';
  if (typeof accountId !== 'string' || !/^\d{12}$/.test(accountId)) throw invalid('aws.accountId', `${JSON.stringify(accountId)} is not a 12-digit AWS account id`);
  return { port, accountId };
}

function resolveCluster(options: EmulatorClusterOptions): ResolvedCluster {
  rejectUnknown('cluster.', options, CLUSTER_KEYS);
  if (options.engine !== 'postgres' && options.engine !== 'mysql') throw invalid('cluster.engine', `${JSON.stringify(options.engine)} is not postgres or mysql`);
  const name = options.name ?? 'mydb';
  const clusterId = options.clusterId ?? 'abc123def456';
  if (!LABEL.test(name)) throw invalid('cluster.name', `"${name}" is not a DNS label`);
  if (!LABEL.test(clusterId)) throw invalid('cluster.clusterId', `"${clusterId}" is not a DNS label`);
  const port = options.port ?? (options.engine === 'postgres' ? 5432 : 3306);
  if (!isPort(port, false)) throw invalid('cluster.port', `${String(port)} is not a port number`);
  if (!Array.isArray(options.instances) || options.instances.length === 0) throw invalid('cluster.instances', 'at least one instance (the writer) is needed');
  const instances = options.instances.map((instance, index) => resolveInstance(instance, `cluster.instances[${index}]`));
  const ids = instances.map((instance) => instance.id);
  const repeated = ids.find((id, index) => ids.indexOf(id) !== index);
  if (repeated !== undefined) throw invalid('cluster.instances', `instance id "${repeated}" is used twice`);
  const writers = instances.filter((instance) => instance.writer);
  if (writers.length > 1) throw invalid('cluster.instances', `one writer at a time: ${writers.map((writer) => writer.id).join(' and ')} are both marked writer`);
  return { engine: options.engine, name, clusterId, port, instances: instances.map((instance, index) => ({ ...instance, writer: writers.length === 0 ? index === 0 : instance.writer })) };
}

/** One instance of `cluster.instances` (also `addInstance`), validated. */
export function resolveInstance(instance: EmulatorClusterInstanceOptions, key: string): ResolvedCluster['instances'][number] {
  rejectUnknown(`${key}.`, instance, INSTANCE_KEYS);
  if (typeof instance.id !== 'string' || !LABEL.test(instance.id)) throw invalid(`${key}.id`, `${JSON.stringify(instance.id)} is not a DNS label (the instance endpoint starts with it)`);
  if (typeof instance.upstream !== 'string' || instance.upstream === '') throw invalid(`${key}.upstream`, 'the real server behind the instance is needed (a DSN)');
  const lagMs = instance.lagMs ?? 0;
  if (!(lagMs >= 0)) throw invalid(`${key}.lagMs`, 'must be zero or more milliseconds');
  return { id: instance.id, upstream: instance.upstream, writer: instance.writer === true, lagMs };
}

/** An option the emulator does not know is an error naming it and the known ones, never ignored. */
function rejectUnknown(prefix: string, given: object, known: readonly string[]): void {
  const unknown = Object.keys(given).find((key) => !known.includes(key));
  if (unknown === undefined) return;
  const close = suggest(unknown, known);
  throw invalid(`${prefix}${unknown}`, `unknown option${close ? `; did you mean ${prefix}${close}?` : ''} (known: ${known.join(', ')})`);
}

function endpoint(name: 'postgres' | 'mysql', options: EmulatorEndpointOptions): ResolvedEndpoint {
  const port = options.port ?? 0;
  if (!isPort(port, true)) throw invalid(`${name}.port`, `${String(port)} is not a port number`);
  if (options.advertisedPort !== undefined && !isPort(options.advertisedPort, false)) {
    throw invalid(`${name}.advertisedPort`, `${String(options.advertisedPort)} is not a port number`);
  }
  return { port, advertisedPort: options.advertisedPort, upstream: options.upstream || undefined };
}

function isPort(value: number, allowZero: boolean): boolean {
  return Number.isInteger(value) && value <= 65535 && (allowZero ? value >= 0 : value > 0);
}

function iamUserPredicate(iamUsers: EmulatorOptions['iamUsers']): (user: string) => boolean {
  if (iamUsers === undefined) return () => true;
  if (typeof iamUsers === 'function') return iamUsers;
  const names = new Set(iamUsers);
  return (user) => names.has(user);
}

function credentialsFromEnv(env: Record<string, string | undefined>): EmulatorCredentials[] {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return [];
  const sessionToken = env.AWS_SESSION_TOKEN || undefined;
  return [sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey }];
}

function invalid(key: string, problem: string): ConfigError {
  return new ConfigError('CONFIG_INVALID', `emulator option ${key}: ${problem}`, {
    solutions: [`Fix the emulator option "${key}".`],
  });
}
