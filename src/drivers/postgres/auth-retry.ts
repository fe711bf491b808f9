import type { DbModuleError } from '../../errors.js';
import type { AuthFailure, AuthFailureDecision } from '../types.js';

/** How a session opening reacts to an authentication failure (see `DriverPoolOptions.onAuthFailure`). */
export interface AuthRetryPolicy {
  /** connection_timeout: the budget of one opening, retries included; 0 = no limit. */
  readonly timeoutMs: number;
  /** Maps a driver error raised while opening a session (AUTH_FAILED is the one that matters here). */
  classify(error: unknown): DbModuleError;
  readonly onAuthFailure: (failure: AuthFailure) => Promise<AuthFailureDecision>;
}

/** One physical session being opened, attempt after attempt. */
export interface SessionOpening {
  /** Monotonic time (performance.now()) the opening started, no later than pg-pool's connect timer. */
  readonly startedAt: number;
  /** One connection attempt; rejects with the driver's own error. */
  attempt(): Promise<void>;
  /** The password the last attempt sent, if the server asked for one. */
  sentPassword(): string | undefined;
  /** Readies the session for another attempt; false when it must not retry (the pool is closing). */
  prepareRetry(): boolean;
}

/**
 * Errors an opening ended with because of an auth-failure decision. When connection_timeout
 * ran out meanwhile, pg-pool wraps them in its own timeout error; the pool unwraps these.
 */
const decidedErrors = new WeakSet<object>();

function decided(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) decidedErrors.add(error);
  return error;
}

/** The error the caller should see: a decided error rather than pg-pool's timeout wrapper around it. */
export function unwrapDecided(error: Error): Error {
  const cause: unknown = error.cause;
  return cause instanceof Error && decidedErrors.has(cause) ? cause : error;
}

/**
 * Opens a session, asking `policy.onAuthFailure` what to do after each AUTH_FAILED. The hook
 * owns any backoff (it is told the time left); retries stay within the same opening, so they
 * use the same max_open slot and the same connection_timeout.
 */
export async function openWithAuthRetry(opening: SessionOpening, policy: AuthRetryPolicy): Promise<void> {
  const remainingMs = (): number =>
    policy.timeoutMs > 0 ? Math.max(0, Math.floor(opening.startedAt + policy.timeoutMs - performance.now())) : Number.POSITIVE_INFINITY;
  let retryError: DbModuleError | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      await opening.attempt();
      return;
    } catch (error) {
      const mapped = policy.classify(error);
      if (mapped.code !== 'AUTH_FAILED') {
        // a retry cut short by connection_timeout: the auth failures that caused it are the news
        throw retryError && remainingMs() === 0 ? decided(retryError) : error;
      }
      let decision: AuthFailureDecision;
      try {
        decision = await policy.onAuthFailure({ error: mapped, attempt, password: opening.sentPassword(), remainingMs: remainingMs() });
      } catch (hookError) {
        throw decided(hookError);
      }
      if (decision.retry && remainingMs() > 0 && opening.prepareRetry()) {
        retryError = decision.error;
        continue;
      }
      throw decided(decision.error ?? error);
    }
  }
}
