import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, DbModuleError, type Database } from '../../src/index.js';
import { credentialsFor } from '../../src/iam/index.js';
import { createCredentialCache } from '../../src/iam/credentials.js';
import { planConnection } from '../../src/config/plan.js';
import { validateConfig } from '../../src/config/validate.js';
import { captureLogger } from '../support/logger.js';
import { rejectionOf } from '../support/rejection.js';
import { iamConnection } from '../support/iam-e2e/rds.js';
import { awsFiles, KEY, OTHER_KEY, OTHER_ROLE, ROLE, startStsWorld, type StsWorld } from '../support/iam/sts.js';

let world: StsWorld;
let files: ReturnType<typeof awsFiles>;
let db: Database | undefined;

// static keys in the credentials file, roles in the config file: the split `aws configure` makes
const CONFIG = `[default]
region = us-east-1

[profile static]
region = us-east-1

[profile ops]
role_arn = ${ROLE}
source_profile = static
role_session_name = ops-from-profile
duration_seconds = 900

[profile from-env]
role_arn = ${OTHER_ROLE}
credential_source = Environment
role_session_name = env-source

[sso-session corp]
sso_region = us-east-1
`;
const CREDENTIALS = `[static]
aws_access_key_id = ${KEY.accessKeyId}
aws_secret_access_key = ${KEY.secretAccessKey}

[other]
aws_access_key_id = ${OTHER_KEY.accessKeyId}
aws_secret_access_key = ${OTHER_KEY.secretAccessKey}
`;

beforeAll(async () => {
  files = awsFiles(CONFIG, CREDENTIALS);
  world = await startStsWorld({ env: { AWS_CONFIG_FILE: files.config, AWS_SHARED_CREDENTIALS_FILE: files.credentials } });
});

afterEach(async () => {
  await db?.close();
  db = undefined;
});

afterAll(async () => {
  await world?.close();
  files?.remove();
});

const profileConnection = (iam: Record<string, unknown>) => iamConnection(world.emulator, 'postgres', { iam });
const assumedAs = (sessionName: string) => world.aws.sts.assumed().filter((record) => record.roleSessionName === sessionName);
/** The access key id of the last login the emulator saw. */
const lastLoginKey = () => world.emulator.authLog.entries().at(-1)?.accessKeyId;

describe('aws_iam_auth.profile', () => {
  it('a static-keys profile signs the tokens (source shared-ini, the profile named in the state)', async () => {
    db = await createDatabase({ connections: { main: profileConnection({ profile: 'other' }) } }, { logger: captureLogger().logger });
    await db.connection().query('SELECT 1');
    expect(lastLoginKey()).toBe(OTHER_KEY.accessKeyId);
    const state = db.connection().tokenState();
    expect(state).toMatchObject({ credentialSource: 'shared-ini', credentialProfile: 'other', accessKeyIdSuffix: OTHER_KEY.accessKeyId.slice(-4) });
    expect(state?.assumedRoleArn).toBeUndefined();
    expect(state?.credentialExpiresAt).toBeUndefined();
  });

  it('a role_arn + source_profile profile assumes its role through STS (the region given explicitly to the inner client)', async () => {
    db = await createDatabase({ connections: { main: profileConnection({ profile: 'ops' }) } }, { logger: captureLogger().logger });
    await db.connection().query('SELECT 1');
    const assumed = assumedAs('ops-from-profile');
    expect(assumed).toMatchObject([{ roleArn: ROLE, sourceAccessKeyId: KEY.accessKeyId }]);
    expect(lastLoginKey()).toBe(assumed[0]?.issuedAccessKeyId);
    // the profile's own 900 seconds bound the token
    expect(db.connection().tokenState()).toMatchObject({ credentialSource: 'shared-ini', credentialProfile: 'ops', credentialExpiresAt: assumed[0]?.expiresAt.getTime() });
  });

  it('a credential_source = Environment profile assumes its role with the environment keys', async () => {
    process.env.AWS_ACCESS_KEY_ID = OTHER_KEY.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = OTHER_KEY.secretAccessKey;
    try {
      db = await createDatabase({ connections: { main: profileConnection({ profile: 'from-env' }) } }, { logger: captureLogger().logger });
      expect(assumedAs('env-source')).toMatchObject([{ roleArn: OTHER_ROLE, sourceAccessKeyId: OTHER_KEY.accessKeyId }]);
      expect(db.connection().tokenState()).toMatchObject({ credentialSource: 'shared-ini', credentialProfile: 'from-env' });
    } finally {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  it('profile and role_arn: the role is assumed with the profile\'s credentials', async () => {
    db = await createDatabase({ connections: { main: profileConnection({ profile: 'other', role_arn: OTHER_ROLE, role_session_name: 'profile-then-role' }) } }, { logger: captureLogger().logger });
    expect(assumedAs('profile-then-role')).toMatchObject([{ roleArn: OTHER_ROLE, sourceAccessKeyId: OTHER_KEY.accessKeyId }]);
    expect(db.connection().tokenState()).toMatchObject({ credentialSource: 'assumed-role', assumedRoleArn: OTHER_ROLE, credentialProfile: 'other' });
  });

  it('credentials given in code win over the profile, and a debug line says so', async () => {
    const { logger, entries } = captureLogger();
    db = await createDatabase({ connections: { main: profileConnection({ profile: 'other' }) } }, { credentials: KEY, logger });
    await db.connection().query('SELECT 1');
    expect(lastLoginKey()).toBe(KEY.accessKeyId);
    expect(db.connection().tokenState()).toMatchObject({ credentialSource: 'static' });
    expect(entries).toContainEqual({
      level: 'debug',
      message: 'AWS credentials given in code take precedence over aws_iam_auth.profile',
      fields: { connection: 'main', profile: 'other', credentials: 'the static credentials given in code' },
    });
  });

  it('an unknown profile is AWS_CREDENTIALS_UNAVAILABLE naming it, the files read and the profiles they have', async () => {
    const coded = await rejectionOf(createDatabase({ connections: { main: profileConnection({ profile: 'opps' }) } }, { logger: captureLogger().logger }), DbModuleError);
    expect(coded.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    expect(coded.connection).toBe('main');
    expect(coded.message).toBe(
      `connection "main": AWS profile "opps" (aws_iam_auth.profile) was not found; read ${files.config} (config file) and ${files.credentials} (credentials file)`,
    );
    const causes = coded.possibleCauses.join('\n');
    expect(causes).toContain(`No [profile opps] section in ${files.config} and no [opps] section in ${files.credentials}`);
    // the profiles that exist, so a typo shows (an sso-session section is not a profile)
    expect(causes).toContain('"default", "static", "ops", "from-env", "other"');
    expect(causes).not.toContain('corp');
    expect(coded.solutions.join('\n')).toContain('aws configure --profile opps');
    expect(JSON.stringify(coded)).not.toContain(KEY.secretAccessKey);
  });

  it('files that do not exist are said to be missing', async () => {
    const saved = { config: process.env.AWS_CONFIG_FILE, credentials: process.env.AWS_SHARED_CREDENTIALS_FILE };
    process.env.AWS_CONFIG_FILE = `${files.dir}/no-config`;
    process.env.AWS_SHARED_CREDENTIALS_FILE = `${files.dir}/no-credentials`;
    try {
      const plan = planConnection(validateConfig({ connections: { main: profileConnection({ profile: 'static' }) } }, { source: 'object' }).connections.main!);
      const chosen = credentialsFor(plan);
      expect(chosen).toMatchObject({ source: 'shared-ini', profile: 'static', description: 'profile "static"' });
      const cache = createCredentialCache({ credentials: chosen.credentials, clock: { now: () => Date.now() }, reuseWindowMs: 0, label: 'x' });
      const error = await rejectionOf(cache.get(), DbModuleError);
      expect(error.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
      expect(error.message).toContain(`read ${files.dir}/no-config (missing) and ${files.dir}/no-credentials (missing)`);
      expect(error.possibleCauses.join('\n')).toContain('do not exist on this host');
    } finally {
      process.env.AWS_CONFIG_FILE = saved.config;
      process.env.AWS_SHARED_CREDENTIALS_FILE = saved.credentials;
    }
  });

  it('a profile that exists but cannot give credentials says what the SDK could not do, and in which file', async () => {
    const broken = awsFiles(`[profile dangling]\nrole_arn = ${ROLE}\nsource_profile = nowhere\n`, '');
    const saved = { config: process.env.AWS_CONFIG_FILE, credentials: process.env.AWS_SHARED_CREDENTIALS_FILE };
    process.env.AWS_CONFIG_FILE = broken.config;
    process.env.AWS_SHARED_CREDENTIALS_FILE = broken.credentials;
    try {
      const error = await rejectionOf(createDatabase({ connections: { main: profileConnection({ profile: 'dangling' }) } }, { logger: captureLogger().logger }), DbModuleError);
      expect(error.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
      expect(error.message).toContain(`connection "main": AWS profile "dangling" (in ${broken.config}) gave no credentials: `);
      expect(error.message).toContain('nowhere');
      expect(error.possibleCauses.join('\n')).toContain('source_profile is missing');
    } finally {
      process.env.AWS_CONFIG_FILE = saved.config;
      process.env.AWS_SHARED_CREDENTIALS_FILE = saved.credentials;
      broken.remove();
    }
  });
});
