import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { median, quantile, summarize } from '../lib/stats.js';

describe('quantile', () => {
  it('interpolates between closest ranks like numpy (linear method)', () => {
    // numpy.quantile([1, 2, 3, 4], [0.25, 0.5, 0.99]) -> [1.75, 2.5, 3.97]
    expect(quantile([4, 1, 3, 2], 0.25)).toBeCloseTo(1.75, 10);
    expect(median([4, 1, 3, 2])).toBeCloseTo(2.5, 10);
    expect(quantile([4, 1, 3, 2], 0.99)).toBeCloseTo(3.97, 10);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('never mutates its input and stays within min..max, monotone in q', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1 }), fc.double({ min: 0, max: 1, noNaN: true }), (values, q) => {
        const copy = [...values];
        const at = quantile(values, q);
        expect(values).toEqual(copy);
        expect(at).toBeGreaterThanOrEqual(Math.min(...values));
        expect(at).toBeLessThanOrEqual(Math.max(...values));
        expect(quantile(values, Math.min(1, q + 0.1))).toBeGreaterThanOrEqual(at);
      }),
    );
  });
});

describe('summarize', () => {
  it('reports the median, quartiles and extremes of per-round values', () => {
    const s = summarize([10, 2, 8, 4, 6]);
    expect(s).toEqual({ median: 6, p25: 4, p75: 8, min: 2, max: 10, n: 5 });
  });
});
