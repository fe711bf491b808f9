/**
 * Stable error codes. Callers branch on `code`, never on message text.
 * @public
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DSN_INVALID'
  | 'DRIVER_NOT_INSTALLED'
  | 'CONNECTION_NOT_FOUND'
  | 'AWS_CREDENTIALS_UNAVAILABLE'
  | 'IAM_ENDPOINT_INVALID'
  | 'IAM_USERNAME_MISSING'
  | 'IAM_REGION_MISSING'
  | 'IAM_AUTH_FAILED'
  | 'SECRET_UNAVAILABLE'
  | 'SECRET_INVALID'
  | 'AUTH_FAILED'
  | 'TLS_FAILED'
  | 'CONNECT_TIMEOUT'
  | 'CONNECT_FAILED'
  | 'POOL_TIMEOUT'
  | 'QUERY_FAILED'
  | 'QUERY_TIMEOUT'
  | 'CONNECTION_LOST'
  | 'TRANSACTION_FAILED'
  | 'DATABASE_CLOSED'
  | 'TOPOLOGY_FAILED'
  | 'FAILOVER_FAILED'
  | 'MIGRATION_LOCKED'
  | 'MIGRATION_DIRTY'
  | 'MIGRATION_CHECKSUM'
  | 'MIGRATION_OUT_OF_ORDER'
  | 'MIGRATION_FAILED';

/** @public */
export interface DbModuleErrorOptions {
  /** The connection name, when the error belongs to one. */
  connection?: string;
  possibleCauses?: readonly string[];
  solutions?: readonly string[];
  /** True when the operation can be retried safely (nothing reached the server, or it was rolled back). */
  retryable?: boolean;
  cause?: unknown;
}

/**
 * The one error type dbmodule throws. Subclasses narrow the family; `code` is the contract.
 * Messages never contain secrets: DSNs are redacted before they reach a message.
 * @public
 */
export class DbModuleError extends Error {
  override name = 'DbModuleError';
  readonly code: ErrorCode;
  readonly connection: string | undefined;
  readonly possibleCauses: string[];
  readonly solutions: string[];
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: DbModuleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.connection = options.connection;
    this.possibleCauses = [...(options.possibleCauses ?? [])];
    this.solutions = [...(options.solutions ?? [])];
    this.retryable = options.retryable ?? false;
  }
}

/** Invalid configuration: a key, value, environment variable or DSN part. @public */
export class ConfigError extends DbModuleError {
  override name = 'ConfigError';
}

/** Failure to connect, authenticate or reach the server. @public */
export class ConnectionError extends DbModuleError {
  override name = 'ConnectionError';
}

/** A statement or transaction failed; `cause` is the driver's error with its SQLSTATE/errno. @public */
export class QueryError extends DbModuleError {
  override name = 'QueryError';
  /** SQLSTATE (postgres), errno name (mysql) or SQLite code of the driver error, when there is one. */
  readonly driverCode: string | undefined;

  constructor(code: ErrorCode, message: string, options: DbModuleErrorOptions & { driverCode?: string } = {}) {
    super(code, message, options);
    this.driverCode = options.driverCode;
  }
}

/**
 * What is known of a transaction that failed: `rolled-back` (nothing of it was committed: its
 * session was lost before COMMIT went out, or a statement in it failed and the callback carried
 * on) or `unknown` (the session was lost while COMMIT was in flight: it may or may not have been
 * committed).
 * @public
 */
export type TransactionOutcome = 'rolled-back' | 'unknown';

/** A transaction that was rolled back, or whose COMMIT was not answered (`TRANSACTION_FAILED`). @public */
export class TransactionError extends QueryError {
  override name = 'TransactionError';
  readonly outcome: TransactionOutcome;

  constructor(message: string, options: DbModuleErrorOptions & { outcome: TransactionOutcome }) {
    super('TRANSACTION_FAILED', message, options);
    this.outcome = options.outcome;
  }
}

/** Everything about AWS RDS IAM authentication. @public */
export class IamError extends DbModuleError {
  override name = 'IamError';
}

/** @public */
export function isDbModuleError(value: unknown): value is DbModuleError {
  return value instanceof DbModuleError;
}

/** The driver's message of an unknown thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
