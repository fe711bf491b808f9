export { envVariable, loadConfig, validateConfig, redactConfig, selectConnection } from './config/index.js';
export { formatDuration } from './config/duration.js';
export type { ClusterConfig, ConnectionConfig, DatabaseConfig, DriverName, IamAuthConfig, MigrationsConfig, ReadFrom, ReaderSelection, SecretsManagerConfig, TelemetryConfig, ValueSource } from './config/types.js';
export {
  planConnection,
  planDsn,
  type ClusterPlan,
  type ConnectionPlan,
  type CredentialsPlan,
  type DsnPlan,
  type IamConnectionPlan,
  type IamPlan,
  type SecretConnectionPlan,
  type SecretPlan,
} from './config/plan.js';
export type { SecretState } from './secrets/types.js';
export { readSecretLogin, type SecretLoginRead } from './secret-connection.js';
export type { Topology, TopologyHost, TopologySource } from './cluster/types.js';
export type { Reader } from './cluster/reader-router.js';
export { planView, type ConnectionPlanView } from './config/plan-view.js';
export { createDatabase, Database } from './database.js';
export type { ConnectionHealth, CreateDatabaseOptions, HealthReport } from './database.js';
export type { TelemetryMeterProvider, TelemetryOptions, TelemetrySetting, TelemetryTracerProvider } from './telemetry/options.js';
export { Connection, DriverConnection } from './connection.js';
export type { LastError } from './connection.js';
export type { NativePools } from './drivers/native-pools.js';
export type { Queryable, TransactionOptions } from './transaction.js';
export type { MigrateOptions, MigrationRun, MigrationStatus, MigrationStatusEntry, MigrationStepReport, RollbackOptions } from './migrations/types.js';
export type { AppliedMigration } from './migrations/history.js';
export { migrationSettings } from './migrations/settings.js';
export type { Clock, IsolationLevel, PoolStats, QueryResult } from './drivers/types.js';
export { defaultPort, describeDsn, formatDsn, parseDsn, redactDsn } from './dsn/index.js';
export type { FormatDsnOptions } from './dsn/index.js';
export { ROOT_CERT_PARAM_NAMES, sslModeToTls, TLS_MODE_PARAM_NAMES } from './tls/sslmode.js';
export type { SslMode, SslModeOptions, TlsSettings } from './tls/sslmode.js';
export { connectionTls, describeTls, type CaSource, type ConnectionTls } from './tls/connection-tls.js';
export { rdsCaBundle } from './tls/rds-ca.js';
export type { DsnFamily, ParsedDsn } from './dsn/types.js';
export { ConfigError, ConnectionError, DbModuleError, IamError, QueryError, TransactionError, isDbModuleError } from './errors.js';
export type { DbModuleErrorOptions, ErrorCode, TransactionOutcome } from './errors.js';
export { DatabaseEventEmitter } from './events.js';
export type { DatabaseEventListener, DatabaseEventName, DatabaseEvents, SecretFetchReason } from './events.js';
export { createLogfmtLogger, toLogger } from './logging.js';
export type { LogFields, LogLevel, Logger, LoggerLike } from './logging.js';
export { checkConnections } from './diagnostics/check.js';
export type { CheckedCredentials, CheckOptions, CheckPhase, CheckReport, ConnectionCheck, PhaseName, PhaseStatus } from './diagnostics/check.js';
