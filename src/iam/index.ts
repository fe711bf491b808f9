// `dbmodule/iam`: the RDS IAM token lifecycle on its own, usable with any driver or ORM.
export { createIamTokenProvider } from './token-provider.js';
export { classifyAuthFailure, isIamAuthFailure, type AuthFailureKind } from './auth-errors.js';
export { regionFromHostname } from './region.js';
export { credentialsFor, type ConnectionCredentials } from './credential-sources.js';
export { backoffDelay, createBackoff, type Backoff, type BackoffOptions } from './backoff.js';
export {
  createRateLimiter,
  endpointRateLimiter,
  DEFAULT_IAM_CONNECTS_PER_SECOND,
  type RateLimiter,
  type RateLimiterOptions,
} from './rate-limit.js';
export { IAM_AUTH_FAILED_CAUSES, IAM_AUTH_FAILED_SOLUTIONS, iamAuthFailedError } from './errors.js';
export { IamError } from '../errors.js';
export type {
  AwsCredentialIdentity,
  AwsCredentialProvider,
  CredentialChainOptions,
  CredentialSource,
  IamClock,
  IamTokenProvider,
  IamTokenProviderOptions,
  TokenProviderEvent,
  TokenState,
  TokenStatus,
} from './types.js';
