import { DbModuleError } from '../errors.js';

const broken = new WeakSet<object>();
const notSent = new WeakSet<object>();

/** Marks an error as proof that the session it came from must be destroyed, not reused. */
export function markSessionBroken<E>(error: E): E {
  if (typeof error === 'object' && error !== null) broken.add(error);
  return error;
}

/**
 * How many sessions one autocommit statement is tried on when each proves dead before running
 * it (database/sql in Go retries bad connections the same way). A server that is going away
 * can end an idle session just as it is handed out, faster than any check can see.
 */
export const DEAD_SESSION_ATTEMPTS = 3;

/** Marks an error as proof that the statement never left the client: its session was already dead. */
export function markNotSent<E>(error: E): E {
  if (typeof error === 'object' && error !== null) notSent.add(error);
  return error;
}

/**
 * True when `error` proves the statement never reached the server (its session was already
 * dead), so running it on another session is safe and transparent. A statement the server
 * ended (pg_terminate_backend, shutdown) is not: it may have been a runaway query an operator
 * stopped on purpose; its error is retryable for the caller to decide.
 */
export function diedBeforeRunning(error: unknown): boolean {
  return typeof error === 'object' && error !== null && notSent.has(error);
}

/**
 * True when the session that produced `error` can't be trusted any more: the connection
 * was lost or timed out, or a ROLLBACK on it failed (it may still be inside a transaction).
 */
export function isSessionBroken(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (broken.has(error)) return true;
  return error instanceof DbModuleError && (error.code === 'CONNECTION_LOST' || error.code === 'QUERY_TIMEOUT');
}
