/** A clock that only moves when told to. */
export interface FakeClock {
  now(): number;
  advance(ms: number): void;
  set(ms: number): void;
}

/** Starts at a fixed instant with a sub-second part, so second truncation in X-Amz-Date is exercised. */
export const FAKE_EPOCH = Date.UTC(2026, 0, 15, 12, 0, 0, 250);

export function fakeClock(start: number = FAKE_EPOCH): FakeClock {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
    set: (ms) => {
      current = ms;
    },
  };
}
