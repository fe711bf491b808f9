// Secrets Manager with the connection's own AWS credentials (DESIGN §12): a role assumed through
// the emulator's STS (aws_iam_auth.role_arn, with IAM off) reads the secret, and a role the
// credentials may not assume fails the opening with AWS_CREDENTIALS_UNAVAILABLE naming the role.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../src/index.js';
import { uniqueName } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { sharedMariadbLogins, type LoginServer } from '../support/secrets/login-servers.js';
import { KEY, NARROW_ROLE, ROLE, startStsWorld, type StsWorld } from '../support/iam/sts.js';

let world: StsWorld;
let server: LoginServer;

beforeAll(async () => {
  world = await startStsWorld();
  server = await sharedMariadbLogins();
});

afterAll(async () => {
  await server?.close();
  await world?.close();
  world?.restore();
});

function config(secret: string, role: string) {
  return {
    connections: {
      app: {
        driver: 'mysql',
        dsn: server.dsn('placeholder', 'x'),
        aws_iam_auth: { role_arn: role, role_session_name: 'secrets-reader' },
        secrets_manager: { secret_id: secret, region: 'us-east-1', endpoint: world.aws.endpoint },
      },
    },
  };
}

it('a role assumed with the given credentials reads the secret: the request is signed with the role’s key', async () => {
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const user = await server.createUser('sm_role', password);
  const secret = uniqueName('app/role');
  world.aws.secrets.create(secret, { username: user, password });
  await using db = await createDatabase(config(secret, ROLE), { credentials: KEY, logger: captureLogger().logger });
  expect((await db.connection().query<{ u: string }>(server.whoami)).rows[0]!.u).toBe(user);
  const assumed = world.aws.sts.assumed().filter((entry) => entry.roleSessionName === 'secrets-reader');
  expect(assumed.map((entry) => [entry.roleArn, entry.sourceAccessKeyId])).toEqual([[ROLE, KEY.accessKeyId]]);
  const read = world.aws.secrets.requests().filter((request) => request.secretName === secret);
  expect(read.map((request) => [request.action, request.accessKeyId, request.ok])).toEqual([['GetSecretValue', assumed[0]!.issuedAccessKeyId, true]]);
});

it('a role the credentials may not assume: AWS_CREDENTIALS_UNAVAILABLE naming the role, and no secret read', async () => {
  const secret = uniqueName('app/narrow');
  world.aws.secrets.create(secret, { username: 'nobody', password: 'never-read-pw' });
  const error = await createDatabase(config(secret, NARROW_ROLE), { credentials: KEY, logger: captureLogger().logger }).catch((failure: unknown) => failure);
  expect(error).toMatchObject({ code: 'AWS_CREDENTIALS_UNAVAILABLE', connection: 'app' });
  expect((error as Error).message).toContain(NARROW_ROLE);
  expect(world.aws.secrets.fetches(secret)).toBe(0);
});
