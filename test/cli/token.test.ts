import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { cli, IAM_USER, KEY, SIGNING_HOST, startTestEmulator } from '../support/cli.js';

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startTestEmulator();
});

afterAll(async () => {
  await emulator?.close();
});

const awsEnv = { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey };

/** Logs in to the emulator with `token` as the password: true when it was accepted. */
async function emulatorAccepts(token: string): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: emulator.postgres?.port,
    user: IAM_USER,
    database: 'dbmodule_test',
    password: token,
    ssl: { ca: readFileSync(emulator.caFile), servername: 'localhost' },
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
    return rows[0]?.one === 1;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

describe('dbmodule token', () => {
  it('prints only the token, and the emulator (like RDS) accepts it', async () => {
    const { code, stdout, stderr } = await cli(['token', '--hostname', SIGNING_HOST, '--port', '5432', '--username', IAM_USER], awsEnv);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.endsWith('\n')).toBe(true);
    const token = stdout.trimEnd();
    expect(token).not.toContain('\n');
    // The AWS CLI's shape: host:port/?Action=connect&DBUser=... signed for rds-db in the hostname's region.
    expect(token.startsWith(`${SIGNING_HOST}:5432/?Action=connect&DBUser=${IAM_USER}&`)).toBe(true);
    expect(token).toContain(`X-Amz-Credential=${KEY.accessKeyId}%2F`);
    expect(token).toContain('%2Fus-east-1%2Frds-db%2Faws4_request');
    expect(token).toContain('X-Amz-Expires=900');
    expect(await emulatorAccepts(token)).toBe(true);
    expect(await emulatorAccepts(token.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000'))).toBe(false);
  });

  it('takes host, port, user and region from a configured connection (signing_host, db_user)', async () => {
    const env = {
      ...awsEnv,
      DB_WRITER_DSN: `postgresql://ignored_user:$TOKEN@localhost:${emulator.postgres?.port}/dbmodule_test`,
      DB_WRITER_AWS_IAM_AUTH_ENABLED: 'true',
      DB_WRITER_AWS_IAM_AUTH_SIGNING_HOST: SIGNING_HOST,
      DB_WRITER_AWS_IAM_AUTH_SIGNING_PORT: '5432',
      DB_WRITER_AWS_IAM_AUTH_DB_USER: IAM_USER,
    };
    const { code, stdout } = await cli(['token', '--connection', 'writer'], env);
    expect(code).toBe(0);
    expect(stdout.startsWith(`${SIGNING_HOST}:5432/?Action=connect&DBUser=${IAM_USER}&`)).toBe(true);
    expect(await emulatorAccepts(stdout.trimEnd())).toBe(true);
  });

  it('reads the region from AWS_REGION when the hostname carries none, like the AWS CLI', async () => {
    const { code, stdout } = await cli(['token', '--hostname', 'localhost', '--port', String(emulator.postgres?.port), '--username', IAM_USER], { ...awsEnv, AWS_REGION: 'eu-west-3' });
    expect(code).toBe(0);
    expect(stdout).toContain('%2Feu-west-3%2Frds-db%2Faws4_request');
  });

  it('with --json adds what the token is signed for, with the key id suffix only', async () => {
    const before = Date.now();
    const { code, stdout } = await cli(['token', '--json', '--hostname', SIGNING_HOST, '--port', '5432', '--username', IAM_USER], awsEnv);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({ host: SIGNING_HOST, port: 5432, user: IAM_USER, region: 'us-east-1', credentialSource: 'env', accessKeyIdSuffix: KEY.accessKeyId.slice(-4) });
    // X-Amz-Date has whole seconds; the provider hands the token out for 15 minutes minus its 1-minute margin.
    expect(Date.parse(out.issuedAt)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Date.parse(out.expiresAt) - Date.parse(out.issuedAt)).toBe(14 * 60_000);
    expect(await emulatorAccepts(out.token)).toBe(true);
  });

  it('exits 2 naming the missing flags, and 2 for an endpoint without a region', async () => {
    const missing = await cli(['token', '--hostname', SIGNING_HOST], awsEnv);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing --port, --username');
    expect(missing.stdout).toBe('');
    const noRegion = await cli(['token', '--hostname', 'db.internal.example', '--port', '5432', '--username', IAM_USER], awsEnv);
    expect(noRegion.code).toBe(2);
    expect(noRegion.stderr).toContain('IAM_REGION_MISSING');
    // The flags and variable the user can set, not configuration keys they never wrote.
    expect(noRegion.stderr).toContain('try: Set --region (or AWS_REGION) (e.g. us-east-1)');
    expect(noRegion.stderr).toContain('try: Set --hostname to the real RDS endpoint');
    expect(noRegion.stderr).not.toContain('aws_iam_auth');
    const badPort = await cli(['token', '--hostname', SIGNING_HOST, '--port', 'http', '--username', IAM_USER], awsEnv);
    expect(badPort.code).toBe(2);
  });

  it('exits 2 for an unknown --connection', async () => {
    const { code, stderr } = await cli(['token', '--connection', 'nope'], { ...awsEnv, DB_MAIN_DSN: 'postgres://u@localhost/db' });
    expect(code).toBe(2);
    expect(stderr).toContain('CONNECTION_NOT_FOUND');
  });

  it('suggests --hostname and --username for --host and --user', async () => {
    const host = await cli(['token', '--host', SIGNING_HOST, '--port', '5432', '--username', IAM_USER], awsEnv);
    expect(host.code).toBe(2);
    expect(host.stderr).toContain("Unknown option '--host'");
    expect(host.stderr).toContain('did you mean --hostname?');
    const user = await cli(['token', '--hostname', SIGNING_HOST, '--port', '5432', '--user', IAM_USER], awsEnv);
    expect(user.code).toBe(2);
    expect(user.stderr).toContain('did you mean --username?');
  });

  it('says that a connection without IAM has no token to sign, and exits 2', async () => {
    const { code, stdout, stderr } = await cli(['token', '--connection', 'main'], { ...awsEnv, DB_MAIN_DSN: 'postgres://u@localhost/db' });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('connection "main" does not use IAM authentication (aws_iam_auth.enabled is false)');
    expect(stderr).toContain('DB_MAIN_AWS_IAM_AUTH_ENABLED=true');
  });

  it('exits 1 with AWS_CREDENTIALS_UNAVAILABLE and the seed solutions when the chain finds no credentials', async () => {
    // A named profile that exists nowhere: the SDK chain skips the environment and finds nothing.
    const env = { AWS_PROFILE: 'dbmodule-test-no-such-profile' };
    const { code, stdout, stderr } = await cli(['token', '--hostname', SIGNING_HOST, '--port', '5432', '--username', IAM_USER], env);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('dbmodule token: AWS_CREDENTIALS_UNAVAILABLE');
    expect(stderr).toContain('try: Set the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
    // Said once (no provider warning before the error), with the causes that fit "found nothing".
    expect(stderr.match(/AWS_CREDENTIALS_UNAVAILABLE/g)).toHaveLength(1);
    expect(stderr).not.toMatch(/WARN|retry_in_ms/);
    expect(stderr).toContain('possible cause: The profile "dbmodule-test-no-such-profile" is in neither ~/.aws/config nor ~/.aws/credentials');
    expect(stderr).not.toMatch(/region|expired|unreachable/i);
  });
});
