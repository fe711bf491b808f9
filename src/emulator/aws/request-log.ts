import type { AwsDenyReason } from './sigv4-headers.js';

/**
 * One request to the local AWS endpoint, answered or refused. Never holds a secret value, a
 * secret key, a session token or a signature.
 * @public
 */
export interface AwsRequestRecord {
  /** Emulator time of the answer. */
  readonly time: Date;
  readonly service: 'secretsmanager' | 'sts';
  /** The operation (`GetSecretValue`, `AssumeRole`...), empty when the request named none. */
  readonly action: string;
  /** The signing key, when the request was signed (also when it was refused). */
  readonly accessKeyId: string | undefined;
  readonly ok: boolean;
  /** The HTTP status answered. */
  readonly status: number;
  /** The AWS error code answered, when not ok. */
  readonly errorCode: string | undefined;
  /** Why the signature was refused, when it was. */
  readonly reason: AwsDenyReason | undefined;
  /** A sentence for humans when not ok (the exact cause of a refused signature, which the caller is not told). */
  readonly detail: string | undefined;
}

const MAX_ENTRIES = 10_000;

/** The endpoint's log, oldest first, the most recent 10000 kept. */
export class AwsRequestLog {
  readonly #entries: AwsRequestRecord[] = [];

  record(entry: AwsRequestRecord): void {
    this.#entries.push(Object.freeze(entry));
    if (this.#entries.length > MAX_ENTRIES) this.#entries.splice(0, this.#entries.length - MAX_ENTRIES);
  }

  entries(): readonly AwsRequestRecord[] {
    return [...this.#entries];
  }
}
