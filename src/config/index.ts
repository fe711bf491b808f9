export type { ConnectionConfig, DatabaseConfig, DriverName, IamAuthConfig, TelemetryConfig, ValueSource } from './types.js';
export { loadConfig, type LoadConfigOptions } from './load.js';
export { validateConfig, type ValidateConfigOptions } from './validate.js';
export { isResolvedConfig, redactConfig, selectConnection, type RedactedConnectionConfig, type RedactedDatabaseConfig } from './resolved.js';
export { parseDuration } from './duration.js';
export { parseBoolean } from './boolean.js';
export { envName, envVariable, type Env } from './env.js';
export { DEFAULTS } from './defaults.js';
export { DRIVER_ALIASES } from './schema.js';
