// `dbmodule exec -- prisma studio` (the built binary): the Prisma 7 CLI reads DATABASE_URL through
// prisma.config.ts and connects with it. Studio is the Prisma command that connects here: it talks
// to PostgreSQL through postgres.js, while migrate / db execute / db pull need Prisma's schema
// engine binary, which this machine cannot download (with PRISMA_SCHEMA_ENGINE_BINARY=/bin/true
// they exit 0 having done nothing, so they prove nothing and are not tested).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { PASSWORD_USER, PASSWORD_USER_SECRET, PG_SERVER, uniqueName } from '../support/databases.js';
import { iamEnv, IAM_USER, KEY, leaksSecret, SIGNING_HOST, startTestEmulator } from '../support/cli.js';
import { freePort } from '../support/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'dist/cli/main.js');
const PRISMA = path.join(ROOT, 'node_modules/.bin/prisma');
/** Inside the repo (gitignored), so prisma.config.ts finds `prisma/config` in node_modules. */
const PROJECT = path.join(ROOT, '.prisma-test', uniqueName('cli'));

// prisma.config.ts as an application would write it: the URL from the environment dbmodule exec
// sets. postgres.js (Studio's driver) knows no sslrootcert: it would send it to the server as a
// setting (42704, unrecognized configuration parameter), so the config drops it and the command
// line hands the CA file to Node instead (NODE_EXTRA_CA_CERTS="$PGSSLROOTCERT").
const CONFIG = `import { defineConfig, env } from 'prisma/config';
const url = new URL(env('DATABASE_URL'));
url.searchParams.delete('sslrootcert');
export default defineConfig({ datasource: { url: url.href } });
`;

let emulator: Emulator;
/** Process groups (dbmodule exec and its Studio) started here and not yet seen to exit. */
const running = new Set<number>();

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first`);
  mkdirSync(PROJECT, { recursive: true });
  writeFileSync(path.join(PROJECT, 'prisma.config.ts'), CONFIG);
  emulator = await startTestEmulator();
});

afterEach(() => {
  // a Studio still running after a failed test: its process group, started here, is ended
  for (const pid of running) {
    running.delete(pid);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

afterAll(async () => {
  await emulator?.close();
  rmSync(PROJECT, { recursive: true, force: true });
});

interface StudioRun {
  /** Studio's answer to one SQL statement: `[null, rows]`, or `[error]`. */
  answer: unknown;
  code: number | null;
  output: string;
}

/**
 * Runs `dbmodule exec -- <command> studio --port P --browser none` with `env` alone (plus PATH and
 * HOME), asks the running Studio to run `sql`, then ends dbmodule with SIGTERM (which it forwards).
 */
async function studio(env: Record<string, string>, sql: string, command: string[] = [PRISMA]): Promise<StudioRun> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'exec', '--', ...command, 'studio', '--port', String(port), '--browser', 'none'], {
    cwd: PROJECT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? PROJECT, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid !== undefined) running.add(pid);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (text: string): void => {
      output += text;
      if (output.includes(`Prisma Studio is running at: http://localhost:${port}`)) resolve();
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    void exited.then((code) => reject(new Error(`dbmodule exec exited ${code} before Studio was ready:\n${output}`)));
  });
  await ready;
  const response = await fetch(`http://localhost:${port}/bff`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ procedure: 'query', query: { sql, parameters: [] } }),
  });
  const answer: unknown = await response.json();
  child.kill('SIGTERM');
  const code = await exited;
  // dbmodule exec waited for Studio: nothing of the group is left to end
  if (pid !== undefined) running.delete(pid);
  return { answer, code, output };
}

describe('dbmodule exec -- prisma studio', () => {
  it('connects to the real PostgreSQL with the DSN password from DATABASE_URL (through prisma.config.ts)', async () => {
    const dsn = `postgresql://${PASSWORD_USER}:${PASSWORD_USER_SECRET}@${PG_SERVER.host}:${PG_SERVER.port}/${PG_SERVER.database}?sslmode=disable`;
    // a stale variable of the same name is replaced by exec's own
    const run = await studio({ DB_MAIN_DSN: dsn, DATABASE_URL: 'postgresql://nobody:wrong@127.0.0.1:1/none' }, 'SELECT current_user AS who, current_database() AS db, 40 + 2 AS answer');
    // the password-checked role: Studio logged in with the password exec put in DATABASE_URL
    expect(run.answer).toEqual([null, [{ who: PASSWORD_USER, db: PG_SERVER.database, answer: 42 }]]);
    expect(run.output).toContain('Loaded Prisma config from prisma.config.ts');
    // Studio ends on the SIGTERM dbmodule forwarded, and dbmodule exits with its code
    expect(run.code).toBe(0);
    expect(run.output).not.toContain(PASSWORD_USER_SECRET);
  });

  it('a wrong DSN password reaches Studio as the server refusing the login', async () => {
    const dsn = `postgresql://${PASSWORD_USER}:not-the-password@${PG_SERVER.host}:${PG_SERVER.port}/${PG_SERVER.database}?sslmode=disable`;
    const run = await studio({ DB_MAIN_DSN: dsn }, 'SELECT 1 AS one');
    // 28P01: invalid_password
    expect(run.answer).toEqual([expect.objectContaining({ name: 'PostgresError', code: '28P01' })]);
  });

  it('with IAM through the emulator: Studio logs in with the fresh token over verified TLS', async () => {
    emulator.authLog.clear();
    const env = iamEnv(emulator, 'postgres', { DB_MAIN_AWS_IAM_AUTH_DB_USER: IAM_USER });
    // Node's own TLS trusts the CA exec names in PGSSLROOTCERT (the DSN's here, else the RDS bundle it writes)
    const withCa = ['/bin/sh', '-c', 'NODE_EXTRA_CA_CERTS="$PGSSLROOTCERT" exec "$0" "$@"', PRISMA];
    const run = await studio(env, 'SELECT current_database() AS db, 40 + 2 AS answer', withCa);
    expect(run.answer).toEqual([null, [{ db: 'dbmodule_test', answer: 42 }]]);
    expect(run.code).toBe(0);
    const attempts = emulator.authLog.entries();
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts.every((attempt) => attempt.decision === 'allow' && attempt.user === IAM_USER && attempt.accessKeyId === KEY.accessKeyId && attempt.signedHost === `${SIGNING_HOST}:5432`)).toBe(true);
    // the emulator saw TLS: Studio's verify-full accepted the emulator's certificate
    expect(attempts.every((attempt) => attempt.tls)).toBe(true);
    expect(leaksSecret(run.output)).toBe(false);
  });
});
