import { describe, expect, it } from 'vitest';
import { keySequence, runClosedLoop } from '../lib/load.js';

describe('runClosedLoop', () => {
  it('keeps exactly `concurrency` operations in flight and numbers every operation once', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    const result = await runClosedLoop(
      async (sequence) => {
        seen.push(sequence);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
      },
      { concurrency: 7, durationMs: 30 },
    );
    expect(peak).toBe(7);
    expect(result.ops).toBe(seen.length);
    expect(new Set(seen).size).toBe(seen.length);
    expect(result.latenciesMs).toHaveLength(result.ops);
  });

  it('fails the measurement when an operation fails', async () => {
    await expect(runClosedLoop(async () => Promise.reject(new Error('boom')), { concurrency: 2, durationMs: 10 })).rejects.toThrow('boom');
  });
});

describe('keySequence', () => {
  it('draws keys in 1..max, the same for the same seed', () => {
    const a = keySequence(10_000, 10_000, 3);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...a)).toBeLessThanOrEqual(10_000);
    expect([...keySequence(50, 10_000, 3)]).toEqual([...a.slice(0, 50)]);
    // roughly uniform: every tenth of the key space gets 7%..13% of the draws
    const buckets = new Array<number>(10).fill(0);
    for (const key of a) buckets[Math.floor((key - 1) / 1000)]!++;
    for (const count of buckets) expect(count).toBeGreaterThan(700);
  });
});
