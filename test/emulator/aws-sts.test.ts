import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type AssumeRoleCommandInput, type STSClientConfig } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatedAws, type Emulator } from '../../src/emulator/index.js';
import type { LogFields, Logger } from '../../src/logging.js';
import { startAwsTap, type AwsTap } from '../support/aws-tap.js';
import { KEY, NodeSha256, OTHER_KEY, pgClient, sign } from '../support/emulator.js';
import { rejectionOf } from '../support/rejection.js';
import { SecretNeedles } from '../support/iam-e2e/secret-scan.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/app-db`;
const LONG_ROLE = `arn:aws:iam::${ACCOUNT}:role/service/long-sessions`;
const EXTERNAL_ROLE = `arn:aws:iam::210987654321:role/partner`;
const EXTERNAL_ID = 'partner-external-id-42';
const NARROW_ROLE = `arn:aws:iam::${ACCOUNT}:role/only-other-key`;

let emulator: Emulator;
let aws: EmulatedAws;
let postgresPort: number;
const logLines: string[] = [];
const clients: Array<{ destroy(): void }> = [];

/** Every line the emulator logs, fields included, for the leak scan. */
const capturingLogger: Logger = Object.fromEntries(
  (['debug', 'info', 'warn', 'error'] as const).map((level) => [level, (message: string, fields?: LogFields) => void logLines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`)]),
) as unknown as Logger;

beforeAll(async () => {
  // the embedded PGlite serves the RDS IAM sessions of the token tests
  emulator = await startEmulator({ aws: true, credentials: [KEY, OTHER_KEY], logger: capturingLogger });
  if (!emulator.aws || !emulator.postgres) throw new Error('no AWS or PostgreSQL endpoint');
  aws = emulator.aws;
  postgresPort = emulator.postgres.port;
  aws.sts.defineRole(ROLE);
  aws.sts.defineRole(LONG_ROLE, { maxDurationSeconds: 7200 });
  aws.sts.defineRole(EXTERNAL_ROLE, { externalId: EXTERNAL_ID });
  aws.sts.defineRole(NARROW_ROLE, { trustedAccessKeyIds: [OTHER_KEY.accessKeyId] });
}, 60_000);

afterEach(() => emulator.setClockOffset(0));

afterAll(async () => {
  for (const client of clients) client.destroy();
  await emulator?.close();
});

type Credentials = STSClientConfig['credentials'];

function sts(credentials: Credentials = KEY, config: STSClientConfig = {}): STSClient {
  const client = new STSClient({ region: REGION, endpoint: aws.endpoint, credentials, maxAttempts: 1, ...config });
  clients.push(client);
  return client;
}

function secretsManager(credentials: Credentials, endpoint = aws.endpoint, maxAttempts = 1): SecretsManagerClient {
  const client = new SecretsManagerClient({ region: REGION, endpoint, credentials, maxAttempts });
  clients.push(client);
  return client;
}

async function assume(input: Partial<AssumeRoleCommandInput> = {}, credentials: Credentials = KEY) {
  const answer = await sts(credentials).send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'session-1', DurationSeconds: 900, ...input }));
  const issued = answer.Credentials;
  if (!issued?.AccessKeyId || !issued.SecretAccessKey || !issued.SessionToken || !issued.Expiration) throw new Error('AssumeRole answered without credentials');
  return { answer, credentials: { accessKeyId: issued.AccessKeyId, secretAccessKey: issued.SecretAccessKey, sessionToken: issued.SessionToken }, expiration: issued.Expiration };
}

describe('STS: AssumeRole', () => {
  it('issues temporary credentials that expire on the emulator clock, and logs them without secrets', async () => {
    // within the 5 minutes of skew AWS tolerates, so the SDK's clock needs no correction
    emulator.setClockOffset(240);
    const before = Math.floor((Date.now() + 240_000) / 1000) * 1000;
    const { answer, credentials, expiration } = await assume({ RoleSessionName: 'first-session' });
    const after = Date.now() + 240_000;
    expect(credentials.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(credentials.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(credentials.sessionToken.length).toBeGreaterThan(200);
    expect(expiration.getTime() % 1000).toBe(0);
    expect(expiration.getTime()).toBeGreaterThanOrEqual(before + 900_000);
    expect(expiration.getTime()).toBeLessThanOrEqual(after + 900_000);
    expect(answer.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/app-db/first-session`);
    expect(answer.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-7]{17}:first-session$/);
    expect(answer.$metadata.httpStatusCode).toBe(200);
    expect(aws.sts.assumed().at(-1)).toEqual({
      roleArn: ROLE,
      roleSessionName: 'first-session',
      sourceAccessKeyId: KEY.accessKeyId,
      issuedAccessKeyId: credentials.accessKeyId,
      expiresAt: expiration,
    });
    // the same role: the same AROA id; another session: other keys
    const second = await assume({ RoleSessionName: 'second-session' });
    expect(second.answer.AssumedRoleUser?.AssumedRoleId?.split(':')[0]).toBe(answer.AssumedRoleUser?.AssumedRoleId?.split(':')[0]);
    expect(second.credentials.accessKeyId).not.toBe(credentials.accessKeyId);
  });

  it('lasts 3600 seconds by default, and the role path is not part of the assumed-role ARN', async () => {
    const { answer, expiration } = await assume({ RoleArn: LONG_ROLE, DurationSeconds: undefined });
    expect(expiration.getTime() - Date.now()).toBeGreaterThan(3_595_000);
    expect(expiration.getTime() - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect(answer.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/long-sessions/session-1`);
    const long = await assume({ RoleArn: LONG_ROLE, DurationSeconds: 7200 });
    expect(long.expiration.getTime() - Date.now()).toBeGreaterThan(7_195_000);
  });

  it.each([
    ['under 900 seconds', ROLE, 899, '1 validation error detected: Value \'899\' at \'durationSeconds\' failed to satisfy constraint: Member must have value greater than or equal to 900'],
    ['over 43200 seconds', LONG_ROLE, 43_201, '1 validation error detected: Value \'43201\' at \'durationSeconds\' failed to satisfy constraint: Member must have value less than or equal to 43200'],
    ['over the role\'s MaxSessionDuration (3600 by default)', ROLE, 3601, 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.'],
    ['over a MaxSessionDuration of 7200', LONG_ROLE, 7201, 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.'],
  ])('refuses DurationSeconds %s with ValidationError', async (_name, roleArn, duration, message) => {
    const error = await rejectionOf(assume({ RoleArn: roleArn, DurationSeconds: duration }));
    expect(error.name).toBe('ValidationError');
    expect(error.message).toBe(message);
    expect(error.$metadata).toMatchObject({ httpStatusCode: 400 });
  });

  it('refuses an invalid RoleSessionName with ValidationError', async () => {
    expect((await rejectionOf(assume({ RoleSessionName: 'has spaces' }))).name).toBe('ValidationError');
    expect((await rejectionOf(assume({ RoleSessionName: 'x' }))).name).toBe('ValidationError');
  });

  it('caps role chaining at one hour, as AWS does', async () => {
    const { credentials } = await assume({ RoleArn: LONG_ROLE, DurationSeconds: 3600 });
    const error = await rejectionOf(assume({ RoleArn: LONG_ROLE, DurationSeconds: 3601 }, credentials));
    expect(error.name).toBe('ValidationError');
    expect(error.message).toContain('role chaining');
    const chained = await assume({ RoleArn: ROLE, RoleSessionName: 'chained' }, credentials);
    expect(aws.sts.assumed().at(-1)).toMatchObject({ sourceAccessKeyId: credentials.accessKeyId, issuedAccessKeyId: chained.credentials.accessKeyId });
  });

  it('answers AccessDenied for a role it does not know, a wrong or missing ExternalId and an untrusted caller', async () => {
    const cases: Array<[Partial<AssumeRoleCommandInput>, Credentials]> = [
      [{ RoleArn: `arn:aws:iam::${ACCOUNT}:role/undefined-role` }, KEY],
      [{ RoleArn: EXTERNAL_ROLE }, KEY],
      [{ RoleArn: EXTERNAL_ROLE, ExternalId: 'not-the-external-id' }, KEY],
      [{ RoleArn: NARROW_ROLE }, KEY],
    ];
    for (const [input, credentials] of cases) {
      const error = await rejectionOf(assume(input, credentials));
      expect(error.name).toBe('AccessDenied');
      expect(error.message).toBe(`User: arn:aws:iam::${ACCOUNT}:user/${KEY.accessKeyId} is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`);
      expect(error.$metadata).toMatchObject({ httpStatusCode: 403 });
      expect(error).toMatchObject({ Error: { Type: 'Sender', Code: 'AccessDenied' } });
    }
    const partner = await assume({ RoleArn: EXTERNAL_ROLE, ExternalId: EXTERNAL_ID });
    expect(partner.answer.AssumedRoleUser?.Arn).toBe('arn:aws:sts::210987654321:assumed-role/partner/session-1');
    expect((await assume({ RoleArn: NARROW_ROLE }, OTHER_KEY)).credentials.accessKeyId).toMatch(/^ASIA/);
  });

  it('refuses role definitions it could not honour', () => {
    expect(() => aws.sts.defineRole('arn:aws:iam::123:role/short-account')).toThrow(/not a role ARN/);
    expect(() => aws.sts.defineRole(`arn:aws:iam::${ACCOUNT}:user/not-a-role`)).toThrow(/not a role ARN/);
    expect(() => aws.sts.defineRole(ROLE, { maxDurationSeconds: 900 })).toThrow(/maxDurationSeconds/);
    expect(() => aws.sts.defineRole(ROLE, { maxDurationSeconds: 43_201 })).toThrow(/maxDurationSeconds/);
  });
});

describe('STS: GetCallerIdentity', () => {
  it('names a long-term key as an IAM user of the account', async () => {
    const identity = await sts(KEY).send(new GetCallerIdentityCommand({}));
    expect(identity.Account).toBe(ACCOUNT);
    expect(identity.Arn).toBe(`arn:aws:iam::${ACCOUNT}:user/${KEY.accessKeyId}`);
    expect(identity.UserId).toMatch(/^AIDA[A-Z2-7]{17}$/);
    expect((await sts(OTHER_KEY).send(new GetCallerIdentityCommand({}))).UserId).not.toBe(identity.UserId);
  });

  it('names assumed credentials (from fromTemporaryCredentials) as the assumed role', async () => {
    const provider = fromTemporaryCredentials({
      masterCredentials: KEY,
      params: { RoleArn: ROLE, RoleSessionName: 'provider-session', DurationSeconds: 900 },
      clientConfig: { region: REGION, endpoint: aws.endpoint },
    });
    const identity = await sts(provider).send(new GetCallerIdentityCommand({}));
    const issued = aws.sts.assumed().at(-1);
    expect(issued).toMatchObject({ roleArn: ROLE, roleSessionName: 'provider-session', sourceAccessKeyId: KEY.accessKeyId });
    expect(identity.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/app-db/provider-session`);
    expect(identity.UserId).toMatch(/^AROA[A-Z2-7]{17}:provider-session$/);
    expect(identity.Account).toBe(ACCOUNT);
    expect(aws.requests().at(-1)).toMatchObject({ service: 'sts', action: 'GetCallerIdentity', accessKeyId: issued?.issuedAccessKeyId, ok: true });
  });
});

describe('STS: SigV4 authentication', () => {
  it('answers InvalidClientTokenId for an unknown key and SignatureDoesNotMatch for a wrong secret', async () => {
    const unknown = await rejectionOf(sts({ accessKeyId: 'AKIAUNKNOWNKEY000002', secretAccessKey: 'whatever' }).send(new GetCallerIdentityCommand({})));
    expect(unknown.name).toBe('InvalidClientTokenId');
    expect(unknown.message).toBe('The security token included in the request is invalid.');
    expect(unknown.$metadata).toMatchObject({ httpStatusCode: 403 });
    expect(aws.requests().at(-1)).toMatchObject({ service: 'sts', action: 'GetCallerIdentity', reason: 'UNKNOWN_KEY', errorCode: 'InvalidClientTokenId' });
    const wrong = await rejectionOf(sts({ ...KEY, secretAccessKey: 'not-the-secret' }).send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 's1' })));
    expect(wrong.name).toBe('SignatureDoesNotMatch');
    expect(aws.requests().at(-1)).toMatchObject({ action: 'AssumeRole', reason: 'SIGNATURE_MISMATCH' });
  });

  it('refuses a revoked assumed key and a session token that is not its own', async () => {
    const { credentials } = await assume({ RoleSessionName: 'to-revoke' });
    const other = await assume({ RoleSessionName: 'other' });
    const swapped = await rejectionOf(sts({ ...credentials, sessionToken: other.credentials.sessionToken }).send(new GetCallerIdentityCommand({})));
    expect(swapped.name).toBe('InvalidClientTokenId');
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'SESSION_TOKEN_MISMATCH', accessKeyId: credentials.accessKeyId });
    const smSwapped = await rejectionOf(secretsManager({ ...credentials, sessionToken: other.credentials.sessionToken }).send(new GetSecretValueCommand({ SecretId: 'x' })));
    expect(smSwapped.name).toBe('UnrecognizedClientException');
    emulator.revoke(credentials.accessKeyId);
    expect((await rejectionOf(sts(credentials).send(new GetCallerIdentityCommand({})))).name).toBe('InvalidClientTokenId');
    expect(aws.requests().at(-1)).toMatchObject({ reason: 'KEY_REVOKED' });
  });

  it('expires assumed credentials on the emulator clock: ExpiredToken from STS, ExpiredTokenException from Secrets Manager', async () => {
    aws.secrets.create('sts/expiring', { password: 'expiring-pw' });
    const { credentials: assumedAtStart } = await assume({ RoleSessionName: 'expiring-static' });
    const provider = fromTemporaryCredentials({
      masterCredentials: KEY,
      params: { RoleArn: ROLE, RoleSessionName: 'expiring', DurationSeconds: 900 },
      clientConfig: { region: REGION, endpoint: aws.endpoint },
    });
    // two attempts: a shifted emulator clock makes the first request of a client dated too far
    // in the past; the SDK corrects its clock from the answer's Date and signs again
    const sm = secretsManager(provider, aws.endpoint, 2);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'sts/expiring' }))).SecretString).toBe('{"password":"expiring-pw"}');
    const issued = aws.sts.assumed().at(-1)?.issuedAccessKeyId;
    expect(aws.secrets.requests().at(-1)).toMatchObject({ action: 'GetSecretValue', secretName: 'sts/expiring', accessKeyId: issued, ok: true });

    // a minute short of the expiry: the real seconds this test takes under load must not reach it
    emulator.setClockOffset(840);
    const stillValid = await sm.send(new GetSecretValueCommand({ SecretId: 'sts/expiring' }));
    expect(stillValid.SecretString).toBe('{"password":"expiring-pw"}');
    expect(stillValid.$metadata.attempts).toBe(2);
    expect(aws.requests().at(-2)).toMatchObject({ reason: 'REQUEST_EXPIRED', errorCode: 'InvalidSignatureException' });
    emulator.setClockOffset(960);
    // the SDK still thinks them valid (its clock did not move): the service refuses them
    const expired = await rejectionOf(sm.send(new GetSecretValueCommand({ SecretId: 'sts/expiring' })));
    expect(expired.name).toBe('ExpiredTokenException');
    expect(expired.message).toBe('The security token included in the request is expired');
    expect(aws.requests().at(-1)).toMatchObject({ service: 'secretsmanager', reason: 'CREDENTIALS_EXPIRED', accessKeyId: issued });
    // (a new client would resolve the provider again, which assumes the role anew)
    const stsExpired = await rejectionOf(sts(assumedAtStart).send(new GetCallerIdentityCommand({})));
    expect(stsExpired.name).toBe('ExpiredToken');
    expect(stsExpired.message).toBe('The security token included in the request is expired');
    expect(stsExpired.$metadata).toMatchObject({ httpStatusCode: 400 });
    // the long-term key still works at that time (the SDK corrects its clock from the Date header)
    expect((await sts(KEY, { maxAttempts: 2 }).send(new GetCallerIdentityCommand({}))).Account).toBe(ACCOUNT);
  });
});

describe('STS over GET (awsQuery allows the parameters in the query string)', () => {
  /** A GET signed by smithy's SigV4 signer on its own, sent with node:http: the canonical query is the emulator's to get right. */
  async function signedGet(query: Record<string, string>, credentials: { accessKeyId: string; secretAccessKey: string } = KEY): Promise<{ status: number; body: string }> {
    const port = aws.port;
    const signer = new SignatureV4({ service: 'sts', region: REGION, credentials, sha256: NodeSha256 });
    const signed = await signer.sign({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port, path: '/', query, headers: { host: `127.0.0.1:${port}` } });
    const encode = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const path = `/?${Object.entries(query).map(([key, value]) => `${encode(key)}=${encode(value)}`).join('&')}`;
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest({ host: '127.0.0.1', port, method: 'GET', path, headers: signed.headers, agent: false }, (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  it('verifies the canonical query (encoded, sorted) and answers in XML', async () => {
    const identity = await signedGet({ Version: '2011-06-15', Action: 'GetCallerIdentity' });
    expect(identity.status).toBe(200);
    expect(identity.body).toContain(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::${ACCOUNT}:user/${KEY.accessKeyId}</Arn>`);
    const assumed = await signedGet({ Action: 'AssumeRole', Version: '2011-06-15', RoleArn: ROLE, RoleSessionName: 'get=session@x,y', DurationSeconds: '900' });
    expect(assumed.status).toBe(200);
    expect(assumed.body).toContain(`<Arn>arn:aws:sts::${ACCOUNT}:assumed-role/app-db/get=session@x,y</Arn>`);
    const unknownAction = await signedGet({ Action: 'GetSessionToken', Version: '2011-06-15' });
    expect(unknownAction.status).toBe(400);
    expect(unknownAction.body).toMatch(/<ErrorResponse xmlns="[^"]+"><Error><Type>Sender<\/Type><Code>InvalidAction<\/Code><Message>[^<]+<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/);
    const wrongVersion = await signedGet({ Action: 'GetCallerIdentity', Version: '2010-01-01' });
    expect(wrongVersion.body).toContain('<Code>InvalidAction</Code>');
    const wrongSecret = await signedGet({ Action: 'GetCallerIdentity', Version: '2011-06-15' }, { ...KEY, secretAccessKey: 'nope' });
    expect(wrongSecret.status).toBe(403);
    expect(wrongSecret.body).toContain('<Code>SignatureDoesNotMatch</Code>');
  });
});

describe('STS credentials at the RDS IAM endpoint', () => {
  it('accepts a token signed with assumed credentials, until they expire on the emulator clock', async () => {
    const { credentials } = await assume({ RoleSessionName: 'rds-session', DurationSeconds: 900 });
    const accepted = pgClient(emulator, await sign({ port: postgresPort, credentials }));
    await accepted.connect();
    expect((await accepted.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n).toBe(1);
    await accepted.end();
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ decision: 'allow', accessKeyId: credentials.accessKeyId });

    // a token 10 minutes old is still valid, and so are the credentials
    emulator.setClockOffset(600);
    const later = pgClient(emulator, await sign({ port: postgresPort, credentials }));
    await later.connect();
    await later.end();
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ decision: 'allow', accessKeyId: credentials.accessKeyId });

    emulator.setClockOffset(960);
    const refused = await rejectionOf(pgClient(emulator, await sign({ port: postgresPort, credentials })).connect());
    expect(refused).toMatchObject({ code: '28000' });
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ decision: 'deny', reason: 'CREDENTIALS_EXPIRED', accessKeyId: credentials.accessKeyId });
  });
});

describe('no secret leaves the endpoint where it should not', () => {
  let tap: AwsTap;

  beforeAll(async () => {
    tap = await startAwsTap({ host: '127.0.0.1', port: aws.port });
  });

  afterAll(async () => {
    await tap?.close();
  });

  it('in answers, error messages, request logs, auth log and emulator log', async () => {
    // random: no two share a piece, so a finding names the right secret
    const [current, pendingValue, otherValue, conflicting, wrongSecret, unknownSecret, wrongToken] = Array.from({ length: 7 }, () => randomBytes(24).toString('base64'));
    const secretValues = [current ?? '', pendingValue ?? ''];
    aws.secrets.create('leak/db', { username: 'leak_user', password: secretValues[0] });
    aws.secrets.create('leak/other', otherValue ?? '');
    const errors: string[] = [];
    const fail = async (promise: Promise<unknown>) => {
      const error = await rejectionOf(promise);
      errors.push(`${error.name}: ${error.message} ${JSON.stringify(error)}`);
    };

    const stsTap = sts(KEY, { endpoint: tap.endpoint });
    const issued = await stsTap.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'leak', DurationSeconds: 900 }));
    const assumedCredentials = {
      accessKeyId: issued.Credentials?.AccessKeyId ?? '',
      secretAccessKey: issued.Credentials?.SecretAccessKey ?? '',
      sessionToken: issued.Credentials?.SessionToken ?? '',
    };
    const smAssumed = secretsManager(assumedCredentials, tap.endpoint);
    const smKey = secretsManager(KEY, tap.endpoint);
    await smAssumed.send(new GetSecretValueCommand({ SecretId: 'leak/db' }));
    const pending = await smKey.send(new PutSecretValueCommand({ SecretId: 'leak/db', SecretString: JSON.stringify({ password: secretValues[1] }), VersionStages: ['AWSPENDING'] }));
    // the pending version's id again with another value: ResourceExistsException
    await fail(smKey.send(new PutSecretValueCommand({ SecretId: 'leak/db', SecretString: conflicting ?? '', ClientRequestToken: pending.VersionId ?? '' })));
    await fail(secretsManager({ ...KEY, secretAccessKey: wrongSecret ?? '' }, tap.endpoint).send(new GetSecretValueCommand({ SecretId: 'leak/db' })));
    await fail(secretsManager({ ...assumedCredentials, sessionToken: wrongToken ?? '' }, tap.endpoint).send(new GetSecretValueCommand({ SecretId: 'leak/db' })));
    await fail(secretsManager({ accessKeyId: 'AKIALEAKSCANUNKNOWN1', secretAccessKey: unknownSecret ?? '' }, tap.endpoint).send(new GetSecretValueCommand({ SecretId: 'leak/db' })));
    aws.secrets.denyAccess('leak/other');
    await fail(smKey.send(new GetSecretValueCommand({ SecretId: 'leak/other' })));
    await fail(sts({ ...KEY, secretAccessKey: wrongSecret ?? '' }, { endpoint: tap.endpoint }).send(new GetCallerIdentityCommand({})));
    await fail(sts({ ...assumedCredentials, sessionToken: wrongToken ?? '' }, { endpoint: tap.endpoint }).send(new GetCallerIdentityCommand({})));
    await fail(stsTap.send(new AssumeRoleCommand({ RoleArn: EXTERNAL_ROLE, RoleSessionName: 'leak', ExternalId: 'leak-scan-wrong-external' })));
    await stsTap.send(new GetCallerIdentityCommand({}));
    emulator.setClockOffset(960);
    await fail(smAssumed.send(new GetSecretValueCommand({ SecretId: 'leak/db' })));
    await fail(sts(assumedCredentials, { endpoint: tap.endpoint }).send(new GetCallerIdentityCommand({})));

    const needles = new SecretNeedles()
      .add(secretValues[0] ?? '', 'current secret value')
      .add(secretValues[1] ?? '', 'pending secret value')
      .add(otherValue ?? '', 'denied secret value')
      .add(conflicting ?? '', 'refused secret value')
      .add(KEY.secretAccessKey, 'secret key of KEY')
      .add(OTHER_KEY.secretAccessKey, 'secret key of OTHER_KEY')
      .add(wrongSecret ?? '', 'a wrong secret key')
      .add(unknownSecret ?? '', 'secret of an unknown key')
      .add(wrongToken ?? '', 'a wrong session token')
      .add(assumedCredentials.secretAccessKey, 'assumed secret key')
      .add(assumedCredentials.sessionToken, 'assumed session token');
    const exchanges = tap.exchanges();
    expect(exchanges.length).toBe(14);
    const isValueAnswer = (exchange: (typeof exchanges)[number]) =>
      exchange.status === 200 && (exchange.operation === 'secretsmanager.GetSecretValue' || exchange.operation === 'AssumeRole');
    // the two answers whose job is to carry a secret carry only theirs
    const valueAnswers = exchanges.filter(isValueAnswer);
    expect(valueAnswers.map((exchange) => exchange.operation)).toEqual(['AssumeRole', 'secretsmanager.GetSecretValue']);
    expect(valueAnswers[0]?.body).toContain(assumedCredentials.sessionToken);
    expect(valueAnswers[1]?.body).toContain(secretValues[0]);
    const carried = new SecretNeedles()
      .add(secretValues[1] ?? '', 'pending secret value')
      .add(otherValue ?? '', 'denied secret value')
      .add(KEY.secretAccessKey, 'secret key of KEY')
      .add(wrongToken ?? '', 'a wrong session token');
    expect(carried.findIn(valueAnswers.map((exchange) => exchange.body))).toEqual([]);

    const others = exchanges.filter((exchange) => !isValueAnswer(exchange)).map((exchange) => `${exchange.operation} ${exchange.status} ${JSON.stringify(exchange.headers)} ${exchange.body}`);
    expect(others.some((text) => text.includes('InvalidSignatureException'))).toBe(true);
    expect(others.some((text) => text.includes('<Code>ExpiredToken</Code>'))).toBe(true);
    expect(errors).toHaveLength(10);
    const logs = [
      JSON.stringify(aws.requests()),
      JSON.stringify(aws.secrets.requests()),
      JSON.stringify(aws.sts.assumed()),
      JSON.stringify(emulator.authLog.entries()),
      ...logLines,
    ];
    expect(logLines.some((line) => line.includes('AWS request refused'))).toBe(true);
    expect(needles.findIn([...others, ...errors, ...logs])).toEqual([]);
  });
});
