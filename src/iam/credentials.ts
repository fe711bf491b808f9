import { createHash } from 'node:crypto';
import { DbModuleError } from '../errors.js';
import { originOf, type CredentialOrigin } from './credential-origin.js';
import { awsSdkMissingError, credentialProblemOf, credentialsUnavailableError, type CredentialProblem } from './errors.js';
import type { AwsCredentialIdentity, AwsCredentialProvider, CredentialChainOptions, CredentialSource, IamClock } from './types.js';

/**
 * Credentials that signed (or will sign) a token. The secret-bearing identity sits in a private
 * field, so `JSON.stringify` and `util.inspect` of this object show no secret.
 */
export class ResolvedCredentials {
  readonly #identity: AwsCredentialIdentity;
  readonly source: CredentialSource;
  readonly accessKeyIdSuffix: string;
  /** Epoch ms (provider clock) when they stop working; undefined for long-term keys. */
  readonly expiresAt: number | undefined;
  /** Access key id plus a hash of the session token: what a token cache may be keyed by. */
  readonly identityKey: string;
  /** The role these credentials were assumed for (`aws_iam_auth.role_arn`); not secret. */
  readonly assumedRoleArn: string | undefined;
  /** The profile they (or the role's source credentials) come from (`aws_iam_auth.profile`). */
  readonly profile: string | undefined;

  constructor(identity: AwsCredentialIdentity, source: CredentialSource, expiresAt: number | undefined, origin: CredentialOrigin = {}) {
    this.#identity = identity;
    this.source = source;
    this.assumedRoleArn = origin.assumedRoleArn;
    this.profile = origin.profile;
    this.accessKeyIdSuffix = identity.accessKeyId.slice(-4);
    this.expiresAt = expiresAt;
    const sessionHash = identity.sessionToken ? createHash('sha256').update(identity.sessionToken).digest('hex').slice(0, 16) : '-';
    this.identityKey = `${identity.accessKeyId}:${sessionHash}`;
  }

  /** The credentials themselves, for the signer only. */
  get identity(): AwsCredentialIdentity {
    return this.#identity;
  }
}

/** Memoised, invalidatable, single-flight credentials. */
export interface CredentialCache {
  /** Memoised credentials while they outlive `reuseWindowMs`, else a fresh resolution (one at a time). */
  get(): Promise<ResolvedCredentials>;
  /** Forgets the memoised credentials; the next `get()` resolves again. */
  invalidate(): void;
  /** Resolutions started since creation. */
  readonly resolutions: number;
}

export interface CredentialCacheOptions {
  readonly credentials?: AwsCredentialIdentity | AwsCredentialProvider | undefined;
  readonly chain?: CredentialChainOptions | undefined;
  readonly clock: IamClock;
  /** Credentials closer than this to their expiry are resolved again before the next signing. */
  readonly reuseWindowMs: number;
  /** Names the endpoint in error messages (`user@host:port`). */
  readonly label: string;
}

// `$source` feature flags the AWS SDK sets on resolved credentials, most specific first: an SSO
// profile carries both CREDENTIALS_PROFILE_SSO and CREDENTIALS_SSO, a role assumed from env keys
// through a profile carries CREDENTIALS_PROFILE_NAMED_PROVIDER and CREDENTIALS_ENV_VARS (and
// CREDENTIALS_PROFILE_SOURCE_PROFILE): a profile's role is `shared-ini`. CREDENTIALS_STS_ASSUME_ROLE
// alone is a role assumed outside a profile (aws_iam_auth.role_arn): `assumed-role`.
const FEATURE_SOURCES: ReadonlyArray<readonly [string, CredentialSource]> = [
  ['CREDENTIALS_SSO', 'sso'],
  ['CREDENTIALS_SSO_LEGACY', 'sso'],
  ['CREDENTIALS_PROFILE_SSO', 'sso'],
  ['CREDENTIALS_PROFILE_SSO_LEGACY', 'sso'],
  ['CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN', 'web-identity'],
  ['CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN', 'web-identity'],
  ['CREDENTIALS_STS_ASSUME_ROLE_WEB_ID', 'web-identity'],
  ['CREDENTIALS_PROCESS', 'process'],
  ['CREDENTIALS_PROFILE_PROCESS', 'process'],
  ['CREDENTIALS_LOGIN', 'login'],
  ['CREDENTIALS_PROFILE_LOGIN', 'login'],
  ['CREDENTIALS_PROFILE', 'shared-ini'],
  ['CREDENTIALS_PROFILE_SOURCE_PROFILE', 'shared-ini'],
  ['CREDENTIALS_PROFILE_NAMED_PROVIDER', 'shared-ini'],
  ['CREDENTIALS_STS_ASSUME_ROLE', 'assumed-role'],
  ['CREDENTIALS_HTTP', 'container'],
  ['CREDENTIALS_IMDS', 'imds'],
  ['CREDENTIALS_ENV_VARS', 'env'],
  ['CREDENTIALS_CODE', 'static'],
];

/** The source named by the SDK's `$source` flags on `credentials`, if any. */
export function sourceFromFeatures(credentials: object): CredentialSource | undefined {
  const flags: unknown = (credentials as { $source?: unknown }).$source;
  if (typeof flags !== 'object' || flags === null) return undefined;
  return FEATURE_SOURCES.find(([feature]) => feature in flags)?.[1];
}

// The chain's remote link (container metadata fallback, EC2 instance metadata) sets no flag.
function remoteSource(): CredentialSource {
  const env = process.env;
  return env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ? 'container' : 'imds';
}

function expiryOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const time = value instanceof Date ? value.getTime() : new Date(value as string | number).getTime();
  return Number.isFinite(time) ? time : undefined;
}

/**
 * What the default chain was told to use, to say why it found nothing: the SDK reports an
 * unreachable container endpoint as "Could not load credentials from any providers".
 */
function chainContext(chain: CredentialChainOptions | undefined, error: unknown): { profile?: string; problem?: CredentialProblem } {
  const profile = chain?.profile ?? process.env.AWS_PROFILE;
  const container = process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI || process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  return {
    ...(profile ? { profile } : {}),
    ...(container && credentialProblemOf(error) === 'not-found' ? { problem: 'unreachable' as const } : {}),
  };
}

/** `@aws-sdk/credential-providers`, loaded on first use (dbmodule loads the AWS SDK only when a connection needs it). */
export async function loadCredentialProviders(): Promise<typeof import('@aws-sdk/credential-providers')> {
  try {
    return await import('@aws-sdk/credential-providers');
  } catch (error) {
    throw awsSdkMissingError('@aws-sdk/credential-providers', error);
  }
}

/** The AWS SDK default chain (with `chain`'s profile and timeouts), reading the shared files anew at every resolution. */
export async function loadDefaultChain(chain: CredentialChainOptions | undefined): Promise<AwsCredentialProvider> {
  const module = await loadCredentialProviders();
  // ignoreCache: shared files rotated outside the process are read again on every resolution.
  const provider = module.fromNodeProviderChain({
    ignoreCache: true,
    ...(chain?.profile === undefined ? {} : { profile: chain.profile }),
    ...(chain?.timeoutMs === undefined ? {} : { timeout: chain.timeoutMs }),
    ...(chain?.maxRetries === undefined ? {} : { maxRetries: chain.maxRetries }),
  });
  return (options) => provider(options);
}

/**
 * Credentials for IAM signing: the given object or provider, else the AWS SDK default chain
 * (loaded lazily). Resolved once and memoised until near expiry; concurrent callers share one
 * resolution. The chain is always asked with `forceRefresh`, because this cache, not the SDK's
 * own memo, decides when credentials are too old (the SDK's memo follows the system clock).
 */
export function createCredentialCache(options: CredentialCacheOptions): CredentialCache {
  const given = options.credentials;
  // what dbmodule knows of a provider it made (aws_iam_auth.profile, role_arn): source, profile, role
  const origin = (): CredentialOrigin => originOf(given) ?? {};
  let provider: AwsCredentialProvider | undefined = typeof given === 'function' ? given : undefined;
  let memo: ResolvedCredentials | undefined;
  let inflight: Promise<ResolvedCredentials> | undefined;
  let generation = 0;
  let resolutions = 0;

  const fallbackSource = (): CredentialSource => origin().source ?? (given === undefined ? remoteSource() : typeof given === 'function' ? 'custom' : 'static');

  const fetchIdentity = async (): Promise<AwsCredentialIdentity> => {
    if (given !== undefined && typeof given !== 'function') return given;
    provider ??= await loadDefaultChain(options.chain);
    return provider({ forceRefresh: true });
  };

  const resolve = async (): Promise<ResolvedCredentials> => {
    let raw: AwsCredentialIdentity;
    try {
      raw = await fetchIdentity();
    } catch (error) {
      if (error instanceof DbModuleError) throw error;
      const context = given === undefined ? chainContext(options.chain, error) : {};
      throw credentialsUnavailableError(`could not resolve AWS credentials for IAM signing of ${options.label}${context.profile ? ` (profile "${context.profile}")` : ''}`, error, context);
    }
    if (typeof raw !== 'object' || raw === null || typeof raw.accessKeyId !== 'string' || !raw.accessKeyId || typeof raw.secretAccessKey !== 'string' || !raw.secretAccessKey) {
      throw credentialsUnavailableError(`the AWS credentials for IAM signing of ${options.label} have no access key id or secret access key`, undefined, { problem: 'incomplete' });
    }
    const expiresAt = expiryOf(raw.expiration);
    const identity: AwsCredentialIdentity = Object.freeze({
      accessKeyId: raw.accessKeyId,
      secretAccessKey: raw.secretAccessKey,
      ...(raw.sessionToken ? { sessionToken: raw.sessionToken } : {}),
      ...(expiresAt === undefined ? {} : { expiration: new Date(expiresAt) }),
    });
    return new ResolvedCredentials(identity, sourceFromFeatures(raw) ?? fallbackSource(), expiresAt, origin());
  };

  const fresh = (credentials: ResolvedCredentials): boolean =>
    credentials.expiresAt === undefined || credentials.expiresAt - options.clock.now() > options.reuseWindowMs;

  return {
    get(): Promise<ResolvedCredentials> {
      if (memo && fresh(memo)) return Promise.resolve(memo);
      if (inflight) return inflight;
      const started = generation;
      resolutions += 1;
      const attempt = resolve().then((credentials) => {
        if (started === generation) memo = credentials;
        return credentials;
      });
      inflight = attempt;
      const clear = (): void => {
        if (inflight === attempt) inflight = undefined;
      };
      attempt.then(clear, clear);
      return attempt;
    },
    invalidate(): void {
      generation += 1;
      memo = undefined;
      inflight = undefined;
    },
    get resolutions(): number {
      return resolutions;
    },
  };
}
