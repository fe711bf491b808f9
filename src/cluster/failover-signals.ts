import { diedBeforeRunning } from '../drivers/session-health.js';
import { DbModuleError, QueryError, TransactionError } from '../errors.js';
import type { FailoverReason } from '../events.js';

/** The writer was not reached: its instance may be down. */
const NETWORK_CODES: ReadonlySet<string> = new Set(['CONNECT_FAILED', 'CONNECT_TIMEOUT', 'CONNECTION_LOST']);

/**
 * A write refused because the server is read only: PostgreSQL 25006 (read_only_sql_transaction),
 * MySQL 1290 (`--read-only`) and 1836 (read-only mode). A demoted writer answers so.
 */
const READ_ONLY_CODES: ReadonlySet<string> = new Set(['25006', 'ER_OPTION_PREVENTS_STATEMENT', 'ER_READ_ONLY_MODE', '1290', '1836']);

/** Why `error`, from the writer, may mean the writer moved; undefined when it cannot. A failed transaction tells by what failed it. */
export function failoverReasonOf(error: unknown): Extract<FailoverReason, 'network' | 'read-only'> | undefined {
  if (error instanceof TransactionError) return failoverReasonOf(error.cause);
  if (!(error instanceof DbModuleError)) return undefined;
  if (isReadOnlyError(error)) return 'read-only';
  return NETWORK_CODES.has(error.code) ? 'network' : undefined;
}

export function isReadOnlyError(error: unknown): boolean {
  return error instanceof QueryError && error.driverCode !== undefined && READ_ONLY_CODES.has(error.driverCode);
}

/**
 * True when `error` proves the statement had no effect on the writer, so running it on the new
 * writer is safe: no session could be opened, the session was dead before it was sent, or the
 * server refused it as read only. A statement that was in flight is never in this set.
 */
export function provablyNotRun(error: unknown): boolean {
  if (!(error instanceof DbModuleError)) return false;
  return error.code === 'CONNECT_FAILED' || error.code === 'CONNECT_TIMEOUT' || diedBeforeRunning(error) || isReadOnlyError(error);
}
