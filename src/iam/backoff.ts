/** @public */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter. Default 1000. */
  readonly baseMs?: number;
  /** Upper bound of any delay. Default 30000. */
  readonly maxMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** Random source in [0, 1). Default `Math.random`; tests pass a fixed one. */
  readonly random?: () => number;
}

/**
 * Delay before retry number `attempt` (1-based): "equal jitter", half of the exponential step
 * fixed and half random, so retries from many processes spread out yet never come back-to-back.
 * The result lies in [step / 2, step] with step = min(maxMs, baseMs * factor^(attempt - 1)).
 * @public
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const baseMs = options.baseMs ?? 1000;
  const maxMs = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const random = options.random ?? Math.random;
  const step = Math.min(maxMs, baseMs * factor ** Math.max(0, attempt - 1));
  const drawn = random();
  const jitter = Number.isFinite(drawn) ? Math.min(Math.max(drawn, 0), 1) : 0.5;
  return Math.round(step / 2 + (step / 2) * jitter);
}

/** A backoff policy bound to its options. @public */
export interface Backoff {
  delay(attempt: number): number;
}

/** @public */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  return { delay: (attempt) => backoffDelay(attempt, options) };
}
