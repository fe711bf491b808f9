import type { IamClock } from './types.js';

/** @public */
export interface RateLimiterOptions {
  /** Sustained admissions per second (> 0). */
  readonly ratePerSecond: number;
  /** Admissions allowed back-to-back after a quiet period. Default: one second's worth (min 1). */
  readonly burst?: number;
  /** Default: the system clock. */
  readonly clock?: IamClock;
  /** Waits `ms`; tests pass one that advances their clock. Default: a timer. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** @public */
export interface RateLimiter {
  /** Resolves when the caller may proceed, with the milliseconds it waited; waits rather than fails. */
  acquire(signal?: AbortSignal): Promise<number>;
  readonly ratePerSecond: number;
}

const systemClock: IamClock = { now: () => Date.now() };

function timerSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

class TokenBucket implements RateLimiter {
  #rate: number;
  readonly #burst: number | undefined;
  readonly #clock: IamClock;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  // GCRA form of a token bucket: the "theoretical arrival time" of the next admission. Each caller
  // reserves its slot synchronously, so concurrent callers are admitted in call order without a queue.
  #tat = Number.NEGATIVE_INFINITY;

  constructor(options: RateLimiterOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError(`ratePerSecond must be a positive number, got ${options.ratePerSecond}`);
    }
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst;
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep ?? timerSleep;
  }

  get ratePerSecond(): number {
    return this.#rate;
  }

  /** Lowers the rate (a shared endpoint limiter takes the strictest configured rate). */
  limitTo(ratePerSecond: number): void {
    if (ratePerSecond > 0 && ratePerSecond < this.#rate) this.#rate = ratePerSecond;
  }

  async acquire(signal?: AbortSignal): Promise<number> {
    const interval = 1000 / this.#rate;
    const burst = Math.max(1, Math.floor(this.#burst ?? this.#rate));
    const now = this.#clock.now();
    const slot = Math.max(this.#tat, now);
    this.#tat = slot + interval;
    const wait = Math.max(0, Math.ceil(slot - (burst - 1) * interval - now));
    if (wait > 0) await this.#sleep(wait, signal);
    else if (signal?.aborted) throw signal.reason;
    return wait;
  }
}

/** A token bucket admitting `ratePerSecond` on average and `burst` at once. @public */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  return new TokenBucket(options);
}

/** Default cap of new IAM connections per second per endpoint (RDS throttles at 200/s per instance). */
export const DEFAULT_IAM_CONNECTS_PER_SECOND = 50;

const shared = new Map<string, TokenBucket>();

/**
 * The process-wide limiter of new IAM connections to one endpoint (`host:port`). Every pool to the
 * same endpoint shares it; when they ask for different rates, the lowest wins.
 * @public
 */
export function endpointRateLimiter(endpoint: string, ratePerSecond: number = DEFAULT_IAM_CONNECTS_PER_SECOND): RateLimiter {
  const key = endpoint.toLowerCase();
  const existing = shared.get(key);
  if (existing) {
    existing.limitTo(ratePerSecond);
    return existing;
  }
  const limiter = new TokenBucket({ ratePerSecond });
  shared.set(key, limiter);
  return limiter;
}
