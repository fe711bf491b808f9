import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createCredentialCache, sourceFromFeatures } from '../../src/iam/credentials.js';
import { credentialProblemOf } from '../../src/iam/errors.js';
import { IamError } from '../../src/errors.js';
import { isolateAwsEnvironment } from '../support/iam/credentials-server.js';
import { fakeClock } from '../support/fake-clock.js';
import { rejectionOf } from '../support/rejection.js';

const MINUTE = 60_000;
let restore: (() => void) | undefined;
let dir: string | undefined;

afterEach(async () => {
  restore?.();
  restore = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('sourceFromFeatures', () => {
  it.each<[Record<string, string> | undefined, string | undefined]>([
    [{ CREDENTIALS_ENV_VARS: 'g' }, 'env'],
    [{ CREDENTIALS_PROFILE: 'n' }, 'shared-ini'],
    [{ CREDENTIALS_PROFILE: 'n', CREDENTIALS_PROFILE_SSO: 'r', CREDENTIALS_SSO: 's' }, 'sso'],
    [{ CREDENTIALS_PROFILE_NAMED_PROVIDER: 'p', CREDENTIALS_ENV_VARS: 'g', CREDENTIALS_STS_ASSUME_ROLE: 'i' }, 'shared-ini'],
    [{ CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: 'h', CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: 'k' }, 'web-identity'],
    [{ CREDENTIALS_PROFILE_PROCESS: 'v' }, 'process'],
    [{ CREDENTIALS_HTTP: 'z' }, 'container'],
    [{ CREDENTIALS_IMDS: '0' }, 'imds'],
    [{ RESOLVED_ACCOUNT_ID: 'T' }, undefined],
    [undefined, undefined],
  ])('%o -> %s', (flags, source) => {
    expect(sourceFromFeatures(flags ? { accessKeyId: 'A', $source: flags } : { accessKeyId: 'A' })).toBe(source);
  });
});

describe('createCredentialCache', () => {
  it('memoises until the credentials come within the reuse window, one resolution for concurrent callers', async () => {
    const clock = fakeClock();
    let calls = 0;
    const expiration = new Date(clock.now() + 60 * MINUTE);
    const cache = createCredentialCache({
      clock,
      reuseWindowMs: 16 * MINUTE,
      label: 'u@h:1',
      credentials: async (options) => {
        calls += 1;
        expect(options).toEqual({ forceRefresh: true });
        return { accessKeyId: `AKIAMEMO${calls}`, secretAccessKey: 's', expiration };
      },
    });
    const first = await Promise.all(Array.from({ length: 100 }, () => cache.get()));
    expect(new Set(first).size).toBe(1);
    expect(calls).toBe(1);
    clock.advance(60 * MINUTE - 16 * MINUTE - 1);
    expect((await cache.get()).identity.accessKeyId).toBe('AKIAMEMO1');
    clock.advance(1);
    expect((await cache.get()).identity.accessKeyId).toBe('AKIAMEMO2');
    expect(calls).toBe(2);
    cache.invalidate();
    expect((await cache.get()).identity.accessKeyId).toBe('AKIAMEMO3');
    expect(cache.resolutions).toBe(3);
  });

  it('keeps the secret out of JSON and inspect output', async () => {
    const cache = createCredentialCache({
      clock: fakeClock(),
      reuseWindowMs: 0,
      label: 'u@h:1',
      credentials: { accessKeyId: 'AKIAHIDDEN00001', secretAccessKey: 'TopSecretValue/+=', sessionToken: 'SessionTokenValue' },
    });
    const resolved = await cache.get();
    expect(resolved.identity.secretAccessKey).toBe('TopSecretValue/+=');
    for (const text of [JSON.stringify(resolved), inspect(resolved, { depth: 5, showHidden: true })]) {
      expect(text).not.toContain('TopSecretValue');
      expect(text).not.toContain('SessionTokenValue');
      expect(text).toContain('0001');
    }
    expect(resolved).toMatchObject({ source: 'static', accessKeyIdSuffix: '0001', expiresAt: undefined });
  });

  it('reads a shared credentials file through the real SDK chain, again after invalidate() when it was rotated', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dbmodule-iam-'));
    const file = join(dir, 'credentials');
    await writeFile(file, '[default]\naws_access_key_id = AKIAFILEKEY000001\naws_secret_access_key = fileSecret1\n');
    restore = isolateAwsEnvironment({ AWS_SHARED_CREDENTIALS_FILE: file });
    const cache = createCredentialCache({ clock: fakeClock(), reuseWindowMs: 16 * MINUTE, label: 'u@h:1' });
    const first = await cache.get();
    expect(first).toMatchObject({ source: 'shared-ini', accessKeyIdSuffix: '0001', expiresAt: undefined });

    await writeFile(file, '[default]\naws_access_key_id = AKIAFILEKEY000002\naws_secret_access_key = fileSecret2\n');
    expect((await cache.get()).identity.accessKeyId).toBe('AKIAFILEKEY000001'); // memoised
    cache.invalidate();
    const second = await cache.get();
    expect(second.identity.accessKeyId).toBe('AKIAFILEKEY000002');
    expect(second.identityKey).not.toBe(first.identityKey);
  });

  it('a named profile is honoured', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dbmodule-iam-'));
    const file = join(dir, 'credentials');
    await writeFile(file, '[default]\naws_access_key_id = AKIADEFAULT000001\naws_secret_access_key = a\n[reporting]\naws_access_key_id = AKIAREPORTING0002\naws_secret_access_key = b\n');
    restore = isolateAwsEnvironment({ AWS_SHARED_CREDENTIALS_FILE: file });
    const cache = createCredentialCache({ clock: fakeClock(), reuseWindowMs: 0, label: 'u@h:1', chain: { profile: 'reporting' } });
    expect((await cache.get()).identity.accessKeyId).toBe('AKIAREPORTING0002');
  });
});

describe('why no credentials came: the hints that fit', () => {
  const failureOf = async (options: Partial<Parameters<typeof createCredentialCache>[0]> = {}) => {
    const cache = createCredentialCache({ clock: fakeClock(), reuseWindowMs: 0, label: 'u@h:1', chain: { maxRetries: 0, timeoutMs: 500 }, ...options });
    const error = await rejectionOf(cache.get(), IamError);
    expect(error.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    return error;
  };

  it('an empty chain: none configured, and how to configure them; nothing about expiry, networks or regions', async () => {
    restore = isolateAwsEnvironment({});
    const error = await failureOf();
    expect(error.possibleCauses).toEqual([expect.stringMatching(/^No AWS credentials in the environment/)]);
    expect(error.solutions.join('\n')).toMatch(/AWS_ACCESS_KEY_ID[\s\S]*~\/\.aws\/credentials[\s\S]*instance profile/);
    expect([...error.possibleCauses, ...error.solutions].join('\n')).not.toMatch(/expired|unreachable|region/i);
  });

  it('a profile that exists nowhere is named', async () => {
    restore = isolateAwsEnvironment({ AWS_PROFILE: 'no-such-profile' });
    const error = await failureOf();
    expect(error.message).toContain('(profile "no-such-profile")');
    expect(error.possibleCauses[0]).toBe('The profile "no-such-profile" is in neither ~/.aws/config nor ~/.aws/credentials, or has no credentials');
  });

  it('a container endpoint that does not answer is unreachable, not "no credentials"', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    restore = isolateAwsEnvironment({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/credentials` });
    const error = await failureOf();
    expect(error.possibleCauses[0]).toMatch(/container credentials endpoint .* unreachable/);
    expect(error.possibleCauses.join('\n')).not.toMatch(/^No AWS credentials/m);
  });

  it('a provider returning no secret is incomplete', async () => {
    const error = await failureOf({ credentials: async () => ({ accessKeyId: 'AKIAINCOMPLETE', secretAccessKey: '' }) });
    expect(error.possibleCauses).toEqual(['The credential provider returned an object without accessKeyId or secretAccessKey']);
  });

  it('reads expiry and network failures from the SDK error', () => {
    expect(credentialProblemOf(Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }))).toBe('expired');
    expect(credentialProblemOf(Object.assign(new Error('connect ECONNREFUSED 169.254.170.2:80'), { code: 'ECONNREFUSED' }))).toBe('unreachable');
    expect(credentialProblemOf(new Error('something else'))).toBeUndefined();
  });
});
