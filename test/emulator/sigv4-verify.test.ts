import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyRegistry } from '../../src/emulator/key-registry.js';
import { hostMatches, verifyIamToken, type TokenCheck } from '../../src/emulator/sigv4-verify.js';
import { IAM_USER, KEY, OTHER_KEY, presign, sign } from '../support/emulator.js';

const PORT = 5432;

function check(overrides: Partial<TokenCheck> = {}): TokenCheck {
  return {
    user: IAM_USER,
    region: 'us-east-1',
    acceptsHost: (hostname, port) => port === PORT && hostMatches('localhost', hostname),
    now: Date.now(),
    clockSkewSeconds: 300,
    keys: new KeyRegistry([KEY]),
    ...overrides,
  };
}

describe('verifyIamToken with tokens from @aws-sdk/rds-signer', () => {
  it('accepts a token and reports its key, signed host and expiry', async () => {
    const before = Date.now();
    const result = verifyIamToken(await sign({ port: PORT }), check());
    expect(result).toMatchObject({ ok: true, accessKeyId: KEY.accessKeyId, signedHost: `localhost:${PORT}` });
    // X-Amz-Date has second precision: the expiry is 900 s after the signing second.
    if (result.ok) expect(result.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 900_000);
  });

  it('accepts botocore-style UNSIGNED-PAYLOAD tokens and smithy presigns up to 900 s', async () => {
    expect(verifyIamToken(await presign({ port: PORT, expiresIn: 900, unsignedPayload: true }), check()).ok).toBe(true);
    expect(verifyIamToken(await presign({ port: PORT, expiresIn: 60 }), check()).ok).toBe(true);
  });

  it.each([
    ['wrong secret', { credentials: { ...KEY, secretAccessKey: 'not-the-secret' } }, {}, 'SIGNATURE_MISMATCH'],
    ['unknown key', { credentials: OTHER_KEY }, {}, 'UNKNOWN_KEY'],
    ['wrong user', { username: 'someone_else' }, {}, 'WRONG_USER'],
    ['wrong region', { region: 'eu-west-1' }, {}, 'WRONG_REGION'],
    ['another host', { hostname: 'db.example.com' }, {}, 'WRONG_HOST'],
    ['another port', { port: PORT + 1 }, {}, 'WRONG_HOST'],
    ['expired', {}, { now: Date.now() + 901_000 }, 'TOKEN_EXPIRED'],
    ['dated in the future beyond the skew', {}, { now: Date.now() - 301_000 }, 'TOKEN_NOT_YET_VALID'],
  ] as const)('refuses %s', async (_name, signOptions, checkOverrides, reason) => {
    const token = await sign({ port: PORT, ...signOptions });
    expect(verifyIamToken(token, check(checkOverrides))).toMatchObject({ ok: false, reason });
  });

  it('refuses X-Amz-Expires over 900 even when correctly signed', async () => {
    const token = await presign({ port: PORT, expiresIn: 901 });
    expect(token).toContain('X-Amz-Expires=901');
    expect(verifyIamToken(token, check())).toMatchObject({ ok: false, reason: 'EXPIRES_TOO_LONG' });
  });

  it('refuses a token whose host prefix was rewritten to this endpoint', async () => {
    const signedElsewhere = await sign({ port: 6543 });
    const rewritten = signedElsewhere.replace('localhost:6543/', `localhost:${PORT}/`);
    expect(verifyIamToken(signedElsewhere, check())).toMatchObject({ ok: false, reason: 'WRONG_HOST' });
    expect(verifyIamToken(rewritten, check())).toMatchObject({ ok: false, reason: 'SIGNATURE_MISMATCH', signedHost: `localhost:${PORT}` });
  });

  it('checks session tokens of temporary credentials', async () => {
    const temporary = { accessKeyId: 'ASIAEMULATORTEMP0001', secretAccessKey: 'temp-secret', sessionToken: 'session-token-one' };
    const keys = new KeyRegistry([temporary]);
    expect(verifyIamToken(await sign({ port: PORT, credentials: temporary }), check({ keys })).ok).toBe(true);
    const { sessionToken: _, ...withoutToken } = temporary;
    expect(verifyIamToken(await sign({ port: PORT, credentials: withoutToken }), check({ keys }))).toMatchObject({ ok: false, reason: 'SESSION_TOKEN_MISSING' });
    expect(verifyIamToken(await sign({ port: PORT, credentials: { ...temporary, sessionToken: 'session-token-two' } }), check({ keys }))).toMatchObject({
      ok: false,
      reason: 'SESSION_TOKEN_MISMATCH',
    });
    const staticKeys = new KeyRegistry([{ accessKeyId: temporary.accessKeyId, secretAccessKey: temporary.secretAccessKey }]);
    expect(verifyIamToken(await sign({ port: PORT, credentials: temporary }), check({ keys: staticKeys }))).toMatchObject({ ok: false, reason: 'SESSION_TOKEN_UNEXPECTED' });
  });

  it('refuses revoked keys and keys whose credentials expired, and re-adding a key restores it', async () => {
    const keys = new KeyRegistry([KEY]);
    const token = await sign({ port: PORT });
    keys.revoke(KEY.accessKeyId);
    expect(verifyIamToken(token, check({ keys }))).toMatchObject({ ok: false, reason: 'KEY_REVOKED' });
    keys.add({ ...KEY, expiresAt: new Date(Date.now() - 1000) });
    expect(verifyIamToken(token, check({ keys }))).toMatchObject({ ok: false, reason: 'CREDENTIALS_EXPIRED' });
    keys.add(KEY);
    expect(verifyIamToken(token, check({ keys })).ok).toBe(true);
  });

  it('refuses things that are not tokens, without echoing them', () => {
    for (const password of ['', 'hunter2', 'localhost:5432/?Action=connect', 'localhost:5432/?%E0%A4%A=1', `localhost:5432/?${'a=1&'.repeat(5000)}`]) {
      const result = verifyIamToken(password, check());
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.reason).toBe('MALFORMED_TOKEN');
        if (password.length > 8) expect(result.detail).not.toContain(password);
      }
    }
  });

  it('never puts the signature or session token in a refusal', async () => {
    const temporary = { accessKeyId: 'ASIAEMULATORTEMP0002', secretAccessKey: 'temp-secret', sessionToken: 'a-session-token-value' };
    const token = await sign({ port: PORT, credentials: { ...temporary, secretAccessKey: 'wrong' } });
    const signature = /X-Amz-Signature=([0-9a-f]+)/.exec(token)?.[1] ?? 'missing';
    const result = verifyIamToken(token, check({ keys: new KeyRegistry([temporary]) }));
    expect(result).toMatchObject({ ok: false, reason: 'SIGNATURE_MISMATCH' });
    expect(JSON.stringify(result)).not.toContain(signature);
    expect(JSON.stringify(result)).not.toContain(temporary.sessionToken);
  });

  it('accepts any DBUser the signer encodes, and no other user (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.string({ minLength: 1, maxLength: 20 }), async (user, other) => {
        const token = await sign({ port: PORT, username: user });
        expect(verifyIamToken(token, check({ user })).ok).toBe(true);
        if (other !== user) expect(verifyIamToken(token, check({ user: other }))).toMatchObject({ ok: false, reason: 'WRONG_USER' });
      }),
      { numRuns: 60 },
    );
  });

  it('refuses every single-character change to the signature (property)', async () => {
    const token = await sign({ port: PORT });
    const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(token)?.[1] ?? '';
    expect(signature).toHaveLength(64);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 63 }), fc.constantFrom(...'0123456789abcdef'), (index, digit) => {
        fc.pre(signature[index] !== digit);
        const changed = signature.slice(0, index) + digit + signature.slice(index + 1);
        expect(verifyIamToken(token.replace(signature, changed), check())).toMatchObject({ ok: false, reason: 'SIGNATURE_MISMATCH' });
      }),
      { numRuns: 100 },
    );
  });
});

describe('hostMatches', () => {
  it('matches exact names case-insensitively and one label for *.', () => {
    expect(hostMatches('localhost', 'LOCALHOST')).toBe(true);
    expect(hostMatches('*.us-east-1.rds.amazonaws.com', 'mydb.us-east-1.rds.amazonaws.com')).toBe(true);
    expect(hostMatches('*.us-east-1.rds.amazonaws.com', 'a.b.us-east-1.rds.amazonaws.com')).toBe(false);
    expect(hostMatches('*.us-east-1.rds.amazonaws.com', 'us-east-1.rds.amazonaws.com')).toBe(false);
    expect(hostMatches('*.us-east-1.rds.amazonaws.com', 'mydb.us-east-1.rds.amazonaws.com.evil.com')).toBe(false);
    expect(hostMatches('**.us-east-1.rds.amazonaws.com', 'mydb.cluster-x.us-east-1.rds.amazonaws.com')).toBe(true);
    expect(hostMatches('**.us-east-1.rds.amazonaws.com', 'mydb.us-east-1.rds.amazonaws.com')).toBe(true);
    expect(hostMatches('**.us-east-1.rds.amazonaws.com', 'us-east-1.rds.amazonaws.com')).toBe(false);
    expect(hostMatches('**.us-east-1.rds.amazonaws.com', 'mydb.us-east-1.rds.amazonaws.com.evil.com')).toBe(false);
  });
});
