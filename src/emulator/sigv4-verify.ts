import { sessionTokenRefusal, usableKey, type KeyRegistry } from './key-registry.js';
import { deriveSigningKey, EMPTY_SHA256, escapeUri, hmacHex, parseAmzDate, sameHex, sha256Hex } from './sigv4-primitives.js';

/**
 * Why a login was refused; stable, for tests and logs. `NOT_TLS` is decided by the front ends.
 * @public
 */
export type DenyReason =
  | 'MALFORMED_TOKEN'
  | 'WRONG_ALGORITHM'
  | 'WRONG_ACTION'
  | 'WRONG_USER'
  | 'WRONG_SERVICE'
  | 'WRONG_REGION'
  | 'WRONG_HOST'
  | 'UNSUPPORTED_SIGNED_HEADERS'
  | 'EXPIRES_TOO_LONG'
  | 'UNKNOWN_KEY'
  | 'KEY_REVOKED'
  | 'CREDENTIALS_EXPIRED'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  | 'SESSION_TOKEN_MISSING'
  | 'SESSION_TOKEN_MISMATCH'
  | 'SESSION_TOKEN_UNEXPECTED'
  | 'SIGNATURE_MISMATCH'
  | 'NOT_TLS';

/** What a token is checked against: the endpoint and the login. */
export interface TokenCheck {
  /** The login user, compared case-sensitively with `DBUser`. */
  readonly user: string;
  readonly region: string;
  /** True when `hostname:port` names this endpoint. */
  readonly acceptsHost: (hostname: string, port: number) => boolean;
  /** Emulator time, epoch milliseconds. */
  readonly now: number;
  readonly clockSkewSeconds: number;
  readonly keys: KeyRegistry;
}

export type Verification =
  | { readonly ok: true; readonly accessKeyId: string; readonly signedHost: string; readonly expiresAt: number }
  | {
      readonly ok: false;
      readonly reason: DenyReason;
      /** Why, for the auth log; never contains the token, signature or a secret. */
      readonly detail: string;
      readonly accessKeyId?: string;
      readonly signedHost?: string;
    };

/** RDS refuses tokens valid for longer than 15 minutes. */
export const MAX_EXPIRES_SECONDS = 900;

/**
 * Verifies an RDS IAM token the way RDS does: the SigV4 presigned-URL signature is recomputed
 * with the secret of its access key id (service `rds-db`, signed header `host` = the
 * `hostname:port` the token names, which must be this endpoint), and every claim is checked
 * against the login and the emulator clock.
 */
export function verifyIamToken(token: string, check: TokenCheck): Verification {
  const parsed = parseToken(token);
  if (typeof parsed === 'string') return deny('MALFORMED_TOKEN', parsed);
  const { hostname, port, params } = parsed;
  const signedHost = `${hostname}:${port}`;
  const credential = (params.get('X-Amz-Credential') ?? '').split('/');
  const accessKeyId = credential[0] ?? '';
  const context = { accessKeyId, signedHost };
  const refuse = (reason: DenyReason, detail: string): Verification => deny(reason, detail, context);

  for (const name of ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'DBUser', 'Action']) {
    if (!params.has(name)) return refuse('MALFORMED_TOKEN', `the token has no ${name} parameter`);
  }
  if (params.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return refuse('WRONG_ALGORITHM', 'X-Amz-Algorithm is not AWS4-HMAC-SHA256');
  if (params.get('Action') !== 'connect') return refuse('WRONG_ACTION', `Action is "${params.get('Action') ?? ''}", not "connect"`);
  const dbUser = params.get('DBUser') ?? '';
  if (dbUser !== check.user) return refuse('WRONG_USER', `the token is for DBUser "${dbUser}", the login is "${check.user}"`);
  if (credential.length !== 5 || credential[4] !== 'aws4_request') return refuse('MALFORMED_TOKEN', 'X-Amz-Credential is not KEY/DATE/REGION/SERVICE/aws4_request');
  const [, scopeDate = '', region = '', service = ''] = credential;
  if (service !== 'rds-db') return refuse('WRONG_SERVICE', `the token is signed for service "${service}", not "rds-db"`);
  if (region !== check.region) return refuse('WRONG_REGION', `the token is signed for region ${region}, this endpoint is in ${check.region}`);
  if (!check.acceptsHost(hostname, port)) return refuse('WRONG_HOST', `the token is signed for ${signedHost}, which is not this endpoint`);
  if ((params.get('X-Amz-SignedHeaders') ?? '').toLowerCase() !== 'host') {
    return refuse('UNSUPPORTED_SIGNED_HEADERS', 'X-Amz-SignedHeaders must be exactly "host"');
  }
  const expires = params.get('X-Amz-Expires') ?? '';
  if (!/^\d{1,9}$/.test(expires) || Number(expires) <= 0) return refuse('MALFORMED_TOKEN', 'X-Amz-Expires is not a positive number of seconds');
  if (Number(expires) > MAX_EXPIRES_SECONDS) return refuse('EXPIRES_TOO_LONG', `X-Amz-Expires is ${expires}, RDS accepts at most ${MAX_EXPIRES_SECONDS}`);
  const amzDate = params.get('X-Amz-Date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined || amzDate.slice(0, 8) !== scopeDate) return refuse('MALFORMED_TOKEN', 'X-Amz-Date is not YYYYMMDDTHHMMSSZ on the credential scope date');

  const key = usableKey(check.keys, accessKeyId, check.now);
  if ('reason' in key) return refuse(key.reason, key.detail);
  const expiresAt = signedAt + Number(expires) * 1000;
  if (check.now > expiresAt) {
    return refuse('TOKEN_EXPIRED', `the token expired at ${new Date(expiresAt).toISOString()}, emulator time is ${new Date(check.now).toISOString()}`);
  }
  if (signedAt - check.clockSkewSeconds * 1000 > check.now) {
    return refuse('TOKEN_NOT_YET_VALID', `the token is dated ${new Date(signedAt).toISOString()}, after emulator time ${new Date(check.now).toISOString()}`);
  }
  const sessionToken = sessionTokenRefusal(key, params.get('X-Amz-Security-Token') ?? undefined, 'token');
  if (sessionToken) return refuse(sessionToken.reason, sessionToken.detail);

  const presented = params.get('X-Amz-Signature') ?? '';
  const signingKey = deriveSigningKey(key.secretAccessKey, scopeDate, region, service);
  const scope = credential.slice(1).join('/');
  // Presigners differ on the payload hash (rds-signer and Go hash the empty body, botocore
  // uses UNSIGNED-PAYLOAD); RDS accepts tokens from all of them.
  const matches = [EMPTY_SHA256, 'UNSIGNED-PAYLOAD'].some((payloadHash) => {
    const canonical = canonicalRequest(params, signedHost, payloadHash);
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
    return sameHex(hmacHex(signingKey, stringToSign), presented);
  });
  if (!matches) return refuse('SIGNATURE_MISMATCH', `the signature does not match the secret of ${accessKeyId} for ${signedHost}`);
  return { ok: true, accessKeyId, signedHost, expiresAt };
}

/** True when `host` matches `pattern`, where a leading `*.` stands for exactly one label. */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  const anyDepth = p.startsWith('**.');
  if (!anyDepth && !p.startsWith('*.')) return p === h;
  const suffix = p.slice(anyDepth ? 2 : 1);
  return h.endsWith(suffix) && h.length > suffix.length && (anyDepth || !h.slice(0, -suffix.length).includes('.'));
}

// --- internal ---

function deny(reason: DenyReason, detail: string, context: { accessKeyId?: string; signedHost?: string } = {}): Verification {
  return {
    ok: false,
    reason,
    detail,
    ...(context.accessKeyId ? { accessKeyId: context.accessKeyId } : {}),
    ...(context.signedHost ? { signedHost: context.signedHost } : {}),
  };
}

interface ParsedToken {
  hostname: string;
  port: number;
  params: Map<string, string>;
}

/** Splits `host:port/?query`; a string result is why the token is malformed. */
function parseToken(token: string): ParsedToken | string {
  if (token.length > 16_384) return 'the password is too long to be an IAM token';
  const match = /^([A-Za-z0-9.-]+):(\d{1,5})\/\?(.+)$/s.exec(token);
  if (!match) return 'the password is not an IAM token (host:port/?Action=connect&...)';
  const [, hostname = '', portText = '', query = ''] = match;
  const port = Number(portText);
  if (port < 1 || port > 65535) return 'the token names an invalid port';
  const params = new Map<string, string>();
  for (const pair of query.split('&')) {
    const at = pair.indexOf('=');
    const rawKey = at === -1 ? pair : pair.slice(0, at);
    const rawValue = at === -1 ? '' : pair.slice(at + 1);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey);
      value = decodeURIComponent(rawValue);
    } catch {
      return 'the token has a badly percent-encoded parameter';
    }
    if (params.has(key)) return `the token repeats the ${key} parameter`;
    params.set(key, value);
  }
  return { hostname, port, params };
}

function canonicalRequest(params: Map<string, string>, host: string, payloadHash: string): string {
  const query = [...params]
    .filter(([key]) => key !== 'X-Amz-Signature')
    .map(([key, value]) => [escapeUri(key), escapeUri(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  return ['GET', '/', query, `host:${host}`, '', 'host', payloadHash].join('\n');
}
