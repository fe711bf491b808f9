import type { SecretPlan } from '../config/plan-types.js';
import type { Clock } from '../drivers/types.js';
import { DbModuleError, messageOf } from '../errors.js';
import type { SecretFetchReason } from '../events.js';
import { backoffDelay } from '../iam/backoff.js';
import type { SecretSource } from './secret-source.js';
import type { SecretLogin, SecretState } from './types.js';

/** At most one fetch per this long because the server refused the cached login (the "rejection window"). */
export const REJECTION_WINDOW_MS = 1_000;

export interface SecretCacheOptions {
  readonly source: SecretSource;
  readonly plan: SecretPlan;
  /** Decides when `refresh` is due (the connection's clock, controllable in tests). */
  readonly clock: Clock;
  /** Told of every fetch that ended: the login it brought, or the error. Must not throw. */
  readonly onFetched: (outcome: { reason: SecretFetchReason; durationMs: number; login?: SecretLogin; error?: DbModuleError }) => void;
  /** Runs each fetch (telemetry puts a span around it); default: as it is. */
  readonly around?: (reason: SecretFetchReason, fetch: () => Promise<SecretLogin>) => Promise<SecretLogin>;
}

/**
 * One connection's login from its secret: fetched once (single flight, however many sessions
 * open at once), kept, and fetched again when `secrets_manager.refresh` has passed (in the
 * background: the login held meanwhile is handed out) or when the server refused it (at most
 * once per {@link REJECTION_WINDOW_MS}, all refused sessions waiting for that one fetch). A failed
 * fetch keeps the login held: sessions established with it, and new ones, go on using it; the
 * next background fetch waits a jittered backoff (1 s doubling to 60 s).
 */
export class SecretCache {
  readonly #options: SecretCacheOptions;
  #login: SecretLogin | undefined;
  #fetchedAt: number | undefined;
  #inflight: Promise<SecretLogin> | undefined;
  /** performance.now() of the last fetch a refused login caused. */
  #lastRejectedFetch = Number.NEGATIVE_INFINITY;
  #fetches = 0;
  #consecutiveFailures = 0;
  /** After a failed refresh, no background fetch before this (clock time): backoff, not a fetch per opening. */
  #retryAt = Number.NEGATIVE_INFINITY;
  #lastError: SecretState['lastError'];
  #closed = false;

  constructor(options: SecretCacheOptions) {
    this.#options = options;
  }

  /** The first fetch (or the login already held): what opening the connection waits for. */
  ready(): Promise<SecretLogin> {
    return this.#login ? Promise.resolve(this.#login) : (this.#inflight ?? this.#fetch('initial'));
  }

  /**
   * The login a session opening now uses; starts a background fetch when `refresh` is due.
   * @throws DbModuleError SECRET_UNAVAILABLE when no fetch ever succeeded (call {@link ready} first).
   */
  current(): SecretLogin {
    const login = this.#login;
    if (login === undefined) {
      throw this.#lastError
        ? new DbModuleError(this.#lastError.code as DbModuleError['code'], this.#lastError.message, { retryable: true })
        : new DbModuleError('SECRET_UNAVAILABLE', `secret "${this.#options.plan.secretId}" has not been fetched yet`, { retryable: true });
    }
    const now = this.#options.clock.now();
    if (!this.#inflight && !this.#closed && now >= this.#refreshAt() && now >= this.#retryAt) void this.#fetch('refresh').catch(() => {});
    return login;
  }

  /**
   * The server refused a login whose password was `password`: resolves once the login to try
   * next is known. Fetches again unless a newer login already replaced that one, a fetch is in
   * flight (it is waited for), or the last fetch for a refusal was less than the window ago.
   * True when the login changed (its password is not `password` any more).
   */
  async rejected(password: string | undefined): Promise<boolean> {
    const changed = (): boolean => this.#login !== undefined && this.#login.password !== password;
    if (this.#inflight) {
      await this.#inflight.catch(() => undefined);
      return changed();
    }
    if (changed() || this.#closed) return changed();
    const now = performance.now();
    if (now - this.#lastRejectedFetch < REJECTION_WINDOW_MS) return false;
    this.#lastRejectedFetch = now;
    await this.#fetch('rejected').catch(() => undefined);
    return changed();
  }

  state(): SecretState {
    const { plan } = this.#options;
    const status = this.#inflight ? 'fetching' : this.#login ? 'valid' : this.#lastError ? 'failed' : 'empty';
    return {
      status,
      secretId: plan.secretId,
      region: plan.region,
      ...(this.#login ? { versionId: this.#login.versionId } : {}),
      ...(this.#fetchedAt === undefined ? {} : { fetchedAt: this.#fetchedAt, refreshAt: this.#refreshAt() }),
      fetches: this.#fetches,
      consecutiveFailures: this.#consecutiveFailures,
      ...(this.#lastError ? { lastError: { ...this.#lastError } } : {}),
    };
  }

  /** Stops background fetches and closes the SDK client. */
  close(): void {
    this.#closed = true;
    this.#options.source.close();
  }

  #refreshAt(): number {
    return (this.#fetchedAt ?? Number.NEGATIVE_INFINITY) + this.#options.plan.refreshMs;
  }

  #fetch(reason: SecretFetchReason): Promise<SecretLogin> {
    const { source, clock, onFetched, around } = this.#options;
    const started = performance.now();
    this.#fetches += 1;
    const fetching = (around ? around(reason, () => source.fetch()) : source.fetch()).then(
      (login) => {
        this.#login = login;
        this.#fetchedAt = clock.now();
        this.#consecutiveFailures = 0;
        this.#retryAt = Number.NEGATIVE_INFINITY;
        onFetched({ reason, durationMs: performance.now() - started, login });
        return login;
      },
      (failure: unknown) => {
        const error = failure instanceof DbModuleError ? failure : new DbModuleError('SECRET_UNAVAILABLE', messageOf(failure), { cause: failure, retryable: true });
        this.#consecutiveFailures += 1;
        this.#lastError = { code: error.code, message: error.message, at: clock.now(), reason };
        this.#retryAt = clock.now() + backoffDelay(this.#consecutiveFailures, { baseMs: 1_000, maxMs: 60_000 });
        onFetched({ reason, durationMs: performance.now() - started, error });
        throw error;
      },
    );
    this.#inflight = fetching;
    const clear = (): void => {
      if (this.#inflight === fetching) this.#inflight = undefined;
    };
    fetching.then(clear, clear);
    return fetching;
  }
}
