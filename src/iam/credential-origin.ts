import type { AwsCredentialIdentity, AwsCredentialProvider, CredentialSource } from './types.js';

/**
 * What dbmodule knows of a credentials provider it made (or was handed by the CLI), carried on the
 * provider function itself so it survives every API that takes `credentials`: the source the
 * credentials are reported under, the profile they come from and the role they were assumed for.
 * Nothing secret.
 */
export interface CredentialOrigin {
  /** Reported when the AWS SDK's `$source` flags on the credentials say nothing more specific. */
  readonly source?: CredentialSource;
  /** `aws_iam_auth.profile` the credentials (or the role's source credentials) come from. */
  readonly profile?: string;
  /** The role assumed (`aws_iam_auth.role_arn`). */
  readonly assumedRoleArn?: string;
  /**
   * `resolved`: the connection's profile and role are already applied (what `check` resolved once),
   * so `credentialsFor` hands the provider on as it is. `environment`: the AWS SDK default chain's
   * environment link (AWS_ACCESS_KEY_ID... of the CLI's environment), which a configured profile
   * outranks, as `AWS_PROFILE` outranks it in the SDK.
   */
  readonly kind?: 'resolved' | 'environment';
}

const ORIGIN = Symbol.for('dbmodule.credentialOrigin');

/**
 * `provider` with `origin` attached (not enumerable: JSON and spreads do not see it). A function
 * is read at every {@link originOf}: for a provider whose origin is known only once it has resolved.
 */
export function withOrigin<T extends AwsCredentialProvider>(provider: T, origin: CredentialOrigin | (() => CredentialOrigin)): T {
  Object.defineProperty(provider, ORIGIN, { value: typeof origin === 'function' ? origin : Object.freeze({ ...origin }), enumerable: false });
  return provider;
}

/** The origin attached by {@link withOrigin}, if `credentials` is a provider that has one. */
export function originOf(credentials: AwsCredentialIdentity | AwsCredentialProvider | undefined): CredentialOrigin | undefined {
  if (typeof credentials !== 'function') return undefined;
  const stored: unknown = (credentials as unknown as Record<symbol, unknown>)[ORIGIN];
  const origin: unknown = typeof stored === 'function' ? (stored as () => CredentialOrigin)() : stored;
  return typeof origin === 'object' && origin !== null ? (origin as CredentialOrigin) : undefined;
}
