import type { PoolConnection } from 'mysql2';
import { ConnectionError, DbModuleError, messageOf } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { AuthFailure, AuthFailureDecision } from '../types.js';
import type { ConnectionCallback } from './internals.js';
import { driverError } from '../driver-error.js';

/** What an opening needs to know; the session pool passes its settings through. */
export interface OpeningSettings {
  readonly connection: string;
  /** Budget of one opening: password function, connect, and every auth retry; 0 = unbounded. */
  readonly connectTimeoutMs: number;
  readonly password?: (() => Promise<string>) | undefined;
  readonly onAuthFailure?: ((failure: AuthFailure) => Promise<AuthFailureDecision>) | undefined;
  /** Classifies a mysql2 connect error the way DriverPool callers see it (AUTH_FAILED for errno 1045/1698, ...). */
  readonly classify: (error: unknown) => DbModuleError;
  readonly logger: Logger;
}

/** The slot bookkeeping an opening borrows from the session pool. */
export interface OpeningSlots {
  /** Holds one max_open slot that mysql2 cannot see (no connection object exists for it). */
  reserve(): void;
  /**
   * Turns the held slot into a mysql2 connection opened with `password` (when a password function
   * is set) and, when given, `connectTimeoutMs` instead of the pool's connectTimeout. `onOpened`
   * gets mysql2's outcome; if the slot could not be used (pool closed or filled behind our back),
   * `fallback` is served the ordinary way instead.
   */
  connect(password: string | undefined, connectTimeoutMs: number | undefined, onOpened: ConnectionCallback, fallback: ConnectionCallback): void;
  /** The password mysql2 sends when there is no password function (the DSN's). */
  staticPassword(): string | undefined;
  /** Gives the held slot back (the opening failed) and lets a waiter use it. */
  abandon(): void;
  closed(): boolean;
}

/**
 * Opens one physical session in a slot the caller already reserved: asks the password function,
 * connects, and on AUTH_FAILED asks `onAuthFailure` whether to try again. The slot stays held
 * across retries (mysql2 frees it the moment a connect fails), and every attempt counts against
 * the one `connection_timeout` that started with this opening.
 */
export class SessionOpening {
  readonly #settings: OpeningSettings;
  readonly #slots: OpeningSlots;
  readonly #callback: ConnectionCallback;
  readonly #deadline: number;
  #attempt = 0;
  /** What a retry that runs out of time reports: the last decision's error, else the last auth failure. */
  #lastAuthError: DbModuleError | undefined;

  constructor(settings: OpeningSettings, slots: OpeningSlots, callback: ConnectionCallback) {
    this.#settings = settings;
    this.#slots = slots;
    this.#callback = callback;
    const budget = settings.connectTimeoutMs;
    // performance.now() is monotonic: a wall-clock step must not stretch or cut the budget.
    this.#deadline = budget > 0 ? performance.now() + budget : Number.POSITIVE_INFINITY;
  }

  /** Starts the first attempt; the caller has reserved the slot. */
  start(): void {
    this.#next();
  }

  #remainingMs(): number {
    return Math.max(0, this.#deadline - performance.now());
  }

  #next(): void {
    this.#attempt++;
    const password = this.#settings.password;
    if (!password) return this.#connect(this.#slots.staticPassword());
    this.#askPassword(password).then(
      (value) => this.#connect(value),
      (error: unknown) => this.#fail(this.#lastAuthError && isTimeout(error) ? this.#lastAuthError : passwordError(error, this.#settings.connection)),
    );
  }

  #askPassword(password: () => Promise<string>): Promise<string> {
    const remaining = this.#remainingMs();
    return new Promise<string>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (Number.isFinite(remaining)) {
        const { connection, connectTimeoutMs } = this.#settings;
        timer = setTimeout(
          () =>
            reject(
              driverError(ConnectionError, 'CONNECT_TIMEOUT', `the password function did not answer within connection_timeout (${connectTimeoutMs} ms)`, {
                connection,
                retryable: true,
              }),
            ),
          remaining,
        );
      }
      password().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #connect(password: string | undefined): void {
    // The first attempt keeps mysql2's own connectTimeout (as without a hook); retries get what is left.
    const timeout = this.#attempt > 1 && Number.isFinite(this.#deadline) ? Math.max(1, Math.ceil(this.#remainingMs())) : undefined;
    this.#slots.connect(password, timeout, (error, connection) => this.#onOpened(error, connection, password), this.#callback);
  }

  #onOpened(error: NodeJS.ErrnoException | null, connection: PoolConnection | undefined, password: string | undefined): void {
    const hook = this.#settings.onAuthFailure;
    if (!error) return this.#callback(null, connection);
    if (!hook || this.#slots.closed()) return this.#callback(error);
    const failure = this.#settings.classify(error);
    if (failure.code !== 'AUTH_FAILED') {
      // A retry cut short by the budget reports why it was retrying, not the timeout that ended it.
      return this.#callback(this.#lastAuthError && failure.code === 'CONNECT_TIMEOUT' ? this.#lastAuthError : error);
    }
    // mysql2 freed the slot before calling back and serves a queued waiter on the next tick: hold it first.
    this.#slots.reserve();
    const attempt = this.#attempt;
    const remainingMs = this.#remainingMs();
    new Promise<AuthFailureDecision>((resolve) => resolve(hook({ error: failure, attempt, password, remainingMs }))).then(
      (decision) => {
        const fallback = decision?.error ?? failure;
        if (decision?.retry !== true || this.#remainingMs() <= 0 || this.#slots.closed()) return this.#fail(fallback);
        this.#lastAuthError = fallback;
        this.#settings.logger.debug('MySQL authentication failed; opening the session again as the auth-failure hook asked', {
          connection: this.#settings.connection,
          attempt,
          remainingMs: Math.round(this.#remainingMs()),
        });
        this.#next();
      },
      (hookError: unknown) => this.#fail(hookError instanceof Error ? hookError : hookFailure(hookError, this.#settings.connection)),
    );
  }

  /** Ends the opening with `error`, giving the held slot back. */
  #fail(error: Error): void {
    this.#slots.abandon();
    this.#callback(error);
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof DbModuleError && error.code === 'CONNECT_TIMEOUT';
}

/** A hook that rejected with something other than an Error still fails the opening with a typed error. */
function hookFailure(thrown: unknown, connection: string): DbModuleError {
  return driverError(DbModuleError, 'CONNECT_FAILED', `the auth-failure hook failed: ${messageOf(thrown)}`, { connection, cause: thrown });
}

function passwordError(error: unknown, connection: string): DbModuleError {
  return error instanceof DbModuleError
    ? error
    : driverError(ConnectionError, 'CONNECT_FAILED', `the password function failed: ${messageOf(error)}`, { connection, cause: error });
}
