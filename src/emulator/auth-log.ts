import type { DenyReason } from './sigv4-verify.js';

/**
 * One authentication attempt. Never holds the token, its signature or a secret.
 * @public
 */
export interface AuthAttempt {
  /** Emulator time of the decision. */
  readonly time: Date;
  readonly protocol: 'postgres' | 'mysql';
  readonly user: string;
  /** From the token's credential scope, when there was a token to read it from. */
  readonly accessKeyId: string | undefined;
  /** The `host:port` the token names, when there was one. */
  readonly signedHost: string | undefined;
  /**
   * A fingerprint of the presented token (16 hex characters of its SHA-256), when there was one:
   * tells which attempts presented the same token without recording the token.
   */
  readonly tokenId?: string | undefined;
  /** `passthrough`: not an IAM user; the upstream server checks the password. */
  readonly decision: 'allow' | 'deny' | 'passthrough';
  /** `OK` when allowed, `PASSTHROUGH`, or why it was denied. */
  readonly reason: 'OK' | 'PASSTHROUGH' | DenyReason;
  /** A sentence for humans (no secrets). */
  readonly detail: string;
  readonly remoteAddress: string;
  readonly tls: boolean;
  /** On a cluster: the endpoint dialled (an instance's, the cluster's or its reader endpoint's name). */
  readonly endpoint?: string;
}

/**
 * Every authentication attempt the emulator decided, oldest first (the most recent 10000 are kept).
 * @public
 */
export interface AuthLog {
  entries(): readonly AuthAttempt[];
  /** Calls `listener` for each later attempt; returns the unsubscribe function. */
  subscribe(listener: (attempt: AuthAttempt) => void): () => void;
  /** Resolves with the first attempt (already recorded or later) matching `predicate`, or rejects after `timeoutMillis`. */
  waitFor(predicate: (attempt: AuthAttempt) => boolean, timeoutMillis?: number): Promise<AuthAttempt>;
  clear(): void;
}

const MAX_ENTRIES = 10_000;

/** The in-memory {@link AuthLog}; `record` is for the front ends. */
export class MemoryAuthLog implements AuthLog {
  readonly #entries: AuthAttempt[] = [];
  readonly #listeners = new Set<(attempt: AuthAttempt) => void>();

  record(attempt: AuthAttempt): void {
    this.#entries.push(Object.freeze(attempt));
    if (this.#entries.length > MAX_ENTRIES) this.#entries.splice(0, this.#entries.length - MAX_ENTRIES);
    for (const listener of [...this.#listeners]) {
      try {
        listener(attempt);
      } catch {
        // A faulty listener must not break the session that is authenticating.
      }
    }
  }

  entries(): readonly AuthAttempt[] {
    return [...this.#entries];
  }

  subscribe(listener: (attempt: AuthAttempt) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  waitFor(predicate: (attempt: AuthAttempt) => boolean, timeoutMillis = 5000): Promise<AuthAttempt> {
    const found = this.#entries.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`no matching authentication attempt within ${timeoutMillis} ms`));
      }, timeoutMillis);
      const unsubscribe = this.subscribe((attempt) => {
        if (!predicate(attempt)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(attempt);
      });
    });
  }

  clear(): void {
    this.#entries.length = 0;
  }
}
