import { describe, expect, it } from 'vitest';
import { createRateLimiter, endpointRateLimiter } from '../../src/iam/rate-limit.js';
import { fakeClock } from '../support/fake-clock.js';

/** A limiter on a fake clock whose sleep advances that clock, recording every wait. */
function limiterOnFakeClock(ratePerSecond: number, burst?: number) {
  const clock = fakeClock(0);
  const sleeps: number[] = [];
  const limiter = createRateLimiter({
    ratePerSecond,
    ...(burst === undefined ? {} : { burst }),
    clock,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { clock, sleeps, limiter };
}

describe('createRateLimiter', () => {
  it('admits a burst at once, then one every 1/rate seconds, waiting instead of failing', async () => {
    const { limiter, sleeps } = limiterOnFakeClock(10, 3);
    const waits = await Promise.all(Array.from({ length: 7 }, () => limiter.acquire()));
    // 3 immediately, then every 100 ms measured from the same instant: 100, 200, 300, 400.
    expect(waits).toEqual([0, 0, 0, 100, 200, 300, 400]);
    expect(sleeps).toEqual([100, 200, 300, 400]);
  });

  it('refills with the passage of clock time, never beyond the burst', async () => {
    const { limiter, clock } = limiterOnFakeClock(5, 2);
    expect(await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()])).toEqual([0, 0, 200]);
    clock.advance(10_000); // a long quiet period refills only `burst` admissions
    expect(await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()])).toEqual([0, 0, 200]);
  });

  it('holds 200 concurrent connects to the configured rate over simulated time', async () => {
    const { limiter, clock } = limiterOnFakeClock(50);
    const admittedAt: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        const waited = await limiter.acquire();
        admittedAt.push(clock.now() + waited);
      }),
    );
    admittedAt.sort((a, b) => a - b);
    // In any one-second window no more than burst (50) + rate (50) are admitted; the last one
    // comes after (200 - 50) / 50 = 3 s.
    for (const start of admittedAt) {
      expect(admittedAt.filter((t) => t >= start && t < start + 1000).length).toBeLessThanOrEqual(100);
    }
    expect(admittedAt.at(-1)).toBe(3000);
  });

  it('rejects a waiting caller when its signal aborts, and a non-positive rate at once', async () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1 });
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('connect timeout'));
    await expect(waiting).rejects.toThrow('connect timeout');
    expect(() => createRateLimiter({ ratePerSecond: 0 })).toThrow(RangeError);
  });
});

describe('endpointRateLimiter', () => {
  it('is one limiter per endpoint per process, at the strictest requested rate', () => {
    const a = endpointRateLimiter('DB.example.internal:5432', 80);
    const b = endpointRateLimiter('db.example.internal:5432', 20);
    const other = endpointRateLimiter('db.example.internal:3306', 80);
    expect(b).toBe(a);
    expect(a.ratePerSecond).toBe(20);
    expect(other).not.toBe(a);
    expect(other.ratePerSecond).toBe(80);
  });
});
