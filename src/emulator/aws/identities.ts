import { createHash } from 'node:crypto';

/** Who a key acts as, as GetCallerIdentity reports it and AccessDenied messages name it. */
export interface CallerIdentity {
  readonly account: string;
  /** `arn:aws:iam::<account>:user/<name>`, or `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
  readonly arn: string;
  /** `AIDA...` for a user, `AROA...:<session>` for an assumed role. */
  readonly userId: string;
}

/** What the endpoint knows of an authenticated caller. */
export interface Caller {
  readonly accessKeyId: string;
  readonly identity: CallerIdentity;
}

/**
 * The identities behind access keys, standing in for IAM: keys STS issued act as their assumed
 * role; every other key the emulator trusts acts as an IAM user of the emulator's account named
 * after the key (the emulator has no user names to give them).
 */
export class IdentityBook {
  readonly #assumed = new Map<string, CallerIdentity>();

  constructor(private readonly accountId: string) {}

  recordAssumed(accessKeyId: string, identity: CallerIdentity): void {
    this.#assumed.set(accessKeyId, identity);
  }

  isAssumedRole(accessKeyId: string): boolean {
    return this.#assumed.has(accessKeyId);
  }

  of(accessKeyId: string): CallerIdentity {
    return (
      this.#assumed.get(accessKeyId) ?? {
        account: this.accountId,
        arn: `arn:aws:iam::${this.accountId}:user/${accessKeyId}`,
        userId: uniqueId('AIDA', accessKeyId),
      }
    );
  }
}

/** A stable IAM-style unique id (`AIDA`/`AROA` + 17 characters of [A-Z2-7]) derived from `seed`. */
export function uniqueId(prefix: string, seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let id = prefix;
  for (let i = 0; id.length < prefix.length + 17; i += 1) id += BASE32[(digest[i] ?? 0) % 32];
  return id;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
