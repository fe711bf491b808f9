import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The client side of SCRAM-SHA-256 (RFC 5802/7677) without channel binding, for logging in to
 * an upstream PostgreSQL that asks for it (the connection to the upstream is not TLS).
 */
export class ScramClient {
  readonly #password: string;
  readonly #clientNonce = randomBytes(18).toString('base64');
  #clientFirstBare = '';
  #serverSignature: Buffer | undefined;

  constructor(password: string) {
    this.#password = password;
  }

  /** The client-first-message. */
  first(): string {
    this.#clientFirstBare = `n=*,r=${this.#clientNonce}`;
    return `n,,${this.#clientFirstBare}`;
  }

  /** The client-final-message for the server-first-message. */
  final(serverFirst: string): string {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r') ?? '';
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    if (!nonce.startsWith(this.#clientNonce) || nonce.length === this.#clientNonce.length) throw new Error('SCRAM: the server nonce does not extend the client nonce');
    if (salt.length === 0 || !Number.isInteger(iterations) || iterations < 1 || iterations > 1_000_000) throw new Error('SCRAM: invalid salt or iteration count');
    const withoutProof = `c=biws,r=${nonce}`;
    const salted = pbkdf2Sync(saslPrep(this.#password), salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(createHash('sha256').update(clientKey).digest(), authMessage);
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] as number)));
    this.#serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Throws unless the server-final-message proves the server knew the password. */
  verify(serverFinal: string): void {
    const presented = Buffer.from(parseAttributes(serverFinal).get('v') ?? '', 'base64');
    const expected = this.#serverSignature;
    if (!expected || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw new Error('SCRAM: the server signature does not match');
    }
  }
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function parseAttributes(message: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of message.split(',')) {
    const at = part.indexOf('=');
    if (at > 0) attrs.set(part.slice(0, at), part.slice(at + 1));
  }
  return attrs;
}

/** The mapping steps of SASLprep that change bytes (as libpq and node-postgres apply them). */
function saslPrep(password: string): string {
  return password
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
    .normalize('NFKC');
}
