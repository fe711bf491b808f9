import { DbModuleError, messageOf } from '../errors.js';
import type { Logger } from '../logging.js';
import { driverError } from './driver-error.js';
import type { AuthFailure, AuthFailureDecision } from './types.js';

/** How the session openings of one pool react to an authentication failure (see `DriverPoolOptions.onAuthFailure`). */
export interface AuthRetryPolicy {
  readonly connection: string;
  /** connection_timeout: the budget of one opening, retries included; 0 = no limit. */
  readonly timeoutMs: number;
  /** Maps a driver error raised while opening a session (AUTH_FAILED is the one that matters here). */
  classify(error: unknown): DbModuleError;
  /** Asked after each AUTH_FAILED; without it, an opening ends with its first failure, as the driver reported it. */
  readonly onAuthFailure?: ((failure: AuthFailure) => Promise<AuthFailureDecision>) | undefined;
  /**
   * What an opening that gives up with no error of the hook's fails with: the driver's own error
   * (true; what an ORM given pg's pool expects from pg) or the classified one (false).
   */
  readonly keepDriverError: boolean;
  readonly logger: Logger;
}

/** The driver's side of one physical session being opened, attempt after attempt. */
export interface SessionOpening<S> {
  /** Monotonic time (performance.now()) the opening started: connection_timeout counts from here. */
  readonly startedAt: number;
  /** Makes one connection attempt and reports its outcome to `attempt.finished`. */
  attempt(attempt: OpeningAttempt<S>): void;
  /** The password the last attempt sent, if the server asked for one. */
  sentPassword(): string | undefined;
  /** True once the pool is closing: the hook is not asked, and no attempt is made again. */
  closing(): boolean;
  /**
   * An attempt failed with AUTH_FAILED; called before the hook is asked. Keeps the session's
   * place while the hook decides (mysql2 frees the max_open slot the moment a connect fails).
   */
  hold?(): void;
  /** The opening ended after {@link hold}: gives that place back. */
  release?(): void;
  /** Readies the session for another attempt (pg: a fresh connection in the same client). */
  prepareRetry?(): void;
}

/** One attempt, as the driver making it sees it. */
export interface OpeningAttempt<S> {
  /** 1 for the first attempt of the opening, 2 for the first retry, ... */
  readonly number: number;
  /** What is left of connection_timeout for this opening, in whole milliseconds; Infinity without a limit. */
  remainingMs(): number;
  /** Reports the attempt's outcome: the driver's error, or none and the session once it is open. */
  finished(error: Error | null | undefined, session?: S): void;
}

/** Called once per opening: with the session, or with the error the opening ended with. */
export type OpeningCallback<S> = (error: Error | null, session?: S) => void;

/**
 * Opens a session, asking `policy.onAuthFailure` what to do after each AUTH_FAILED. The hook
 * owns any backoff (it is told the time left); retries stay within the same opening, so they
 * use the same max_open slot and the same connection_timeout. An opening that ends because of
 * the hook's decision fails with the hook's error, else with the authentication failure, also
 * when connection_timeout cuts a retry short: the auth failures that caused it are the news.
 */
export function openWithAuthRetry<S>(opening: SessionOpening<S>, policy: AuthRetryPolicy, done: OpeningCallback<S>): void {
  new AuthRetry(opening, policy, done).next();
}

/**
 * Errors an opening ended with because of an auth-failure decision. When connection_timeout
 * ran out meanwhile, a native pool may wrap them in its own timeout error (pg-pool does).
 */
const decidedErrors = new WeakSet<object>();

function decided(error: Error): Error {
  decidedErrors.add(error);
  return error;
}

/** The error the caller should see: a decided error rather than a native pool's timeout wrapper around it. */
export function unwrapDecided(error: Error): Error {
  const cause: unknown = error.cause;
  return cause instanceof Error && decidedErrors.has(cause) ? cause : error;
}

class AuthRetry<S> implements OpeningAttempt<S> {
  number = 0;
  readonly #opening: SessionOpening<S>;
  readonly #policy: AuthRetryPolicy;
  readonly #done: OpeningCallback<S>;
  /** What a retry that runs out of time reports: the last decision's error, else the last auth failure. */
  #lastAuthError: Error | undefined;

  constructor(opening: SessionOpening<S>, policy: AuthRetryPolicy, done: OpeningCallback<S>) {
    this.#opening = opening;
    this.#policy = policy;
    this.#done = done;
  }

  next(): void {
    this.number++;
    this.#opening.attempt(this);
  }

  remainingMs(): number {
    const { timeoutMs } = this.#policy;
    return timeoutMs > 0 ? Math.max(0, Math.floor(this.#opening.startedAt + timeoutMs - performance.now())) : Number.POSITIVE_INFINITY;
  }

  finished(error: Error | null | undefined, session?: S): void {
    if (!error) return this.#done(null, session);
    const hook = this.#policy.onAuthFailure;
    if (!hook || this.#opening.closing()) return this.#done(error);
    const failure = this.#policy.classify(error);
    if (failure.code !== 'AUTH_FAILED') {
      const last = this.#lastAuthError;
      const cutShort = last !== undefined && (failure.code === 'CONNECT_TIMEOUT' || this.remainingMs() === 0);
      return this.#done(cutShort ? decided(last) : error);
    }
    this.#opening.hold?.();
    const authError = this.#policy.keepDriverError ? error : failure;
    const attempt = this.number;
    const remainingMs = this.remainingMs();
    this.#policy.logger.debug('authentication failed while opening a session', { connection: this.#policy.connection, attempt, remainingMs });
    let decision: Promise<AuthFailureDecision>;
    try {
      decision = hook({ error: failure, attempt, password: this.#opening.sentPassword(), remainingMs });
    } catch (thrown) {
      return this.#hookFailed(thrown);
    }
    Promise.resolve(decision).then(
      (answer) => this.#decided(answer, authError),
      (thrown: unknown) => this.#hookFailed(thrown),
    );
  }

  #decided(decision: AuthFailureDecision | undefined, authError: Error): void {
    const error = decision?.error ?? authError;
    if (decision?.retry !== true || this.remainingMs() <= 0 || this.#opening.closing()) return this.#giveUp(error);
    this.#lastAuthError = error;
    this.#opening.prepareRetry?.();
    this.next();
  }

  #hookFailed(thrown: unknown): void {
    // a hook that rejected with something other than an Error still fails the opening with a typed error
    const connection = this.#policy.connection;
    this.#giveUp(thrown instanceof Error ? thrown : driverError(DbModuleError, 'CONNECT_FAILED', `the auth-failure hook failed: ${messageOf(thrown)}`, { connection, cause: thrown }));
  }

  #giveUp(error: Error): void {
    this.#opening.release?.();
    this.#done(decided(error));
  }
}
