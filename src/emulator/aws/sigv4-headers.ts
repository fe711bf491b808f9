import type { IncomingHttpHeaders } from 'node:http';
import { sessionTokenRefusal, usableKey, type KeyRegistry, type RegisteredKey } from '../key-registry.js';
import { deriveSigningKey, escapeUri, hmacHex, parseAmzDate, sameHex, sha256Hex } from '../sigv4-primitives.js';
import type { DenyReason } from '../sigv4-verify.js';

/**
 * Why the local AWS endpoint refused a request's signature; stable, for tests and the request log.
 * Shares the token check's names where the cause is the same.
 * @public
 */
export type AwsDenyReason =
  | Extract<DenyReason, 'WRONG_SERVICE' | 'WRONG_REGION' | 'UNKNOWN_KEY' | 'KEY_REVOKED' | 'CREDENTIALS_EXPIRED' | 'SESSION_TOKEN_MISSING' | 'SESSION_TOKEN_MISMATCH' | 'SESSION_TOKEN_UNEXPECTED' | 'SIGNATURE_MISMATCH'>
  /** No `Authorization` header. */
  | 'MISSING_AUTHENTICATION'
  /** An `Authorization` header that is not a complete AWS4-HMAC-SHA256 one, or leaves required headers unsigned. */
  | 'INCOMPLETE_SIGNATURE'
  /** `X-Amz-Date` more than 5 minutes before the emulator clock. */
  | 'REQUEST_EXPIRED'
  /** `X-Amz-Date` more than 5 minutes after the emulator clock. */
  | 'REQUEST_NOT_YET_VALID'
  /** `X-Amz-Content-SHA256` is not the hash of the body that came. */
  | 'PAYLOAD_HASH_MISMATCH';

/** One HTTP request as it came off the wire. */
export interface SignedRequest {
  readonly method: string;
  /** The request target as sent (`/path?query`, still percent-encoded). */
  readonly url: string;
  /** Node's lowercased headers. */
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface SignatureCheck {
  /** The signing name the request must be scoped to (`secretsmanager`, `sts`). */
  readonly service: string;
  readonly region: string;
  /** Emulator time, epoch milliseconds. */
  readonly now: number;
  readonly keys: KeyRegistry;
}

export type SignatureVerification =
  | { readonly ok: true; readonly key: RegisteredKey }
  | {
      readonly ok: false;
      readonly reason: AwsDenyReason;
      /** Why, for the request log; never holds a secret, a session token or a signature. */
      readonly detail: string;
      readonly accessKeyId?: string;
      /** The signed date, for the services' "Signature expired" messages. */
      readonly signedAt?: number;
    };

/** AWS refuses requests signed more than 5 minutes away from its clock. */
export const MAX_REQUEST_SKEW_MILLIS = 5 * 60_000;

/**
 * Verifies a request signed with SigV4 in the `Authorization` header the way AWS services do:
 * the credential scope must name this region and service, the key must be known, not revoked
 * and not expired on the emulator clock, a temporary key must come with its own session token,
 * `X-Amz-Date` must be within 5 minutes of the emulator clock, and the signature is recomputed
 * over the canonical request (method, path, query, the signed headers, the payload hash) with the
 * key's secret and compared in constant time.
 */
export function verifySignedRequest(request: SignedRequest, check: SignatureCheck): SignatureVerification {
  const authorization = header(request.headers, 'authorization');
  if (authorization === undefined) return deny('MISSING_AUTHENTICATION', 'the request has no Authorization header');
  const parsed = parseAuthorization(authorization);
  if (typeof parsed === 'string') return deny('INCOMPLETE_SIGNATURE', parsed);
  const { accessKeyId, scopeDate, region, service, signedHeaders, signature } = parsed;
  const refuse = (reason: AwsDenyReason, detail: string, signedAt?: number): SignatureVerification => deny(reason, detail, accessKeyId, signedAt);

  const amzDate = header(request.headers, 'x-amz-date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) return refuse('INCOMPLETE_SIGNATURE', 'the request has no valid X-Amz-Date header (YYYYMMDDTHHMMSSZ)');
  if (amzDate.slice(0, 8) !== scopeDate) return refuse('INCOMPLETE_SIGNATURE', `the credential scope date ${scopeDate} is not the date of X-Amz-Date`);
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) return refuse('INCOMPLETE_SIGNATURE', `the ${required} header is not among the SignedHeaders`);
  }
  for (const present of ['x-amz-security-token', 'x-amz-content-sha256', 'x-amz-target']) {
    if (header(request.headers, present) !== undefined && !signedHeaders.includes(present)) {
      return refuse('INCOMPLETE_SIGNATURE', `the ${present} header is sent but not signed`);
    }
  }
  if (region !== check.region) return refuse('WRONG_REGION', `the request is signed for region ${region}, this endpoint is in ${check.region}`);
  if (service !== check.service) return refuse('WRONG_SERVICE', `the request is signed for service "${service}", not "${check.service}"`);

  const key = usableKey(check.keys, accessKeyId, check.now);
  if ('reason' in key) return refuse(key.reason, key.detail);
  const sessionToken = sessionTokenRefusal(key, header(request.headers, 'x-amz-security-token'), 'request');
  if (sessionToken) return refuse(sessionToken.reason, sessionToken.detail);
  if (signedAt < check.now - MAX_REQUEST_SKEW_MILLIS) {
    return refuse('REQUEST_EXPIRED', `the request is dated ${new Date(signedAt).toISOString()}, more than 5 minutes before emulator time ${new Date(check.now).toISOString()}`, signedAt);
  }
  if (signedAt > check.now + MAX_REQUEST_SKEW_MILLIS) {
    return refuse('REQUEST_NOT_YET_VALID', `the request is dated ${new Date(signedAt).toISOString()}, more than 5 minutes after emulator time ${new Date(check.now).toISOString()}`, signedAt);
  }

  const bodyHash = sha256Hex(request.body);
  const declaredHash = header(request.headers, 'x-amz-content-sha256');
  // These services sign their payloads: UNSIGNED-PAYLOAD or a hash of another body would let a
  // signed request carry any body.
  if (declaredHash !== undefined && declaredHash !== bodyHash) return refuse('PAYLOAD_HASH_MISMATCH', 'X-Amz-Content-SHA256 is not the SHA-256 of the body');
  const canonical = canonicalRequest(request, signedHeaders, bodyHash);
  if (typeof canonical !== 'string') return refuse('INCOMPLETE_SIGNATURE', canonical.problem);
  const scope = [scopeDate, region, service, 'aws4_request'].join('/');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const expected = hmacHex(deriveSigningKey(key.secretAccessKey, scopeDate, region, service), stringToSign);
  if (!sameHex(expected, signature)) return refuse('SIGNATURE_MISMATCH', `the signature does not match the secret of ${accessKeyId}`);
  return { ok: true, key };
}

// --- internal ---

interface ParsedAuthorization {
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function deny(reason: AwsDenyReason, detail: string, accessKeyId?: string, signedAt?: number): SignatureVerification {
  return { ok: false, reason, detail, ...(accessKeyId ? { accessKeyId } : {}), ...(signedAt === undefined ? {} : { signedAt }) };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=a;b, Signature=hex`; a string is what is wrong. */
function parseAuthorization(value: string): ParsedAuthorization | string {
  const space = value.indexOf(' ');
  const algorithm = space === -1 ? value : value.slice(0, space);
  if (algorithm !== 'AWS4-HMAC-SHA256') return `the Authorization header is not AWS4-HMAC-SHA256 (algorithm "${algorithm.slice(0, 40)}")`;
  const fields = new Map<string, string>();
  for (const part of value.slice(space + 1).split(',')) {
    const at = part.indexOf('=');
    if (at === -1) return 'the Authorization header has a field without "="';
    const name = part.slice(0, at).trim();
    if (fields.has(name)) return `the Authorization header repeats ${name}`;
    fields.set(name, part.slice(at + 1).trim());
  }
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!fields.get(name)) return `the Authorization header has no ${name}`;
  }
  const credential = (fields.get('Credential') ?? '').split('/');
  if (credential.length !== 5 || credential[4] !== 'aws4_request' || !credential[0]) return 'Credential is not KEY/DATE/REGION/SERVICE/aws4_request';
  const [accessKeyId = '', scopeDate = '', region = '', service = ''] = credential;
  if (!/^\d{8}$/.test(scopeDate)) return `the credential scope date "${scopeDate}" is not YYYYMMDD`;
  const signedHeaders = (fields.get('SignedHeaders') ?? '').split(';');
  if (signedHeaders.some((name) => name === '' || name !== name.toLowerCase())) return 'SignedHeaders is not a ;-separated list of lowercase header names';
  const sorted = [...signedHeaders].sort();
  if (sorted.some((name, index) => name !== signedHeaders[index] || name === sorted[index - 1])) return 'SignedHeaders is not sorted without repeats';
  const signature = fields.get('Signature') ?? '';
  if (!/^[0-9a-f]{64}$/.test(signature)) return 'Signature is not 64 lowercase hex characters';
  return { accessKeyId, scopeDate, region, service, signedHeaders, signature };
}

/** The SigV4 canonical request; an object says why it cannot be built. */
function canonicalRequest(request: SignedRequest, signedHeaders: readonly string[], payloadHash: string): string | { problem: string } {
  const at = request.url.indexOf('?');
  const path = at === -1 ? request.url : request.url.slice(0, at);
  const query = canonicalQuery(at === -1 ? '' : request.url.slice(at + 1));
  if (query === undefined) return { problem: 'the query string is badly percent-encoded' };
  const headerLines = signedHeaders.map((name) => `${name}:${(header(request.headers, name) ?? '').trim().replace(/\s+/g, ' ')}`);
  return [request.method, canonicalPath(path), query, ...headerLines, '', signedHeaders.join(';'), payloadHash].join('\n');
}

/** Each path segment encoded again, `.` and `..` resolved, as SigV4 does for every service but S3. */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

function canonicalQuery(raw: string): string | undefined {
  if (raw === '') return '';
  const pairs: Array<readonly [string, string]> = [];
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    try {
      const key = decodeURIComponent(at === -1 ? pair : pair.slice(0, at));
      const value = decodeURIComponent(at === -1 ? '' : pair.slice(at + 1));
      pairs.push([escapeUri(key), escapeUri(value)]);
    } catch {
      return undefined;
    }
  }
  return pairs
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}
