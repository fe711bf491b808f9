import { ConfigError } from '../errors.js';
import type { EmulatorCredentials } from './options.js';
import { sameSecret } from './sigv4-primitives.js';

/** What the registry knows about one access key id. */
export interface RegisteredKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string | undefined;
  /** Epoch milliseconds, on the emulator clock. */
  readonly expiresAt: number | undefined;
  readonly revoked: boolean;
}

/**
 * The access keys the emulator trusts, standing in for IAM: static keys from options or the
 * environment, keys added at run time (temporary credentials included) and revocations.
 */
export class KeyRegistry {
  readonly #keys = new Map<string, RegisteredKey>();

  constructor(initial: readonly EmulatorCredentials[] = []) {
    for (const credentials of initial) this.add(credentials);
  }

  /** Adds or replaces a key; adding a revoked key again makes it valid again. */
  add(credentials: EmulatorCredentials): void {
    if (!credentials.accessKeyId || !credentials.secretAccessKey) {
      throw new ConfigError('CONFIG_INVALID', 'emulator credentials: both accessKeyId and secretAccessKey are needed', { solutions: ['Pass { accessKeyId, secretAccessKey } (and sessionToken for temporary credentials).'] });
    }
    const expiresAt = credentials.expiresAt instanceof Date ? credentials.expiresAt.getTime() : credentials.expiresAt;
    this.#keys.set(credentials.accessKeyId, {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken || undefined,
      expiresAt,
      revoked: false,
    });
  }

  /** Refuses every later token signed with this key (sessions already open stay open, as on RDS). */
  revoke(accessKeyId: string): void {
    const key = this.#keys.get(accessKeyId);
    if (key) this.#keys.set(accessKeyId, { ...key, revoked: true });
  }

  get(accessKeyId: string): RegisteredKey | undefined {
    return this.#keys.get(accessKeyId);
  }

  get size(): number {
    return this.#keys.size;
  }
}

/** Why a key may not sign (a token or an AWS request): what both the RDS token check and the AWS endpoint refuse alike. */
export interface KeyRefusal {
  readonly reason: 'UNKNOWN_KEY' | 'KEY_REVOKED' | 'CREDENTIALS_EXPIRED' | 'SESSION_TOKEN_MISSING' | 'SESSION_TOKEN_UNEXPECTED' | 'SESSION_TOKEN_MISMATCH';
  readonly detail: string;
}

/** The key registered as `accessKeyId` if it may sign at `now` (known, not revoked, not expired), else why not. */
export function usableKey(keys: KeyRegistry, accessKeyId: string, now: number): RegisteredKey | KeyRefusal {
  const key = keys.get(accessKeyId);
  if (!key) return { reason: 'UNKNOWN_KEY', detail: `access key ${accessKeyId} is not known to the emulator` };
  if (key.revoked) return { reason: 'KEY_REVOKED', detail: `access key ${accessKeyId} has been revoked` };
  if (key.expiresAt !== undefined && now >= key.expiresAt) {
    return { reason: 'CREDENTIALS_EXPIRED', detail: `the credentials of ${accessKeyId} expired at ${new Date(key.expiresAt).toISOString()}` };
  }
  return key;
}

/**
 * Why the session token `presented` with `key` (`carrier`: what carries it, for the detail) is
 * refused, compared in constant time; undefined when it is the key's own (or neither has one).
 */
export function sessionTokenRefusal(key: RegisteredKey, presented: string | undefined, carrier: 'token' | 'request'): KeyRefusal | undefined {
  const { accessKeyId, sessionToken } = key;
  if (sessionToken !== undefined && presented === undefined) {
    return { reason: 'SESSION_TOKEN_MISSING', detail: `access key ${accessKeyId} is temporary and the ${carrier} carries no session token` };
  }
  if (sessionToken === undefined && presented !== undefined) {
    return { reason: 'SESSION_TOKEN_UNEXPECTED', detail: `access key ${accessKeyId} is not temporary but the ${carrier} carries a session token` };
  }
  if (sessionToken !== undefined && presented !== undefined && !sameSecret(sessionToken, presented)) {
    return { reason: 'SESSION_TOKEN_MISMATCH', detail: `the session token does not belong to access key ${accessKeyId}` };
  }
  return undefined;
}
