import type { LoggerLike } from '../logging.js';

/**
 * AWS credentials, structurally the same as the SDK's `AwsCredentialIdentity`
 * (declared here so the public types do not depend on an optional AWS package).
 * @public
 */
export interface AwsCredentialIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When the credentials stop working; absent for long-term keys. */
  readonly expiration?: Date;
  readonly credentialScope?: string;
  readonly accountId?: string;
}

/**
 * A credential provider: an AWS SDK provider (`fromIni()`, `fromTemporaryCredentials()`...) or any
 * async function. `forceRefresh` is passed when dbmodule wants new credentials, not a memoised copy.
 * @public
 */
export type AwsCredentialProvider = (options?: { forceRefresh?: boolean }) => Promise<AwsCredentialIdentity>;

/** A source of wall-clock milliseconds; tests substitute a controllable one. @public */
export interface IamClock {
  now(): number;
}

/**
 * Where the credentials came from: `env`, `shared-ini` (a profile of the shared files, its
 * `role_arn` included), `sso`, `web-identity`, `process`, `login`, `container`, `imds`,
 * `assumed-role` (STS AssumeRole of `aws_iam_auth.role_arn`), `static` (an object passed in),
 * `custom` (a function passed in).
 * @public
 */
export type CredentialSource = string;

/** Tuning of the AWS SDK default chain (only used when `credentials` is not given). @public */
export interface CredentialChainOptions {
  /** Profile in the shared config files (default: `AWS_PROFILE`, else `default`). */
  readonly profile?: string;
  /** Timeout of one container/instance-metadata request, in milliseconds (SDK default 1000). */
  readonly timeoutMs?: number;
  /** Retries inside one container/instance-metadata resolution (SDK default 3 for containers). */
  readonly maxRetries?: number;
}

/** @public */
export interface IamTokenProviderOptions {
  /** Host the token is signed for: the real RDS (or RDS Proxy) endpoint, not a tunnel or CNAME. */
  readonly host: string;
  readonly port: number;
  /** Database user the token authenticates. */
  readonly user: string;
  /** Signing region; parsed from an RDS hostname when absent. */
  readonly region?: string;
  /** Credentials or a provider of them. Default: the AWS SDK default chain, loaded on first use. */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialProvider;
  /** Options of the default chain; ignored when `credentials` is given. */
  readonly credentialChain?: CredentialChainOptions;
  /** Default: the system clock. Signing dates and every expiry decision come from it. */
  readonly clock?: IamClock;
  /** pino-, console- or dbmodule-style logger. Default: logfmt on stderr at `DBMODULE_LOG_LEVEL`. */
  readonly logger?: LoggerLike;
  readonly onEvent?: (event: TokenProviderEvent) => void;
  /** A token is handed out until this long before it (or its credentials) expire. Default 60000. */
  readonly refreshMarginMs?: number;
  /** Random source in [0, 1) for retry jitter; tests make it deterministic. Default `Math.random`. */
  readonly random?: () => number;
}

/** @public */
export type TokenStatus = 'empty' | 'valid' | 'refreshing' | 'expired' | 'failed';

/**
 * What the provider knows, safe to log or serialise: never a token, secret key or session token.
 * Times are epoch milliseconds of the provider's clock.
 * @public
 */
export interface TokenState {
  /**
   * `empty`: never signed; `valid`: a token is being handed out; `refreshing`: a refresh is in flight
   * (a still-valid token, if any, is handed out meanwhile); `expired`: the last token is past
   * `expiresAt`; `failed`: no valid token and the last attempt failed.
   */
  status: TokenStatus;
  /** Signing time of the current token (its `X-Amz-Date`, to the second). */
  issuedAt?: number;
  /** When the provider stops handing the current token out (hard expiry minus the margin). */
  expiresAt?: number;
  /** When a background refresh becomes due. */
  refreshAt?: number;
  /** When the credentials that signed the current token expire; absent for long-term keys. */
  credentialExpiresAt?: number;
  credentialSource?: CredentialSource;
  /** The role whose assumed credentials signed the current token (`aws_iam_auth.role_arn`). */
  assumedRoleArn?: string;
  /** The profile those credentials (or the role's source credentials) come from (`aws_iam_auth.profile`). */
  credentialProfile?: string;
  /** Last four characters of the access key id that signed the current token. */
  accessKeyIdSuffix?: string;
  signedHost: string;
  signedPort: number;
  region: string;
  user: string;
  /** Tokens signed since creation. */
  signCount: number;
  /** Credential resolutions attempted since creation. */
  credentialResolutions: number;
  /** Consecutive failed refreshes (0 after a success). */
  consecutiveFailures: number;
  /** The most recent failure; kept after a later success (compare `at` with `issuedAt`). */
  lastError?: { code: string; message: string; at: number };
}

/** Emitted through `onEvent`; never carries a token or secret. @public */
export type TokenProviderEvent =
  | { type: 'token.refreshed'; expiresAt: number; credentialSource: CredentialSource; accessKeyIdSuffix: string; assumedRoleArn?: string }
  | { type: 'token.refresh_failed'; code: string; message: string; attempt: number };

/** @public */
export interface IamTokenProvider {
  /** A token valid right now. Waits for a refresh when there is none; rejects with an `IamError`. */
  getToken(): Promise<string>;
  /**
   * The cached token if it is valid right now, without waiting (the background refresh keeps one
   * warm while the provider is open); undefined otherwise. For synchronous readers, such as a
   * peer copying a session's config to open a control connection.
   */
  cachedToken(): string | undefined;
  /**
   * Drops the token and the memoised credentials (after an authentication failure). Given the
   * token that failed, it does nothing if a newer token has already replaced it, so N connections
   * failing together cause one re-resolution, not N.
   */
  invalidate(failedToken?: string): void;
  state(): TokenState;
  /** Stops the background refresh timer. The provider still works on demand afterwards. */
  close(): void;
}

/**
 * Where the AWS credentials of IAM signing and Secrets Manager come from when not the default
 * chain as it is: a named profile, and or a role assumed on top. @public
 */
export interface CredentialsPlan {
  readonly profile?: string;
  /**
   * The region of the STS requests these credentials need (a role's AssumeRole, a `role_arn`
   * profile's): the connection's (IAM's, else the secret's). A profile's own `region` wins for
   * the profile's role.
   */
  readonly stsRegion: string;
  readonly role?: {
    readonly arn: string;
    readonly sessionName: string;
    readonly externalId?: string;
    readonly durationSeconds: number;
  };
}
