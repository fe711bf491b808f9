import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatedAws, type Emulator } from '../../src/emulator/index.js';
import { KEY, OTHER_KEY } from '../support/emulator.js';
import { rejectionOf, thrownBy } from '../support/rejection.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
let emulator: Emulator;
let aws: EmulatedAws;
const clients: SecretsManagerClient[] = [];
let counter = 0;

beforeAll(async () => {
  emulator = await startEmulator({ postgres: false, aws: true, credentials: [KEY, OTHER_KEY] });
  if (!emulator.aws) throw new Error('no AWS endpoint');
  aws = emulator.aws;
});

afterEach(() => emulator.setClockOffset(0));

afterAll(async () => {
  for (const client of clients) client.destroy();
  await emulator?.close();
});

/** A real SDK client against the emulator; one attempt unless told otherwise, so every refusal shows. */
function client(credentials: SecretsManagerClientConfig['credentials'] = KEY, config: SecretsManagerClientConfig = {}): SecretsManagerClient {
  const created = new SecretsManagerClient({ region: REGION, endpoint: aws.endpoint, credentials, maxAttempts: 1, ...config });
  clients.push(created);
  return created;
}

/** A secret name no other test uses. */
function fresh(prefix: string): string {
  counter += 1;
  return `${prefix}/${counter}`;
}

const DB_CREDENTIALS = { username: 'app_user', password: 'pw-Initial-1' };

describe('Secrets Manager: GetSecretValue', () => {
  it('answers by name, by full ARN and by partial ARN with the stored value, version and labels', async () => {
    const name = fresh('app/db');
    const before = Date.now();
    const { arn, versionId } = aws.secrets.create(name, DB_CREDENTIALS);
    expect(arn).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-[A-Za-z0-9]{6}$`));
    expect(versionId).toMatch(/^[0-9a-f-]{36}$/);
    const sm = client();
    for (const secretId of [name, arn, `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}`]) {
      const answer = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
      expect(answer).toMatchObject({ ARN: arn, Name: name, VersionId: versionId, SecretString: JSON.stringify(DB_CREDENTIALS), VersionStages: ['AWSCURRENT'] });
      expect(answer.CreatedDate).toBeInstanceOf(Date);
      expect(answer.CreatedDate?.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(answer.CreatedDate?.getTime()).toBeLessThanOrEqual(Date.now());
      expect(answer.$metadata.httpStatusCode).toBe(200);
      expect(answer.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString ?? '')).toEqual(DB_CREDENTIALS);
  });

  it('stores strings as given', async () => {
    const name = fresh('plain');
    aws.secrets.create(name, 'just-a-password');
    expect((await client().send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('just-a-password');
  });

  it('answers ResourceNotFoundException for a secret, version or label that does not exist', async () => {
    const name = fresh('missing');
    const { versionId } = aws.secrets.create(name, 'v1');
    const sm = client();
    for (const input of [
      { SecretId: 'no/such/secret' },
      { SecretId: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-zzzzzz` },
      { SecretId: name, VersionStage: 'AWSPENDING' },
      { SecretId: name, VersionId: '00000000-0000-4000-8000-000000000000' },
      { SecretId: name, VersionId: versionId, VersionStage: 'AWSPREVIOUS' },
    ]) {
      const error = await rejectionOf(sm.send(new GetSecretValueCommand(input)));
      expect(error.name).toBe('ResourceNotFoundException');
      expect(error.$metadata).toMatchObject({ httpStatusCode: 400 });
    }
  });
});

describe('Secrets Manager: versions, staging labels and rotation', () => {
  it('stages a pending version, promotes it, and keeps the old one as AWSPREVIOUS', async () => {
    const name = fresh('rotating');
    const { versionId: first } = aws.secrets.create(name, { password: 'first-pw' });
    const sm = client();
    const put = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify({ password: 'second-pw' }), VersionStages: ['AWSPENDING'] }));
    expect(put.VersionStages).toEqual(['AWSPENDING']);
    // the SDK generates ClientRequestToken (an idempotency token): it becomes the version id
    expect(put.VersionId).toMatch(/^[0-9a-f-]{36}$/);
    const second = put.VersionId ?? '';
    const value = async (input: { VersionStage?: string; VersionId?: string }) => (await sm.send(new GetSecretValueCommand({ SecretId: name, ...input }))).SecretString;

    expect(await value({})).toBe('{"password":"first-pw"}');
    expect(await value({ VersionStage: 'AWSPENDING' })).toBe('{"password":"second-pw"}');
    expect(aws.secrets.stages(name)).toEqual({ [first]: ['AWSCURRENT'], [second]: ['AWSPENDING'] });

    aws.secrets.promote(name, second);
    expect(await value({})).toBe('{"password":"second-pw"}');
    expect(await value({ VersionStage: 'AWSCURRENT' })).toBe('{"password":"second-pw"}');
    expect(await value({ VersionStage: 'AWSPREVIOUS' })).toBe('{"password":"first-pw"}');
    expect(await value({ VersionId: first })).toBe('{"password":"first-pw"}');
    expect((await rejectionOf(value({ VersionStage: 'AWSPENDING' }))).name).toBe('ResourceNotFoundException');
    const described = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.Name).toBe(name);
    expect(described.VersionIdsToStages).toEqual({ [first]: ['AWSPREVIOUS'], [second]: ['AWSCURRENT'] });
  });

  it('PutSecretValue without labels makes the new version AWSCURRENT, the old AWSPREVIOUS, and unlabels the one before', async () => {
    const name = fresh('put');
    const { versionId: v1 } = aws.secrets.create(name, 'one');
    const sm = client();
    const v2 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'two' }))).VersionId ?? '';
    const v3 = aws.secrets.put(name, 'three');
    expect(aws.secrets.stages(name)).toEqual({ [v2]: ['AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('three');
    // the unlabelled version is still readable by its id, as AWS keeps deprecated versions
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: v1 }))).VersionStages).toEqual([]);
  });

  it('treats a repeated ClientRequestToken as a retry, and refuses it with another value', async () => {
    const name = fresh('idempotent');
    aws.secrets.create(name, 'one');
    const sm = client();
    const token = 'a1b2c3d4-0000-4000-8000-00000000feed';
    const first = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'two', ClientRequestToken: token }));
    const again = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'two', ClientRequestToken: token }));
    expect(again.VersionId).toBe(first.VersionId);
    expect(Object.keys(aws.secrets.stages(name))).toHaveLength(2);
    const error = await rejectionOf(sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'other', ClientRequestToken: token })));
    expect(error.name).toBe('ResourceExistsException');
    expect(error.message).not.toContain('other');
  });

  it('UpdateSecretVersionStage moves AWSCURRENT (the old current becomes AWSPREVIOUS) and insists on RemoveFromVersionId', async () => {
    const name = fresh('stages');
    const { versionId: v1 } = aws.secrets.create(name, 'one');
    const v2 = aws.secrets.put(name, 'two', { stages: ['AWSPENDING'] });
    const sm = client();
    const missingRemove = await rejectionOf(sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: v2 })));
    expect(missingRemove.name).toBe('InvalidParameterException');
    expect(missingRemove.message).toContain(`attached to version ${v1}`);
    const wrongRemove = await rejectionOf(sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: v2, RemoveFromVersionId: v2 })));
    expect(wrongRemove.name).toBe('InvalidParameterException');
    expect(aws.secrets.stages(name)).toEqual({ [v1]: ['AWSCURRENT'], [v2]: ['AWSPENDING'] });

    const moved = await sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: v2, RemoveFromVersionId: v1 }));
    expect(moved.Name).toBe(name);
    // AWS leaves AWSPENDING where it was: rotation code removes it itself
    expect(aws.secrets.stages(name)).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSPENDING', 'AWSCURRENT'] });
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: v2 }));
    expect(aws.secrets.stages(name)).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
    // rolling back: AWSCURRENT to the previous version swaps the two
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: v1, RemoveFromVersionId: v2 }));
    expect(aws.secrets.stages(name)).toEqual({ [v1]: ['AWSCURRENT'], [v2]: ['AWSPREVIOUS'] });
    const removeCurrent = await rejectionOf(sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', RemoveFromVersionId: v1 })));
    expect(removeCurrent.name).toBe('InvalidParameterException');
  });

  it('refuses controls on unknown secrets and versions, and a name taken twice', () => {
    const name = fresh('controls');
    aws.secrets.create(name, 'x');
    expect(() => aws.secrets.create(name, 'y')).toThrow(/already exists/);
    expect(() => aws.secrets.put('no/such', 'y')).toThrow(/there is no secret no\/such/);
    expect(() => aws.secrets.promote(name, 'no-such-version')).toThrow(/has no version/);
    expect(() => aws.secrets.create('bad name!', 'y')).toThrow(/not a secret name/);
  });
});

describe('Secrets Manager: counting, failures and access', () => {
  it('counts the GetSecretValue calls answered with a value, per secret and in all', async () => {
    const a = fresh('count-a');
    const b = fresh('count-b');
    aws.secrets.create(a, 'a');
    aws.secrets.create(b, 'b');
    const total = aws.secrets.fetches();
    const sm = client();
    expect(aws.secrets.fetches(a)).toBe(0);
    await Promise.all([1, 2, 3].map(() => sm.send(new GetSecretValueCommand({ SecretId: a }))));
    await sm.send(new GetSecretValueCommand({ SecretId: b }));
    await sm.send(new DescribeSecretCommand({ SecretId: a }));
    aws.secrets.failNext(a, 1);
    await rejectionOf(sm.send(new GetSecretValueCommand({ SecretId: a })));
    expect(aws.secrets.fetches(a)).toBe(3);
    expect(aws.secrets.fetches(b)).toBe(1);
    expect(aws.secrets.fetches()).toBe(total + 4);
  });

  it('fails the next N GetSecretValue calls with InternalServiceError (HTTP 500), which the SDK retries', async () => {
    const name = fresh('flaky');
    aws.secrets.create(name, 'value-after-failures');
    aws.secrets.failNext(name, 2);
    const once = await rejectionOf(client().send(new GetSecretValueCommand({ SecretId: name })));
    expect(once.name).toBe('InternalServiceError');
    expect(once.$metadata).toMatchObject({ httpStatusCode: 500 });
    // one failure left: the SDK's standard retry gets through on its second attempt
    const retrying = client(KEY, { maxAttempts: 3 });
    const answer = await retrying.send(new GetSecretValueCommand({ SecretId: name }));
    expect(answer.SecretString).toBe('value-after-failures');
    expect(answer.$metadata.attempts).toBe(2);
    const log = aws.secrets.requests().filter((entry) => entry.secretName === name);
    expect(log.map((entry) => [entry.action, entry.ok, entry.errorCode])).toEqual([
      ['GetSecretValue', false, 'InternalServiceError'],
      ['GetSecretValue', false, 'InternalServiceError'],
      ['GetSecretValue', true, undefined],
    ]);
    aws.secrets.failNext(name, 1, 'ThrottlingException');
    const throttled = await rejectionOf(client().send(new GetSecretValueCommand({ SecretId: name })));
    expect(throttled.name).toBe('ThrottlingException');
    expect(throttled.$metadata).toMatchObject({ httpStatusCode: 400 });
  });

  it('denies one key or every key access to a secret, and allows again', async () => {
    const name = fresh('guarded');
    aws.secrets.create(name, 'guarded-value');
    const mine = client(KEY);
    const theirs = client(OTHER_KEY);
    aws.secrets.denyAccess(name, KEY.accessKeyId);
    const denied = await rejectionOf(mine.send(new GetSecretValueCommand({ SecretId: name })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/${KEY.accessKeyId} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${name} because no resource-based policy allows the secretsmanager:GetSecretValue action`,
    );
    expect((await theirs.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('guarded-value');
    aws.secrets.denyAccess(name);
    expect((await rejectionOf(theirs.send(new DescribeSecretCommand({ SecretId: name })))).name).toBe('AccessDeniedException');
    aws.secrets.allowAccess(name);
    expect((await mine.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('guarded-value');
    expect(aws.secrets.requests().filter((entry) => entry.secretName === name).map((entry) => [entry.accessKeyId, entry.errorCode])).toEqual([
      [KEY.accessKeyId, 'AccessDeniedException'],
      [OTHER_KEY.accessKeyId, undefined],
      [OTHER_KEY.accessKeyId, 'AccessDeniedException'],
      [KEY.accessKeyId, undefined],
    ]);
  });

  it('logs each request with its action, secret, key and label', async () => {
    const name = fresh('logged');
    const { arn } = aws.secrets.create(name, 'logged-value');
    const sm = client();
    await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }));
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'logged-pending', VersionStages: ['AWSPENDING'] }));
    await sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(aws.secrets.requests().filter((entry) => entry.secretName === name).map(({ time: _, ...entry }) => entry)).toEqual([
      { action: 'GetSecretValue', secretName: name, accessKeyId: KEY.accessKeyId, versionStage: 'AWSCURRENT', ok: true, errorCode: undefined },
      { action: 'PutSecretValue', secretName: name, accessKeyId: KEY.accessKeyId, versionStage: 'AWSPENDING', ok: true, errorCode: undefined },
      { action: 'GetSecretValue', secretName: name, accessKeyId: KEY.accessKeyId, versionStage: 'AWSCURRENT', ok: true, errorCode: undefined },
    ]);
    expect(JSON.stringify(aws.secrets.requests())).not.toMatch(/logged-value|logged-pending/);
  });
});

describe('Secrets Manager: SigV4 authentication', () => {
  async function refusal(sm: SecretsManagerClient, name = fresh('auth')) {
    aws.secrets.create(name, 'auth-value');
    const error = await rejectionOf(sm.send(new GetSecretValueCommand({ SecretId: name })));
    const logged = aws.requests().at(-1);
    return { error, logged };
  }

  it('answers UnrecognizedClientException for a key it does not know', async () => {
    const { error, logged } = await refusal(client({ accessKeyId: 'AKIAUNKNOWNKEY000001', secretAccessKey: 'whatever' }));
    expect(error.name).toBe('UnrecognizedClientException');
    expect(error.message).toBe('The security token included in the request is invalid.');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 400 });
    expect(logged).toMatchObject({ service: 'secretsmanager', action: 'GetSecretValue', accessKeyId: 'AKIAUNKNOWNKEY000001', ok: false, errorCode: 'UnrecognizedClientException', reason: 'UNKNOWN_KEY' });
  });

  it('answers InvalidSignatureException for a signature made with another secret', async () => {
    const { error, logged } = await refusal(client({ ...KEY, secretAccessKey: 'not-the-secret' }));
    expect(error.name).toBe('InvalidSignatureException');
    expect(error.message).toContain('The request signature we calculated does not match the signature you provided.');
    expect(logged).toMatchObject({ reason: 'SIGNATURE_MISMATCH', accessKeyId: KEY.accessKeyId });
  });

  it('refuses a revoked key, and a key added again works', async () => {
    const key = { accessKeyId: 'AKIAREVOKEDKEY000001', secretAccessKey: 'revoked-key-secret' };
    emulator.addCredentials(key);
    const name = fresh('revoked');
    aws.secrets.create(name, 'revoked-value');
    const sm = client(key);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('revoked-value');
    emulator.revoke(key.accessKeyId);
    const error = await rejectionOf(sm.send(new GetSecretValueCommand({ SecretId: name })));
    expect(error.name).toBe('UnrecognizedClientException');
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'KEY_REVOKED' });
    emulator.addCredentials(key);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('revoked-value');
  });

  it('checks the session token of temporary credentials and their expiry on the emulator clock', async () => {
    const temporary = { accessKeyId: 'ASIATEMPORARYKEY0001', secretAccessKey: 'temporary-secret', sessionToken: 'the-right-session-token' };
    emulator.addCredentials({ ...temporary, expiresAt: Date.now() + 120_000 });
    const name = fresh('temporary');
    aws.secrets.create(name, 'temporary-value');
    expect((await client(temporary).send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('temporary-value');

    const mismatch = await rejectionOf(client({ ...temporary, sessionToken: 'another-session-token' }).send(new GetSecretValueCommand({ SecretId: name })));
    expect(mismatch.name).toBe('UnrecognizedClientException');
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'SESSION_TOKEN_MISMATCH' });
    const { sessionToken: _, ...withoutToken } = temporary;
    expect((await rejectionOf(client(withoutToken).send(new GetSecretValueCommand({ SecretId: name })))).name).toBe('UnrecognizedClientException');
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'SESSION_TOKEN_MISSING' });
    expect((await rejectionOf(client({ ...KEY, sessionToken: 'a-token-for-a-long-term-key' }).send(new GetSecretValueCommand({ SecretId: name })))).name).toBe(
      'UnrecognizedClientException',
    );
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'SESSION_TOKEN_UNEXPECTED' });

    emulator.setClockOffset(121);
    const expired = await rejectionOf(client(temporary).send(new GetSecretValueCommand({ SecretId: name })));
    expect(expired.name).toBe('ExpiredTokenException');
    expect(expired.message).toBe('The security token included in the request is expired');
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'CREDENTIALS_EXPIRED', accessKeyId: temporary.accessKeyId });
  });

  it('refuses requests signed for another region or service', async () => {
    const name = fresh('scope');
    aws.secrets.create(name, 'scope-value');
    const otherRegion = await rejectionOf(client(KEY, { region: 'eu-west-1' }).send(new GetSecretValueCommand({ SecretId: name })));
    expect(otherRegion.name).toBe('InvalidSignatureException');
    expect(otherRegion.message).toBe('Credential should be scoped to a valid region.');
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'WRONG_REGION' });
    const otherService = client(KEY, { signingName: 'sts' } as SecretsManagerClientConfig);
    const error = await rejectionOf(otherService.send(new GetSecretValueCommand({ SecretId: name })));
    expect(error.name).toBe('InvalidSignatureException');
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'WRONG_SERVICE' });
  });

  it('refuses requests dated more than 5 minutes from the emulator clock; the SDK corrects its clock from the Date header', async () => {
    const name = fresh('skew');
    aws.secrets.create(name, 'skew-value');
    emulator.setClockOffset(3600);
    const once = await rejectionOf(client().send(new GetSecretValueCommand({ SecretId: name })));
    expect(once.name).toBe('InvalidSignatureException');
    expect(once.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'REQUEST_EXPIRED' });
    // the answer's Date is emulator time: the SDK sees the skew, corrects its clock and retries
    const answer = await client(KEY, { maxAttempts: 2 }).send(new GetSecretValueCommand({ SecretId: name }));
    expect(answer.SecretString).toBe('skew-value');
    expect(answer.$metadata.attempts).toBe(2);
    emulator.setClockOffset(-3600);
    expect((await rejectionOf(client().send(new GetSecretValueCommand({ SecretId: name })))).name).toBe('InvalidSignatureException');
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'REQUEST_NOT_YET_VALID' });
  });

  interface Finalized {
    request: { body: unknown; headers: Record<string, string> };
  }

  it('refuses a body changed after signing, with or without its declared hash', async () => {
    const name = fresh('tamper');
    aws.secrets.create(name, 'tamper-value');
    // as long as the signed body: Content-Length (signed too) stays true
    const other = name.replace('tamper', 'tampex');
    aws.secrets.create(other, 'other-value');
    for (const dropHash of [false, true]) {
      const sm = client();
      // after the signer: the request that goes out is not the one that was signed
      const tamper = (next: (args: Finalized) => Promise<unknown>) => (args: Finalized) => {
        args.request.body = JSON.stringify({ SecretId: other });
        if (dropHash) delete args.request.headers['x-amz-content-sha256'];
        return next(args);
      };
      sm.middlewareStack.addRelativeTo(tamper as unknown as Parameters<SecretsManagerClient['middlewareStack']['addRelativeTo']>[0], {
        relation: 'after',
        toMiddleware: 'httpSigningMiddleware',
        name: 'tamper',
      });
      const error = await rejectionOf(sm.send(new GetSecretValueCommand({ SecretId: name })));
      expect(error.name).toBe('InvalidSignatureException');
      expect(aws.requests().at(-1)).toMatchObject({ reason: dropHash ? 'SIGNATURE_MISMATCH' : 'PAYLOAD_HASH_MISMATCH' });
    }
    expect(aws.secrets.fetches(other)).toBe(0);
  });

  it('answers MissingAuthenticationTokenException to an unsigned request, in the awsJson error shape', async () => {
    const response = await fetch(aws.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' },
      body: JSON.stringify({ SecretId: 'x' }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(await response.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    // Date is the emulator clock
    emulator.setClockOffset(86_400);
    const later = await fetch(aws.endpoint, { method: 'POST', headers: { 'x-amz-target': 'secretsmanager.GetSecretValue' }, body: '{}' });
    expect(Math.abs(Date.parse(later.headers.get('date') ?? '') - (Date.now() + 86_400_000))).toBeLessThan(5000);
  });
});

describe('startEmulator({ aws })', () => {
  it('validates the aws option', async () => {
    const problems = [
      [{ aws: { port: 70_000 } }, 'emulator option aws.port'],
      [{ aws: { accountId: '12345' } }, 'emulator option aws.accountId'],
      [{ aws: { prot: 1 } }, 'emulator option aws.prot: unknown option; did you mean aws.port?'],
      [{ aws: 'yes' }, 'emulator option aws'],
    ] as const;
    for (const [options, message] of problems) {
      const error = await rejectionOf(startEmulator({ postgres: false, ...(options as object) }));
      expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
      expect(error.message).toContain(message);
    }
    // without aws, an emulator with no endpoint is still refused
    expect((await rejectionOf(startEmulator({ postgres: false }))).message).toContain('both endpoints are disabled');
  });

  it('uses the configured account, and closing ends keep-alive connections and stops listening', async () => {
    const own = await startEmulator({ postgres: false, aws: { accountId: '111122223333' }, credentials: [KEY] });
    const endpoint = own.aws?.endpoint ?? '';
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(own.aws?.port).toBe(Number(new URL(endpoint).port));
    expect(own.postgres).toBeUndefined();
    const { arn } = own.aws?.secrets.create('own/db', 'v') ?? { arn: '' };
    expect(arn).toMatch(/^arn:aws:secretsmanager:us-east-1:111122223333:secret:own\/db-/);
    const sm = new SecretsManagerClient({ region: REGION, endpoint, credentials: KEY, maxAttempts: 1 });
    try {
      expect((await sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('v');
      // the SDK keeps its socket open (keep-alive); close() must not wait for it
      await own.close();
      const refused = await new Promise<string>((resolve) => {
        const socket = connect(Number(new URL(endpoint).port), '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve('connected')));
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(refused).toBe('ECONNREFUSED');
      expect((await rejectionOf(sm.send(new GetSecretValueCommand({ SecretId: arn })))).message).toMatch(/ECONNREFUSED|socket hang up|ECONNRESET/);
    } finally {
      sm.destroy();
      await own.close();
    }
    expect(thrownBy(() => own.aws?.secrets.create('bad name', 'v')).message).toContain('not a secret name');
  });
});
