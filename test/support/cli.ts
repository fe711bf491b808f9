import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/run.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { MYSQL_URL, PG_URL } from './databases.js';

/** Test keys for the emulator: made up, never real credentials. */
export const KEY = { accessKeyId: 'AKIACLITESTKEY000001', secretAccessKey: 'cli-test-secret-key-0001-do-not-print' } as const;
export const SIGNING_HOST = 'mydb.cluster-clitest.us-east-1.rds.amazonaws.com';
export const IAM_USER = 'app_user';

/** Runs the CLI in-process with an injected environment; collects stdout and stderr. */
export async function cli(argv: string[], env: Record<string, string | undefined> = {}, cwd = mkdtempSync(join(tmpdir(), 'dbmodule-cli-'))) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), env, cwd });
  return { code, stdout, stderr, cwd };
}

/** An RDS IAM emulator relaying to the real servers, answering to localhost and SIGNING_HOST. */
export function startTestEmulator(): Promise<Emulator> {
  return startEmulator({
    hostnames: ['localhost', SIGNING_HOST],
    credentials: [KEY],
    postgres: { upstream: PG_URL, advertisedPort: 5432 },
    mysql: { upstream: MYSQL_URL, advertisedPort: 3306 },
  });
}

/** DB_MAIN_* variables of an IAM connection through the emulator, plus the AWS key in the environment. */
export function iamEnv(emulator: Emulator, driver: 'postgres' | 'mysql', extra: Record<string, string> = {}): Record<string, string> {
  const port = driver === 'postgres' ? emulator.postgres?.port : emulator.mysql?.port;
  const scheme = driver === 'postgres' ? 'postgresql' : 'mysql';
  return {
    DB_MAIN_DSN: `${scheme}://${IAM_USER}:$TOKEN@localhost:${port}/dbmodule_test?sslmode=verify-full&sslrootcert=${emulator.caFile}`,
    DB_MAIN_AWS_IAM_AUTH_ENABLED: 'true',
    DB_MAIN_AWS_IAM_AUTH_SIGNING_HOST: SIGNING_HOST,
    DB_MAIN_AWS_IAM_AUTH_SIGNING_PORT: driver === 'postgres' ? '5432' : '3306',
    DB_MAIN_CONNECTION_TIMEOUT: '10s',
    AWS_ACCESS_KEY_ID: KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
    ...extra,
  };
}

/** Text that would betray a token or a secret key in output. */
export function leaksSecret(text: string): boolean {
  return text.includes(KEY.secretAccessKey) || text.includes(KEY.accessKeyId) || /X-Amz-Signature|X-Amz-Credential|Action=connect/.test(text);
}
