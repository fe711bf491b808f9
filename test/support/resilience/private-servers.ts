/**
 * Private PostgreSQL and MariaDB instances, each on its own data directory and port, so a
 * test can stop and start a real server without disturbing the shared ones other test files
 * use at the same time. Started with the server's own tools, as an operator would restart it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../ports.js';

const run = promisify(execFile);

/** A real server the test owns: it can stop it, start it again, and must remove it. */
export interface PrivateServer {
  readonly driver: 'postgres' | 'mysql';
  readonly port: number;
  /** A DSN of the `dbmodule_test` database as the superuser, without TLS. */
  readonly dsn: string;
  /** Clean shutdown (PostgreSQL `fast`: running statements are cancelled; MariaDB: SIGTERM). */
  stop(): Promise<void>;
  /** Starts it again on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and deletes its data directory. */
  remove(): Promise<void>;
}

/** Where initdb and pg_ctl are: Debian keeps them out of PATH, in pg_config's bindir. */
async function pgBin(): Promise<string> {
  if (process.env.DBMODULE_PG_BIN) return process.env.DBMODULE_PG_BIN;
  const { stdout } = await run('pg_config', ['--bindir']).catch(() => ({ stdout: '/usr/lib/postgresql/15/bin' }));
  return stdout.trim();
}

/** PostgreSQL refuses to run as root; as root its tools run as the `postgres` user. */
function asPostgres(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

export async function pgTool(tool: string, args: string[]): Promise<void> {
  const [command, argv] = asPostgres(join(await pgBin(), tool), args);
  await run(command, argv, { timeout: 60_000 });
}

/**
 * initdb + pg_ctl on an ephemeral port, trust authentication, TLS off, fsync off (the data only
 * has to outlive a restart). `checkPasswords`: every user but `postgres` logs in over TCP with a
 * password checked by SCRAM (password rotation tests).
 */
export async function startPrivatePostgres(settings: { checkPasswords?: boolean } = {}): Promise<PrivateServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dbmodule-pg-'));
  if (process.getuid?.() === 0) {
    const { uid, gid } = idsOf('postgres');
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  await pgTool('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  if (settings.checkPasswords) {
    const hba = ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n');
    writeFileSync(join(data, 'pg_hba.conf'), hba);
  }
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c ssl=off -c fsync=off -c max_connections=100`;
  const start = () => pgTool('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
  const stop = () => pgTool('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
  await start();
  const [psql, psqlArgs] = asPostgres(join(await pgBin(), 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-qc', 'CREATE DATABASE dbmodule_test']);
  await run(psql, psqlArgs);
  let removed = false;
  return {
    driver: 'postgres',
    port,
    dsn: `postgresql://postgres@127.0.0.1:${port}/dbmodule_test?sslmode=disable`,
    stop,
    start,
    remove: async () => {
      if (removed) return;
      removed = true;
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** mariadb-install-db + mariadbd as a child process on an ephemeral port (root, no password, TLS off). */
export async function startPrivateMariadb(): Promise<PrivateServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dbmodule-my-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  await run('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db'], { timeout: 60_000 });
  let child: ChildProcess | undefined;
  const args = [
    '--no-defaults',
    `--datadir=${data}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${join(dir, 'sock')}`,
    `--pid-file=${join(dir, 'pid')}`,
    ...user,
    '--skip-ssl',
    '--skip-log-bin',
    '--skip-name-resolve',
    '--innodb-flush-log-at-trx-commit=2',
    `--log-error=${join(dir, 'error.log')}`,
  ];
  const start = async () => {
    const proc = spawn('mariadbd', args, { stdio: 'ignore' });
    child = proc;
    await waitUntil(() => ping(port), 30_000, `MariaDB on port ${port}`, () => proc.exitCode !== null);
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  };
  await start();
  await run('mariadb', ['-h', '127.0.0.1', '-P', String(port), '-uroot', '-e', 'CREATE DATABASE dbmodule_test']);
  let removed = false;
  return {
    driver: 'mysql',
    port,
    dsn: `mysql://root@127.0.0.1:${port}/dbmodule_test`,
    stop,
    start,
    remove: async () => {
      if (removed) return;
      removed = true;
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True once the server completes a TCP handshake and sends its greeting. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('data', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1_000, () => done(false));
  });
}

export async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number, what: string, gaveUp: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (gaveUp()) throw new Error(`${what} exited while starting`);
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The uid and gid of a system user, from /etc/passwd. */
export function idsOf(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.split(':')[0] === user);
  const fields = line?.split(':');
  if (!fields || fields.length < 4) throw new Error(`no system user ${user}`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
