import { DbModuleError } from '../errors.js';

const broken = new WeakSet<object>();

/** Marks an error as proof that the session it came from must be destroyed, not reused. */
export function markSessionBroken<E>(error: E): E {
  if (typeof error === 'object' && error !== null) broken.add(error);
  return error;
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
