/**
 * `dbmodule/emulator`: a local RDS IAM endpoint for laptops and CI, with local Secrets Manager and
 * STS endpoints for code that fetches passwords or assumes roles.
 * @packageDocumentation
 */
export { startEmulator } from './emulator.js';
export type { Emulator, EmulatorEndpoint } from './emulator.js';
export type { EmulatedCluster, EmulatedFailover, EmulatedFailoverOptions, EmulatedInstance, EmulatedStatement } from './cluster.js';
export type { EmulatorAwsOptions, EmulatorClusterInstanceOptions, EmulatorClusterOptions, EmulatorCredentials, EmulatorEndpointOptions, EmulatorOptions, EmulatorTlsOptions } from './options.js';
export type { EmulatedAws } from './aws/server.js';
export type { EmulatedSecretsManager, SecretCreateOptions, SecretPutOptions, SecretsManagerRequest } from './aws/secrets-manager.js';
export type { AssumedRoleRecord, EmulatedSts, RoleOptions } from './aws/sts.js';
export type { AwsRequestRecord } from './aws/request-log.js';
export type { AwsDenyReason } from './aws/sigv4-headers.js';
export type { AuthAttempt, AuthLog } from './auth-log.js';
export type { DenyReason } from './sigv4-verify.js';
