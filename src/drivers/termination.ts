import { DbModuleError } from '../errors.js';
import { driverError } from './driver-error.js';
import type { DriverPool } from './types.js';

/**
 * A DriverPool that can cut short what still runs when `close()` is out of time. (Not part of
 * DriverPool itself, whose contract file this module does not own; every driver implements it.)
 */
export interface Terminable {
  /**
   * Ends every session in use (their statements fail with DATABASE_CLOSED), fails callers
   * still waiting for a session, and asks the server to stop the statements that were running.
   * Returns how many sessions it ended. The pool's `close()` then completes.
   */
  terminate(): number;
}

export function isTerminable(pool: DriverPool): pool is DriverPool & Terminable {
  return typeof (pool as Partial<Terminable>).terminate === 'function';
}

/** What a statement cut short by {@link Terminable.terminate} fails with: its outcome is unknown, so it is not retryable. */
export function closedWhileRunning(connection: string, cause: unknown): DbModuleError {
  return driverError(
    DbModuleError,
    'DATABASE_CLOSED',
    'close() ran out of time while this statement ran; its session was closed, and the statement may or may not have been applied',
    { connection, retryable: false, cause },
  );
}

/** What a caller still waiting for a session gets when the pool is terminated: nothing was sent. */
export function closedWhileWaiting(connection: string): DbModuleError {
  return driverError(DbModuleError, 'DATABASE_CLOSED', 'close() ran out of time while this caller waited for a session; nothing was sent', {
    connection,
    retryable: false,
  });
}
