import { TOKEN_LIFETIME_SECONDS } from './signer.js';

/** When a token stops being handed out and when its replacement is due (epoch ms). */
export interface TokenWindow {
  /** The token's `X-Amz-Date`: signing time truncated to the second, as RDS reads it. */
  readonly issuedAt: number;
  /** When RDS stops accepting it: the earlier of issue + 15 min and the credentials' expiry. */
  readonly hardExpiresAt: number;
  /** `hardExpiresAt - margin`: the token is never handed out at or after this. */
  readonly expiresAt: number;
  /**
   * Background refresh is due: 80% through the usable life or two margins before its end, whichever
   * is earlier, but not before half the usable life.
   */
  readonly refreshAt: number;
}

/**
 * The usable window of a token signed at `signedAt` with credentials expiring at
 * `credentialExpiresAt` (undefined: long-term keys). `expiresAt <= issuedAt` means the
 * credentials expire too soon to sign anything usable.
 */
export function tokenWindow(signedAt: number, credentialExpiresAt: number | undefined, marginMs: number): TokenWindow {
  // Measured from the second in X-Amz-Date, not the millisecond we signed at: RDS cannot see more.
  const issuedAt = Math.floor(signedAt / 1000) * 1000;
  const hardExpiresAt = Math.min(issuedAt + TOKEN_LIFETIME_SECONDS * 1000, credentialExpiresAt ?? Number.POSITIVE_INFINITY);
  const expiresAt = hardExpiresAt - marginMs;
  const usable = Math.max(0, expiresAt - issuedAt);
  // Never before half the usable life: credentials that stay short-lived must not cause a refresh
  // at every call.
  const refreshAt = Math.max(issuedAt + Math.floor(usable / 2), Math.min(issuedAt + Math.floor(usable * 0.8), expiresAt - 2 * marginMs));
  return { issuedAt, hardExpiresAt, expiresAt, refreshAt };
}
