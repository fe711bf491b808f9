import { setTimeout as delay } from 'node:timers/promises';

/**
 * The waits SQLite's own busy handler uses (sqliteDefaultBusyCallback), in milliseconds:
 * short at first, since most locks are held for a few milliseconds.
 */
const BUSY_DELAYS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100] as const;
const MAX_DELAY = 100;

/**
 * True for a lock held by another handle, which may be retried: plain SQLITE_BUSY and its
 * RECOVERY/TIMEOUT variants, never SQLITE_BUSY_SNAPSHOT (the transaction read a snapshot
 * that another handle has since overwritten; only a rollback helps).
 */
export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY') && code !== 'SQLITE_BUSY_SNAPSHOT';
}

/**
 * Runs `attempt` until it stops failing with a busy error or `deadline` (epoch ms) passes.
 *
 * Handles are opened with busy_timeout 0 and waited for here instead, because SQLite's
 * busy handler sleeps on the calling thread: in Node that blocks the event loop, so a lock
 * held by another handle of the same process could never be released during the wait.
 * Returns the result, or throws the last error (busy or not).
 */
export async function retryWhileBusy<T>(attempt: () => T, firstError: unknown, deadline: number): Promise<T> {
  let error = firstError;
  for (let round = 0; isBusyError(error); round++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await delay(Math.min(BUSY_DELAYS[round] ?? MAX_DELAY, remaining));
    try {
      return attempt();
    } catch (next) {
      error = next;
    }
  }
  throw error;
}
