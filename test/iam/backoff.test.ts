import { describe, expect, it } from 'vitest';
import { backoffDelay, createBackoff } from '../../src/iam/backoff.js';

describe('backoffDelay', () => {
  it('doubles from the base, half fixed and half jitter, up to the cap', () => {
    const low = { baseMs: 1000, maxMs: 30_000, random: () => 0 };
    const high = { baseMs: 1000, maxMs: 30_000, random: () => 0.999999 };
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => backoffDelay(attempt, low))).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => backoffDelay(attempt, high))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(backoffDelay(3, { baseMs: 1000, random: () => 0.5 })).toBe(3000);
  });

  it('is deterministic with an injected random and spreads with a varying one', () => {
    const values = [0.1, 0.9, 0.4];
    let i = 0;
    const backoff = createBackoff({ baseMs: 200, factor: 3, maxMs: 10_000, random: () => values[i++ % values.length] ?? 0 });
    expect([backoff.delay(1), backoff.delay(1), backoff.delay(2)]).toEqual([110, 190, 420]);
  });

  it('never exceeds the cap nor goes below half a step, whatever the random source returns', () => {
    for (const r of [-5, 0, 0.3, 1, 7, Number.NaN]) {
      const delay = backoffDelay(40, { baseMs: 1000, maxMs: 5000, random: () => r });
      expect(delay).toBeGreaterThanOrEqual(2500);
      expect(delay).toBeLessThanOrEqual(5000);
    }
  });
});
