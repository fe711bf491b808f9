import type { PoolConnection } from 'mysql2';
import { ConnectionError, DbModuleError, messageOf } from '../../errors.js';
import { openWithAuthRetry, type AuthRetryPolicy, type OpeningAttempt, type SessionOpening } from '../auth-retry.js';
import { driverError } from '../driver-error.js';
import type { SessionLogin } from '../types.js';
import type { ConnectionCallback } from './internals.js';

/** What an opening needs to know; the session pool passes its settings through. */
export interface OpeningSettings {
  readonly connection: string;
  /** Budget of one opening: password function, connect, and every auth retry; 0 = unbounded. */
  readonly connectTimeoutMs: number;
  readonly password?: (() => Promise<string>) | undefined;
  /** Each session's user and password instead (see DriverPoolOptions.login), read as each attempt starts. */
  readonly login?: (() => SessionLogin) | undefined;
}

/** The slot bookkeeping an opening borrows from the session pool. */
export interface OpeningSlots {
  /** Holds one max_open slot that mysql2 cannot see (no connection object exists for it). */
  reserve(): void;
  /**
   * Turns the held slot into a mysql2 connection opened with `password` (when a password function
   * or a login is set), `user` (a login's) and, when given, `connectTimeoutMs` instead of the
   * pool's connectTimeout. `onOpened`
   * gets mysql2's outcome; if the slot could not be used (pool closed or filled behind our back),
   * `fallback` is served the ordinary way instead.
   */
  connect(password: string | undefined, user: string | undefined, connectTimeoutMs: number | undefined, onOpened: ConnectionCallback, fallback: ConnectionCallback): void;
  /** The password mysql2 sends when there is no password function (the DSN's). */
  staticPassword(): string | undefined;
  /** Gives the held slot back (the opening failed) and lets a waiter use it. */
  abandon(): void;
  closed(): boolean;
}

/**
 * Opens one physical session in a slot the caller already reserved: asks the password function,
 * connects, and on AUTH_FAILED asks `policy.onAuthFailure` whether to try again (see
 * openWithAuthRetry). The slot stays held across retries (mysql2 frees it the moment a connect
 * fails), and every attempt counts against the one `connection_timeout` that started with this
 * opening. `callback` gets the session or the error the opening ended with.
 */
export function openReserved(settings: OpeningSettings, slots: OpeningSlots, policy: AuthRetryPolicy, callback: ConnectionCallback): void {
  openWithAuthRetry(new MysqlSessionOpening(settings, slots, callback), policy, callback);
}

/** The mysql2 side of one opening: what each attempt does with the password and the held slot. */
class MysqlSessionOpening implements SessionOpening<PoolConnection> {
  // performance.now() is monotonic: a wall-clock step must not stretch or cut the budget.
  readonly startedAt = performance.now();
  readonly #settings: OpeningSettings;
  readonly #slots: OpeningSlots;
  /** Served the ordinary way when the held slot could not be used (see OpeningSlots.connect). */
  readonly #fallback: ConnectionCallback;
  #sent: string | undefined;

  constructor(settings: OpeningSettings, slots: OpeningSlots, fallback: ConnectionCallback) {
    this.#settings = settings;
    this.#slots = slots;
    this.#fallback = fallback;
  }

  attempt(attempt: OpeningAttempt<PoolConnection>): void {
    const login = this.#settings.login?.();
    if (login) return this.#connect(login.password, attempt, login.user);
    const password = this.#settings.password;
    if (!password) return this.#connect(this.#slots.staticPassword(), attempt);
    this.#askPassword(password, attempt.remainingMs()).then(
      (value) => this.#connect(value, attempt),
      (error: unknown) => {
        // no mysql2 connection took the held slot: give it back
        this.#slots.abandon();
        attempt.finished(passwordError(error, this.#settings.connection));
      },
    );
  }

  sentPassword(): string | undefined {
    return this.#sent;
  }

  closing(): boolean {
    return this.#slots.closed();
  }

  /** mysql2 freed the slot before calling back and serves a queued waiter on the next tick: hold it first. */
  hold(): void {
    this.#slots.reserve();
  }

  release(): void {
    this.#slots.abandon();
  }

  #askPassword(password: () => Promise<string>, remainingMs: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (Number.isFinite(remainingMs)) {
        const { connection, connectTimeoutMs } = this.#settings;
        timer = setTimeout(
          () =>
            reject(
              driverError(ConnectionError, 'CONNECT_TIMEOUT', `the password function did not answer within connection_timeout (${connectTimeoutMs} ms)`, {
                connection,
                retryable: true,
              }),
            ),
          remainingMs,
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

  #connect(password: string | undefined, attempt: OpeningAttempt<PoolConnection>, user?: string): void {
    this.#sent = password;
    // The first attempt keeps mysql2's own connectTimeout (as without a hook); retries get what is left.
    const remainingMs = attempt.remainingMs();
    const timeout = attempt.number > 1 && Number.isFinite(remainingMs) ? Math.max(1, remainingMs) : undefined;
    this.#slots.connect(password, user, timeout, (error, connection) => attempt.finished(error, connection), this.#fallback);
  }
}

function passwordError(error: unknown, connection: string): DbModuleError {
  return error instanceof DbModuleError
    ? error
    : driverError(ConnectionError, 'CONNECT_FAILED', `the password function failed: ${messageOf(error)}`, { connection, cause: error });
}
