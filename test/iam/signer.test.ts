import { Signer } from '@aws-sdk/rds-signer';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signAuthToken } from '../../src/iam/signer.js';
import { parseToken } from '../support/iam/token.js';

// Documented example keys from the AWS SigV4 docs, not real credentials.
const SESSION = {
  accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE+/=sessiontoken//with==padding',
};
const LONG_TERM = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

/** What @aws-sdk/rds-signer produces at `at`; it reads `new Date()`, so Date is faked for this call only. */
async function referenceToken(at: number, host: string, port: number, user: string, region: string, credentials: typeof LONG_TERM): Promise<string> {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
  try {
    return await new Signer({ hostname: host, port, username: user, region, credentials }).getAuthToken();
  } finally {
    vi.useRealTimers();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('signAuthToken', () => {
  it('is byte-identical to @aws-sdk/rds-signer with session credentials', async () => {
    const at = Date.UTC(2026, 2, 1, 8, 30, 15, 999);
    const target = { host: 'mydb.cluster-abc123.us-east-1.rds.amazonaws.com', port: 5432, user: 'app_user', region: 'us-east-1' };
    const ours = await signAuthToken(target, SESSION, new Date(at));
    const theirs = await referenceToken(at, target.host, target.port, target.user, target.region, SESSION);
    expect(ours).toBe(theirs);

    const parsed = parseToken(ours);
    expect(ours.startsWith('mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432/?')).toBe(true);
    expect(parsed.action).toBe('connect');
    expect(parsed.user).toBe('app_user');
    expect(parsed.signedAt).toBe(Date.UTC(2026, 2, 1, 8, 30, 15));
    expect(parsed.expiresInSeconds).toBe(900);
    expect(parsed.accessKeyId).toBe(SESSION.accessKeyId);
    expect(parsed.credentialScope).toBe('20260301/us-east-1/rds-db/aws4_request');
    expect(parsed.sessionToken).toBe(SESSION.sessionToken);
    expect(parsed.signature).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is byte-identical without a session token, with an escaped user and an isolated-partition region', async () => {
    const at = Date.UTC(2027, 11, 31, 23, 59, 59);
    const target = { host: 'db.abc.eu-isoe-west-1.rds.cloud.adc-e.uk', port: 3306, user: "jane doe+ops@corp/it's(1)*!", region: 'eu-isoe-west-1' };
    const ours = await signAuthToken(target, LONG_TERM, new Date(at));
    expect(ours).toBe(await referenceToken(at, target.host, target.port, target.user, target.region, LONG_TERM));
    expect(parseToken(ours).user).toBe(target.user);
    expect(parseToken(ours).sessionToken).toBeNull();
  });

  it('is byte-identical for arbitrary users, ports, times and keys', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }),
        fc.integer({ min: 1, max: 65_535 }),
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) }),
        fc.stringMatching(/^[A-Za-z0-9/+=]{40}$/),
        fc.option(fc.stringMatching(/^[A-Za-z0-9/+=]{20,200}$/), { nil: undefined }),
        async (user, port, at, secret, sessionToken) => {
          const credentials = { accessKeyId: 'AKIAFASTCHECKEXAMPLE', secretAccessKey: secret, ...(sessionToken ? { sessionToken } : {}) };
          const host = 'prop.c9akciq32.ap-southeast-7.rds.amazonaws.com';
          const ours = await signAuthToken({ host, port, user, region: 'ap-southeast-7' }, credentials, new Date(at));
          const theirs = await referenceToken(at, host, port, user, 'ap-southeast-7', credentials);
          expect(ours).toBe(theirs);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('changes the signature when any signed input changes', async () => {
    const at = new Date(Date.UTC(2026, 0, 1));
    const base = { host: 'a.b.us-east-1.rds.amazonaws.com', port: 5432, user: 'u', region: 'us-east-1' };
    const signatures = await Promise.all(
      [base, { ...base, port: 5433 }, { ...base, user: 'v' }, { ...base, region: 'us-east-2' }, { ...base, host: 'c.b.us-east-1.rds.amazonaws.com' }].map(
        async (target) => parseToken(await signAuthToken(target, LONG_TERM, at)).signature,
      ),
    );
    expect(new Set(signatures).size).toBe(5);
  });
});
