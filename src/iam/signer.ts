import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { awsSdkMissingError } from './errors.js';
import type { AwsCredentialIdentity } from './types.js';

/** What a token is signed for. */
export interface SigningTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
}

/** The lifetime RDS accepts at most; `X-Amz-Expires` above it is rejected. */
export const TOKEN_LIFETIME_SECONDS = 900;

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 (or HMAC-SHA-256 when given a secret) in the shape SignatureV4 expects, from node:crypto. */
class NodeSha256 {
  readonly #secret: SourceData | undefined;
  #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#secret = secret;
    this.#hash = this.#create();
  }

  #create(): Hash | Hmac {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.#secret));
  }

  update(data: Uint8Array): void {
    this.#hash.update(toBuffer(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }

  reset(): void {
    this.#hash = this.#create();
  }
}

// The same escaping SigV4 (and rds-signer's URL formatting) uses: RFC 3986 unreserved only.
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

let signatureModule: Promise<typeof import('@smithy/signature-v4')> | undefined;

function loadSignatureV4(): Promise<typeof import('@smithy/signature-v4')> {
  signatureModule ??= import('@smithy/signature-v4').catch((error: unknown) => {
    signatureModule = undefined;
    throw awsSdkMissingError('@smithy/signature-v4', error);
  });
  return signatureModule;
}

/** Lower-cased, without a trailing dot: RDS signs for its own (lower-case) endpoint name. */
export function normaliseSigningHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * An RDS IAM authentication token: a SigV4 presigned `GET https://host:port/?Action=connect&DBUser=user`
 * for service `rds-db`, valid 900 s from `signingDate`, with the scheme removed. Byte for byte what
 * `@aws-sdk/rds-signer` produces, but with the signing date given rather than read from `Date`.
 */
export async function signAuthToken(target: SigningTarget, credentials: AwsCredentialIdentity, signingDate: Date): Promise<string> {
  const { SignatureV4 } = await loadSignatureV4();
  const signer = new SignatureV4({ service: 'rds-db', region: target.region, credentials, sha256: NodeSha256 });
  const hostPort = `${target.host}:${target.port}`;
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: target.host,
      port: target.port,
      path: '/',
      query: { Action: 'connect', DBUser: target.user },
      headers: { host: hostPort },
    },
    { expiresIn: TOKEN_LIFETIME_SECONDS, signingDate },
  );
  const params = presigned.query ?? {};
  const query = Object.keys(params)
    .sort()
    .map((key) => {
      const value = params[key];
      return `${escapeUri(key)}=${escapeUri(typeof value === 'string' ? value : (value ?? []).join(','))}`;
    })
    .join('&');
  return `${hostPort}/?${query}`;
}

/** The signing time in a token's `X-Amz-Date` (epoch ms), or undefined if it has none. */
export function tokenSigningTime(token: string): number | undefined {
  const match = /[?&]X-Amz-Date=(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(token);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}
