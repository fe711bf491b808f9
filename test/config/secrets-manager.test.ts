// The `secrets_manager` block and the credential keys of `aws_iam_auth` (DESIGN §12): defaults,
// the environment, the plan (the secret's region, the DSN's password stripped, the role), and
// errors naming the key.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { planConnection } from '../../src/config/plan.js';
import { ConfigError } from '../../src/errors.js';
import { MYSQL_DSN, PG_DSN, SECRET, SQLITE_DSN } from '../support/config.js';
import { rejectionOf } from '../support/rejection.js';

const object = (raw: unknown, env: Record<string, string> = {}) => validateConfig(raw, { source: 'object', env });
const one = (connection: object, env?: Record<string, string>) => object({ connections: { app: { dsn: PG_DSN, ...connection } } }, env).connections.app!;
const RDS_DSN = `postgresql://app:${SECRET}@mydb.cluster-abc123.eu-west-1.rds.amazonaws.com:5432/app`;

describe('secrets_manager', () => {
  it('takes secret_id, region, refresh and endpoint; refresh defaults to 1h', () => {
    expect(one({ secrets_manager: { secret_id: 'prod/app' } }).secrets_manager).toEqual({ secret_id: 'prod/app', refresh: 3_600_000 });
    expect(one({ secrets_manager: { secret_id: 'prod/app', region: 'eu-west-1', refresh: '15m', endpoint: 'https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com' } }).secrets_manager).toEqual({
      secret_id: 'prod/app',
      region: 'eu-west-1',
      refresh: 900_000,
      endpoint: 'https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com',
    });
  });

  it('is set from the environment like every nested key, with its source', () => {
    const config = object({}, { DB_APP_DSN: PG_DSN, DB_APP_SECRETS_MANAGER_SECRET_ID: 'prod/app', DB_APP_SECRETS_MANAGER_REFRESH: '30m' });
    expect(config.connections.app!.secrets_manager).toEqual({ secret_id: 'prod/app', refresh: 1_800_000 });
    expect(config.sources['connections.app.secrets_manager.secret_id']).toBe('env DB_APP_SECRETS_MANAGER_SECRET_ID');
    expect(config.sources['connections.app.secrets_manager.refresh']).toBe('env DB_APP_SECRETS_MANAGER_REFRESH');
  });

  it.each([
    [{ region: 'us-east-1' }, 'connections.app.secrets_manager.secret_id', 'is required: the name or ARN of the secret holding the login (or set DB_APP_SECRETS_MANAGER_SECRET_ID)'],
    [{ secret_id: '' }, 'connections.app.secrets_manager.secret_id', 'expected a secret name or ARN'],
    [{ secret_id: 'x', region: 'Europe' }, 'connections.app.secrets_manager.region', 'expected an AWS region name such as us-east-1'],
    [{ secret_id: 'x', refresh: '0s' }, 'connections.app.secrets_manager.refresh', ''],
    [{ secret_id: 'x', endpoint: 'secretsmanager.local' }, 'connections.app.secrets_manager.endpoint', 'expected an endpoint URL such as https://secretsmanager.us-east-1.amazonaws.com'],
    [{ secret_id: 'x', secretid: 'y' }, 'connections.app.secrets_manager.secretid', 'unknown key; did you mean `secret_id`?'],
  ])('%j is an error naming the key', async (secrets_manager, path, message) => {
    const error = await rejectionOf(() => one({ secrets_manager }), ConfigError);
    expect(error.message).toContain(`${path}: ${message}`);
  });

  it('an endpoint URL with credentials in it is refused without echoing them', async () => {
    const error = await rejectionOf(() => one({ secrets_manager: { secret_id: 'x', endpoint: 'https://user:hunter2@secrets.local' } }), ConfigError);
    expect(error.message).toContain('connections.app.secrets_manager.endpoint: expected an endpoint URL');
    expect(error.message).not.toContain('hunter2');
  });

  it('is refused with IAM on (one login or the other) and on SQLite (no login)', async () => {
    const both = await rejectionOf(() => one({ aws_iam_auth: { enabled: true }, secrets_manager: { secret_id: 'x', region: 'us-east-1' } }), ConfigError);
    expect(both.message).toContain('connections.app.secrets_manager: cannot be used with aws_iam_auth.enabled: true');
    const sqlite = await rejectionOf(() => object({ connections: { local: { dsn: SQLITE_DSN, secrets_manager: { secret_id: 'x' } } } }), ConfigError);
    expect(sqlite.message).toContain('connections.local.secrets_manager: SQLite has no login');
  });

  it('plans the secret: the DSN password is stripped; the region from the key, the ARN, the RDS hostname or AWS_REGION', () => {
    const plan = planConnection(one({ secrets_manager: { secret_id: 'prod/app', region: 'us-west-2' } }));
    expect(plan.passwordStripped).toBe(true);
    expect(plan.dsn.password).toBeUndefined();
    expect(JSON.stringify(plan)).not.toContain(SECRET);
    expect(plan.secret).toEqual({ secretId: 'prod/app', region: 'us-west-2', regionSource: 'secrets_manager.region', refreshMs: 3_600_000 });

    const arn = 'arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:prod/app-AbCdEf';
    expect(planConnection(one({ secrets_manager: { secret_id: arn } })).secret).toMatchObject({ region: 'ap-southeast-2', regionSource: 'secret ARN' });
    expect(planConnection(one({ dsn: RDS_DSN, secrets_manager: { secret_id: 'prod/app' } })).secret).toMatchObject({ region: 'eu-west-1', regionSource: 'hostname' });
    const previous = process.env.AWS_REGION;
    process.env.AWS_REGION = 'ca-central-1';
    try {
      expect(planConnection(one({ dsn: MYSQL_DSN, secrets_manager: { secret_id: 'prod/app' } })).secret).toMatchObject({ region: 'ca-central-1', regionSource: 'AWS_REGION' });
    } finally {
      if (previous === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = previous;
    }
  });

  it('without any region it is an error naming secrets_manager.region', async () => {
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      const error = await rejectionOf(() => planConnection(one({ secrets_manager: { secret_id: 'prod/app' } })), ConfigError);
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain('secrets_manager.region is needed');
      expect(error.solutions).toContain('set secrets_manager.region (e.g. us-east-1)');
    } finally {
      for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
    }
  });
});

describe('where the AWS credentials come from (aws_iam_auth)', () => {
  const role = 'arn:aws:iam::123456789012:role/app-db';

  it('profile and role_arn with its session name, external id and duration are taken and planned, for IAM and Secrets Manager alike', () => {
    const iam = planConnection(one({ dsn: RDS_DSN, aws_iam_auth: { enabled: true, profile: 'prod', role_arn: role, role_session_name: 'api', external_id: 'ext-1234', duration: '15m' } }));
    expect(iam.credentials).toEqual({ profile: 'prod', stsRegion: 'eu-west-1', role: { arn: role, sessionName: 'api', externalId: 'ext-1234', durationSeconds: 900 } });
    // the external id is only said to be set
    expect(JSON.parse(JSON.stringify(iam)).credentials).toMatchObject({ profile: 'prod', roleArn: role, roleSessionName: 'api', externalId: 'set', roleDuration: '15m' });
    expect(JSON.stringify(iam)).not.toContain('ext-1234');

    const secret = planConnection(one({ aws_iam_auth: { role_arn: role }, secrets_manager: { secret_id: 'prod/app', region: 'us-east-2' } }));
    expect(secret.credentials).toEqual({ stsRegion: 'us-east-2', role: { arn: role, sessionName: 'dbmodule-app', durationSeconds: 3600 } });
  });

  it('ignored, with a warning, on a connection that uses no AWS credentials; role options without role_arn too', () => {
    const config = object({ default: 'app', connections: { app: { dsn: PG_DSN, aws_iam_auth: { profile: 'prod' } }, other: { dsn: RDS_DSN, aws_iam_auth: { enabled: true, external_id: 'x1' } } } });
    expect(config.warnings).toContain('connections.app.aws_iam_auth: profile is ignored: the connection uses no AWS credentials (neither aws_iam_auth.enabled nor secrets_manager)');
    expect(config.warnings).toContain('connections.other.aws_iam_auth: external_id is ignored without aws_iam_auth.role_arn');
    expect(planConnection(config.connections.app!).credentials).toBeUndefined();
  });

  it.each([
    [{ role_arn: 'arn:aws:iam::123:role/x' }, 'connections.app.aws_iam_auth.role_arn', 'expected an IAM role ARN such as arn:aws:iam::123456789012:role/app'],
    [{ role_arn: role, role_session_name: 'a b' }, 'connections.app.aws_iam_auth.role_session_name', 'expected a role session name: 2 to 64 letters, digits or +=,.@_-'],
    [{ role_arn: role, duration: '5m' }, 'connections.app.aws_iam_auth.duration', '(300000ms) must be between 15m and 12h'],
    [{ role_arn: role, duration: '13h' }, 'connections.app.aws_iam_auth.duration', '(46800000ms) must be between 15m and 12h'],
    [{ profile: 'has space' }, 'connections.app.aws_iam_auth.profile', 'expected a profile name of the shared AWS config files'],
    // a DSN pasted into the wrong variable is refused, not kept (and printed) as a profile name
    [{ profile: 'postgres://app:pw@db.example.com/app' }, 'connections.app.aws_iam_auth.profile', 'expected a profile name of the shared AWS config files (letters, digits and _.-+@=,)'],
  ])('%j is an error naming the key', async (aws_iam_auth, path, message) => {
    const error = await rejectionOf(() => one({ dsn: RDS_DSN, aws_iam_auth: { enabled: true, ...aws_iam_auth } }), ConfigError);
    expect(error.message).toContain(`${path}: ${message}`);
    expect(error.message).not.toContain('app:pw@');
  });
});
