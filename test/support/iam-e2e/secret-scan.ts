// What the secret-leak scans search for: every token that could have been signed (computed
// independently, with the AWS SDK's own signer) and every piece of every secret handed out.
import { createHash } from 'node:crypto';
import { Signer } from '@aws-sdk/rds-signer';
import { vi } from 'vitest';
import { IAM_USER, RDS_HOST, REGION, type TestCredentials } from './rds.js';

/** The token the AWS SDK's signer makes for `credentials` at instant `at`, for RDS_HOST:`port` and IAM_USER. */
export async function expectedToken(credentials: TestCredentials, port: number, at: number): Promise<string> {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(at);
    const { accessKeyId, secretAccessKey, sessionToken } = credentials;
    return await new Signer({ hostname: RDS_HOST, port, username: IAM_USER, region: REGION, credentials: { accessKeyId, secretAccessKey, sessionToken } }).getAuthToken();
  } finally {
    vi.useRealTimers();
  }
}

/** The emulator's fingerprints (`AuthAttempt.tokenId`) of `tokens`. */
export function tokenFingerprints(tokens: Iterable<string>): Set<string> {
  return new Set([...tokens].map((token) => createHash('sha256').update(token).digest('hex').slice(0, 16)));
}

/** The needles of a secret scan, each with what it is. A leak of part of a secret is a leak. */
export class SecretNeedles {
  readonly #needles = new Map<string, string>();

  /** `secret` whole when short, else every 16-character piece (half-overlapping), raw and percent-encoded as it appears inside a token. */
  add(secret: string, what: string): this {
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      if (form.length <= 16) this.#needles.set(form, what);
      for (let i = 0; i + 16 <= form.length; i += 8) this.#needles.set(form.slice(i, i + 16), what);
    }
    return this;
  }

  /** The secret key and session token of each credential set. */
  addCredentials(issued: readonly TestCredentials[]): this {
    for (const credentials of issued) {
      this.add(credentials.secretAccessKey, `secret key of ${credentials.accessKeyId}`);
      this.add(credentials.sessionToken, `session token of ${credentials.accessKeyId}`);
    }
    return this;
  }

  /** Each token whole, and the pieces of its signature. */
  addTokens(tokens: Iterable<string>): this {
    for (const token of tokens) {
      this.#needles.set(token, 'token');
      this.add(new URL(`https://${token}`).searchParams.get('X-Amz-Signature') ?? token, 'token signature');
    }
    return this;
  }

  /** One line per needle found in `texts`: what it is, and the start of the first text holding it. */
  findIn(texts: readonly string[]): string[] {
    const findings: string[] = [];
    for (const [needle, what] of this.#needles) {
      const found = texts.find((text) => text.includes(needle));
      if (found !== undefined) findings.push(`${what} in: ${found.slice(0, 200)}`);
    }
    return findings;
  }
}
