import type { IamTokenProvider, TokenProviderEvent } from './types.js';

/** A provider held by one pool: its token events reach `listener`; `release()` when the pool closes. */
export interface HeldProvider {
  readonly provider: IamTokenProvider;
  release(): void;
}

/**
 * The IAM token providers of one `Database`, one per signing host, port, user, region and
 * credentials (profile, role), held by every pool that signs for that endpoint with those
 * credentials (two connections to one cluster, a connection and the instance pools of another):
 * one token cache and one single-flight refresh per endpoint and credentials.
 * A provider closes when the last pool holding it does.
 */
export class SharedTokenProviders {
  readonly #entries = new Map<string, { provider: IamTokenProvider; listeners: Set<(event: TokenProviderEvent) => void> }>();

  /** The provider for `key`, created by `create` (whose events go to every holder) if none is held. */
  acquire(key: string, create: (onEvent: (event: TokenProviderEvent) => void) => IamTokenProvider, listener: (event: TokenProviderEvent) => void): HeldProvider {
    let entry = this.#entries.get(key);
    if (!entry) {
      const listeners = new Set<(event: TokenProviderEvent) => void>();
      // created before it is stored: a provider that cannot be created leaves nothing behind
      const provider = create((event) => {
        for (const each of listeners) each(event);
      });
      entry = { provider, listeners };
      this.#entries.set(key, entry);
    }
    const held = entry;
    const mine = (event: TokenProviderEvent): void => listener(event);
    held.listeners.add(mine);
    let released = false;
    return {
      provider: held.provider,
      release: () => {
        if (released) return;
        released = true;
        held.listeners.delete(mine);
        if (held.listeners.size > 0) return;
        this.#entries.delete(key);
        held.provider.close();
      },
    };
  }
}

/**
 * The key of a signing endpoint, user and credentials (`credentialsKey`: `ConnectionCredentials.key`),
 * so two connections that assume different roles, or read different profiles, never share a
 * provider or a token.
 */
export function sharedProviderKey(iam: { readonly signingHost: string; readonly signingPort: number; readonly user: string; readonly region: string }, credentialsKey = 'default'): string {
  return JSON.stringify([iam.signingHost.toLowerCase(), iam.signingPort, iam.user, iam.region, credentialsKey]);
}
