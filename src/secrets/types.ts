import type { SecretFetchReason } from '../events.js';

/** The login a secret holds: what one new session logs in with. */
export interface SecretLogin {
  readonly user: string;
  readonly password: string;
  /** The secret version it came from (AWSCURRENT when fetched). */
  readonly versionId: string;
}

/**
 * What a connection knows of its secret, safe to log or serialise: never a value. Times are
 * epoch milliseconds of the connection's clock.
 * @public
 */
export interface SecretState {
  /**
   * `empty`: never fetched; `valid`: a login is being handed out; `fetching`: a fetch is in flight
   * (a login already fetched is handed out meanwhile); `failed`: no login and the last fetch failed.
   */
  status: 'empty' | 'valid' | 'fetching' | 'failed';
  secretId: string;
  region: string;
  /** The version the current login came from. */
  versionId?: string;
  fetchedAt?: number;
  /** When the login is fetched again (secrets_manager.refresh after the fetch). */
  refreshAt?: number;
  /** GetSecretValue calls made since the connection opened. */
  fetches: number;
  consecutiveFailures: number;
  /** The most recent failure; kept after a later success (compare `at` with `fetchedAt`). */
  lastError?: { code: string; message: string; at: number; reason: SecretFetchReason };
}
