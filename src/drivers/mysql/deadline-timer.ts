/** Something with a deadline in `Date.now()` time. */
export interface HasDeadline {
  readonly deadline: number;
}

/**
 * One timer for every waiter of a pool, armed for the earliest deadline, instead of a timer
 * per waiter: a full pool queues a waiter per query, and a setTimeout/clearTimeout pair each
 * showed up in profiles (timer objects, GC). Waiters come in FIFO order with the same timeout,
 * so the earliest deadline is almost always the oldest waiter's; the timer firing for a waiter
 * already served just re-arms for the next.
 */
export class DeadlineTimer<T extends HasDeadline> {
  readonly #waiting = new Set<T>();
  readonly #onExpired: (item: T) => void;
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(onExpired: (item: T) => void) {
    this.#onExpired = onExpired;
  }

  /** Starts watching `item`; `onExpired` gets it once its deadline has passed, unless removed first. */
  add(item: T): void {
    this.#waiting.add(item);
    if (item.deadline < this.#armedFor) this.#arm(item.deadline);
  }

  /** Stops watching `item`. */
  delete(item: T): void {
    if (!this.#waiting.delete(item) || this.#waiting.size > 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(this.#fire, Math.max(0, at - Date.now()));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (const item of this.#waiting) {
      if (item.deadline > now) continue;
      this.#waiting.delete(item);
      this.#onExpired(item);
    }
    // what is left (or was added meanwhile) and has no timer yet
    let next = Number.POSITIVE_INFINITY;
    for (const item of this.#waiting) if (item.deadline < next) next = item.deadline;
    if (next < this.#armedFor) this.#arm(next);
  };
}
