import { ConfigError } from '../errors.js';
import type { EmulatorCredentials } from './options.js';

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
