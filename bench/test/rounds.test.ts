import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareThroughput, localContender, roundOrder } from '../lib/rounds.js';

describe('roundOrder', () => {
  it('puts every contender in every position equally often over 2n rounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), (n) => {
        const items = Array.from({ length: n }, (_, i) => i);
        const counts = items.map(() => new Array<number>(n).fill(0));
        for (let round = 0; round < 2 * n; round++) {
          const order = roundOrder(items, round);
          expect([...order].sort()).toEqual(items);
          order.forEach((item, position) => counts[item]![position]!++);
        }
        for (const row of counts) expect(row).toEqual(new Array<number>(n).fill(2));
      }),
    );
  });
});

describe('compareThroughput', () => {
  it('finds a contender that does twice the work per operation about half as fast', async () => {
    // Busy work, so the ratio reflects CPU time rather than timer resolution.
    const spin = (iterations: number) => async () => {
      let x = 0;
      for (let i = 0; i < iterations; i++) x += Math.sqrt(i);
      return x;
    };
    const stats = await compareThroughput({
      contenders: [
        localContender('base', 'base', spin(20_000)),
        localContender('double', 'double', spin(40_000)),
      ],
      baseline: 'base',
      concurrency: 1,
      rounds: 5,
      sliceMs: 60,
      slices: 3,
      warmupMs: 30,
    });
    const double = stats.find((s) => s.name === 'double')!;
    expect(double.throughputRatio.median).toBeGreaterThan(0.35);
    expect(double.throughputRatio.median).toBeLessThan(0.65);
    expect(stats.find((s) => s.name === 'base')!.throughputRatio.median).toBe(1);
    expect(double.cpuRatio.median).toBeGreaterThan(1.5);
  });

  it('takes the same per-round ratios against every alsoAgainst contender', async () => {
    const spin = (iterations: number) => async () => {
      let x = 0;
      for (let i = 0; i < iterations; i++) x += Math.sqrt(i);
      return x;
    };
    const stats = await compareThroughput({
      contenders: [localContender('base', 'base', spin(20_000)), localContender('double', 'double', spin(40_000)), localContender('triple', 'triple', spin(60_000))],
      baseline: 'base',
      alsoAgainst: ['double'],
      concurrency: 1,
      rounds: 5,
      sliceMs: 60,
      slices: 3,
      warmupMs: 30,
    });
    const [base, double, triple] = ['base', 'double', 'triple'].map((name) => stats.find((s) => s.name === name)!);
    expect(double!.against!.double!.throughputRatio.median).toBe(1);
    expect(triple!.against!.double!.throughputRatio.median).toBeGreaterThan(0.5);
    expect(triple!.against!.double!.throughputRatio.median).toBeLessThan(0.85);
    expect(base!.against!.double!.throughputRatio.median).toBeGreaterThan(1.5);
    expect(triple!.against!.double!.cpuRatio.median).toBeGreaterThan(1.2);
  });

  it('refuses an alsoAgainst contender that is not a contender', async () => {
    await expect(
      compareThroughput({ contenders: [localContender('a', 'a', async () => 0)], baseline: 'a', alsoAgainst: ['c'], concurrency: 1, rounds: 1, sliceMs: 1, slices: 1, warmupMs: 0 }),
    ).rejects.toThrow(/baseline c/);
  });

  it('refuses a baseline that is not a contender', async () => {
    await expect(
      compareThroughput({ contenders: [localContender('a', 'a', async () => 0)], baseline: 'b', concurrency: 1, rounds: 1, sliceMs: 1, slices: 1, warmupMs: 0 }),
    ).rejects.toThrow(/baseline b/);
  });
});
