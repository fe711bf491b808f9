/**
 * `dbmodule/emulator`: a local RDS IAM endpoint for laptops and CI.
 * @packageDocumentation
 */
export { startEmulator } from './emulator.js';
export type { Emulator, EmulatorEndpoint } from './emulator.js';
export type { EmulatedCluster, EmulatedFailover, EmulatedFailoverOptions, EmulatedInstance, EmulatedStatement } from './cluster.js';
export type { EmulatorClusterInstanceOptions, EmulatorClusterOptions, EmulatorCredentials, EmulatorEndpointOptions, EmulatorOptions, EmulatorTlsOptions } from './options.js';
export type { AuthAttempt, AuthLog } from './auth-log.js';
export type { DenyReason } from './sigv4-verify.js';
