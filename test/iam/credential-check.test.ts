import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/index.js';
import { checkConnections } from '../../src/diagnostics/check.js';
import { cli } from '../support/cli.js';
import { RDS_HOST } from '../support/iam-e2e/rds.js';
import { awsFiles, EXTERNAL_ROLE, KEY, OTHER_KEY, ROLE, startStsWorld, type StsWorld } from '../support/iam/sts.js';

let world: StsWorld;
let files: ReturnType<typeof awsFiles>;

beforeAll(async () => {
  files = awsFiles('[profile other]\nregion = us-east-1\n', `[other]\naws_access_key_id = ${OTHER_KEY.accessKeyId}\naws_secret_access_key = ${OTHER_KEY.secretAccessKey}\n`);
  world = await startStsWorld({ env: { AWS_CONFIG_FILE: files.config, AWS_SHARED_CREDENTIALS_FILE: files.credentials } });
});

afterAll(async () => {
  await world?.close();
  files?.remove();
});

/** DB_MAIN_* of an IAM connection through the emulator (TLS verify-full, signed for RDS_HOST:5432), plus `extra`. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DB_MAIN_DSN: `postgresql://app_user@localhost:${world.emulator.postgres?.port}/dbmodule_test?sslmode=verify-full&sslrootcert=${world.emulator.caFile}`,
    DB_MAIN_AWS_IAM_AUTH_ENABLED: 'true',
    DB_MAIN_AWS_IAM_AUTH_SIGNING_HOST: RDS_HOST,
    DB_MAIN_AWS_IAM_AUTH_SIGNING_PORT: '5432',
    DB_MAIN_CONNECTION_TIMEOUT: '10s',
    PATH: process.env.PATH ?? '',
    ...extra,
  };
}

const keys = { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey };
const assumedAs = (sessionName: string) => world.aws.sts.assumed().filter((record) => record.roleSessionName === sessionName);

interface Phase {
  phase: string;
  status: string;
  detail: string;
  code?: string;
  possibleCauses?: string[];
}

describe('check: the credentials phase', () => {
  it('checkConnections shows the source, the assumed role and the expiry; the role is assumed once for the whole check', async () => {
    const config = await loadConfig({ env: env({ DB_MAIN_AWS_IAM_AUTH_ROLE_ARN: ROLE, DB_MAIN_AWS_IAM_AUTH_ROLE_SESSION_NAME: 'check-lib' }) });
    const report = await checkConnections(config, { credentials: KEY });
    const check = report.connections[0];
    expect(check?.phases.map((phase) => `${phase.phase}:${phase.status}`)).toEqual(['dsn:ok', 'config:ok', 'credentials:ok', 'token:ok', 'dns:ok', 'tcp:ok', 'tls:ok', 'authentication:ok', 'ping:ok']);
    const assumed = assumedAs('check-lib');
    expect(assumed).toHaveLength(1);
    const issued = assumed[0]?.issuedAccessKeyId ?? '';
    const expiresAt = assumed[0]?.expiresAt.toISOString();
    const credentials = check?.phases.find((phase) => phase.phase === 'credentials');
    expect(credentials?.detail).toBe(`from assumed-role, role ${ROLE} (session "check-lib", STS in us-east-1), access key id ...${issued.slice(-4)}, expire at ${expiresAt}`);
    expect(check?.credentials).toEqual({ source: 'assumed-role', accessKeyIdSuffix: issued.slice(-4), expiresAt, assumedRoleArn: ROLE, roleSessionName: 'check-lib' });
    expect(check?.plan?.credentials).toEqual({ roleArn: ROLE, roleSessionName: 'check-lib', roleDuration: '1h', stsRegion: 'us-east-1' });
    // the session the check opened signed with the assumed key
    expect(world.emulator.authLog.entries().at(-1)).toMatchObject({ decision: 'allow', accessKeyId: issued });
  });

  it('`check --json` in the CLI: environment keys as the source credentials of the role', async () => {
    const { code, stdout } = await cli(['check', '--json'], env({ ...keys, DB_MAIN_AWS_IAM_AUTH_ROLE_ARN: ROLE, DB_MAIN_AWS_IAM_AUTH_ROLE_SESSION_NAME: 'check-cli' }));
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { ok: boolean; connections: Array<{ phases: Phase[]; credentials?: Record<string, string> }> };
    expect(report.ok).toBe(true);
    const assumed = assumedAs('check-cli');
    expect(assumed).toMatchObject([{ roleArn: ROLE, sourceAccessKeyId: KEY.accessKeyId }]);
    expect(report.connections[0]?.credentials).toEqual({
      source: 'assumed-role',
      accessKeyIdSuffix: assumed[0]?.issuedAccessKeyId.slice(-4),
      expiresAt: assumed[0]?.expiresAt.toISOString(),
      assumedRoleArn: ROLE,
      roleSessionName: 'check-cli',
    });
    expect(stdout).not.toContain(KEY.secretAccessKey);
  });

  it('a configured profile outranks the environment keys in the CLI, as AWS_PROFILE does in the SDK', async () => {
    const { code, stdout } = await cli(['check', '--json'], env({ ...keys, DB_MAIN_AWS_IAM_AUTH_PROFILE: 'other' }));
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { connections: Array<{ credentials?: Record<string, string> }> };
    expect(report.connections[0]?.credentials).toEqual({ source: 'shared-ini', accessKeyIdSuffix: OTHER_KEY.accessKeyId.slice(-4), profile: 'other' });
    expect(world.emulator.authLog.entries().at(-1)).toMatchObject({ decision: 'allow', accessKeyId: OTHER_KEY.accessKeyId });
  });

  it('a refused role fails the credentials phase with AWS_CREDENTIALS_UNAVAILABLE naming it (exit 1)', async () => {
    const { code, stdout } = await cli(['check'], env({ ...keys, DB_MAIN_AWS_IAM_AUTH_ROLE_ARN: EXTERNAL_ROLE }));
    expect(code).toBe(1);
    expect(stdout).toMatch(/credentials\s+failed/);
    expect(stdout).toContain(`assuming role ${EXTERNAL_ROLE} (session "dbmodule-main", source credentials: the AWS keys in the environment) failed: AccessDenied`);
    expect(stdout).toContain('code: AWS_CREDENTIALS_UNAVAILABLE');
    expect(stdout).toContain('possible cause: The trust policy requires an external id');
  });
});

describe('token --connection and exec sign with the connection\'s role', () => {
  it('token --json names the role, the source and the credentials\' expiry; the token is the assumed key\'s', async () => {
    const { code, stdout, stderr } = await cli(['token', '--connection', 'main', '--json'], env({ ...keys, DB_MAIN_AWS_IAM_AUTH_ROLE_ARN: ROLE, DB_MAIN_AWS_IAM_AUTH_ROLE_SESSION_NAME: 'token-cli' }));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as Record<string, string>;
    const assumed = assumedAs('token-cli');
    expect(assumed).toHaveLength(1);
    expect(out).toMatchObject({ credentialSource: 'assumed-role', assumedRoleArn: ROLE, credentialsExpireAt: assumed[0]?.expiresAt.toISOString(), accessKeyIdSuffix: assumed[0]?.issuedAccessKeyId.slice(-4) });
    expect(out.token).toContain(`X-Amz-Credential=${assumed[0]?.issuedAccessKeyId}%2F`);
    expect(out.token).toContain('X-Amz-Security-Token=');
  });

  it('exec hands the command a token signed with the assumed credentials', async () => {
    // the child prints the access key id the token was signed with (not a secret), and whether it has a session token
    const script = "const t = process.env.PGPASSWORD || ''; console.log(/X-Amz-Credential=([A-Z0-9]+)%2F/.exec(t)?.[1], t.includes('X-Amz-Security-Token='))";
    const { code, stdout } = await cli(['exec', '--connection', 'main', '--', process.execPath, '-e', script], env({ ...keys, DB_MAIN_AWS_IAM_AUTH_ROLE_ARN: ROLE, DB_MAIN_AWS_IAM_AUTH_ROLE_SESSION_NAME: 'exec-cli' }));
    expect(code).toBe(0);
    const assumed = assumedAs('exec-cli');
    expect(assumed).toHaveLength(1);
    expect(stdout.trim()).toBe(`${assumed[0]?.issuedAccessKeyId} true`);
  });
});
