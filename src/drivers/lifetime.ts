import type { Clock } from './types.js';

/**
 * Up to 10% is added to connection_max_lifetime, drawn once per session, so that sessions
 * opened together (a cold start, a failover) do not all close and reconnect together, which
 * with IAM would also mean a burst of new tokens.
 */
const LIFETIME_JITTER = 0.1;

/**
 * connection_max_lifetime as every driver applies it: a session older than the lifetime plus
 * its jitter is closed instead of reused. A session's retirement time is a plain number the
 * pool stores with the session; checking it allocates nothing.
 */
export class SessionLifetime {
  /** False when connection_max_lifetime is 0: sessions never retire. */
  readonly limited: boolean;
  readonly #lifetimeMs: number;
  readonly #clock: Clock;

  /** `lifetimeMs` is connection_max_lifetime in milliseconds; 0 means no limit. */
  constructor(lifetimeMs: number, clock: Clock) {
    this.limited = lifetimeMs > 0;
    this.#lifetimeMs = lifetimeMs;
    this.#clock = clock;
  }

  /** When a session opened now retires (by the clock); `Infinity` without a limit. */
  retireAt(): number {
    if (!this.limited) return Number.POSITIVE_INFINITY;
    return this.#clock.now() + this.#lifetimeMs * (1 + Math.random() * LIFETIME_JITTER);
  }

  /** True once the clock reached `retireAt` (a value from {@link retireAt}). */
  isDue(retireAt: number): boolean {
    return this.limited && this.#clock.now() >= retireAt;
  }
}
