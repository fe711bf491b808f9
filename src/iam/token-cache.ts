import type { TokenWindow } from './lifetime.js';
import type { SigningTarget } from './signer.js';

/** A signed token and what it is good for. `token` is a secret: never log or serialise an entry. */
export interface CachedToken extends TokenWindow {
  readonly token: string;
  readonly key: string;
  readonly credentialExpiresAt: number | undefined;
  readonly credentialSource: string;
  readonly accessKeyIdSuffix: string;
  readonly assumedRoleArn?: string | undefined;
  readonly credentialProfile?: string | undefined;
}

/**
 * The cache key: signing host, port, user, region and credential identity (access key id plus a
 * hash of the session token). Two credential sets never share a token, unlike the AWS wrapper's
 * `region:host:port:user` key.
 */
export function tokenCacheKey(target: SigningTarget, identityKey: string): string {
  return JSON.stringify([target.host, target.port, target.user, target.region, identityKey]);
}

/** Tokens by {@link tokenCacheKey}; an entry is only returned while `now < expiresAt`. */
export class TokenCache {
  readonly #entries = new Map<string, CachedToken>();

  /** The entry for `key` if it may still be handed out at `now`; expired entries are dropped. */
  get(key: string, now: number): CachedToken | undefined {
    const entry = this.#entries.get(key);
    if (entry && now >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(entry: CachedToken): void {
    this.#entries.set(entry.key, entry);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops every entry that can no longer be handed out. */
  prune(now: number): void {
    for (const [key, entry] of this.#entries) if (now >= entry.expiresAt) this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  toJSON(): { size: number } {
    return { size: this.#entries.size };
  }
}
