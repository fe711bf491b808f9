import { describe, expect, it } from 'vitest';
import { tokenWindow } from '../../src/iam/lifetime.js';

const T = Date.UTC(2026, 0, 15, 12, 0, 0);
const MIN = 60_000;

describe('tokenWindow', () => {
  it('long-term keys: 15 minutes from X-Amz-Date, minus the margin; refresh 80% in', () => {
    // Signed 750 ms into the second: RDS counts from the whole second in X-Amz-Date.
    const w = tokenWindow(T + 750, undefined, MIN);
    expect(w).toEqual({ issuedAt: T, hardExpiresAt: T + 15 * MIN, expiresAt: T + 14 * MIN, refreshAt: T + 0.8 * 14 * MIN });
  });

  it('credentials expiring in 5 minutes cap the token; refresh two margins before the end', () => {
    const w = tokenWindow(T, T + 5 * MIN, MIN);
    expect(w).toEqual({ issuedAt: T, hardExpiresAt: T + 5 * MIN, expiresAt: T + 4 * MIN, refreshAt: T + 2 * MIN });
  });

  it('a larger margin moves both ends earlier', () => {
    const w = tokenWindow(T, undefined, 3 * MIN);
    expect(w.expiresAt).toBe(T + 12 * MIN);
    expect(w.refreshAt).toBe(T + 6 * MIN); // min(0.8 * 12, 12 - 6) = 6 minutes
  });

  it('short windows refresh at half their usable life, not at once', () => {
    const w = tokenWindow(T, T + 4 * MIN, MIN);
    expect(w.expiresAt).toBe(T + 3 * MIN);
    expect(w.refreshAt).toBe(T + 1.5 * MIN); // max(3 / 2, min(0.8 * 3, 3 - 2)) minutes
  });

  it('credentials inside the margin give a window that is already over', () => {
    const w = tokenWindow(T, T + 30_000, MIN);
    expect(w.expiresAt).toBeLessThanOrEqual(w.issuedAt);
    expect(w.refreshAt).toBe(T);
  });
});
