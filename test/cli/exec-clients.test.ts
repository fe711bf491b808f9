/**
 * `dbmodule exec` with the real command-line clients installed here: psql, pg_dump, pg_restore,
 * mariadb, mysql, mariadb-dump and mysqldump. Each must reach exactly the configured endpoint
 * (the RDS IAM emulator, over TCP) with a fresh IAM token, verify its certificate as the DSN asks,
 * and leave no temporary file behind. The environment tries to mislead them as a developer's
 * shell would: PG* variables and a PGSERVICE naming the local server's socket, a ~/.my.cnf that
 * sends MariaDB's clients to the local socket as root without TLS.
 *
 * Each client is started through a shim of the same name that records its arguments and the CA
 * file it is told to trust (PGSSLROOTCERT, the option file's ssl-ca), then execs the real binary.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthAttempt, Emulator } from '../../src/emulator/index.js';
import { MYSQL_URL, PG_URL, uniqueName } from '../support/databases.js';
import { directQuery } from '../support/direct.js';
import { cli, iamEnv, IAM_USER, KEY, leaksSecret, SIGNING_HOST, startTestEmulator } from '../support/cli.js';

type Driver = 'postgres' | 'mysql';
const CLIENTS: Record<Driver, readonly string[]> = { postgres: ['psql', 'pg_dump', 'pg_restore'], mysql: ['mariadb', 'mysql', 'mariadb-dump', 'mysqldump'] };
const DRIVER_OF = (client: string): Driver => (CLIENTS.postgres.includes(client) ? 'postgres' : 'mysql');

const table = uniqueName('exec_clients');
const copyDatabase = uniqueName('exec_copy');
let emulator: Emulator;
let dir: string;
let records: string;
let otherCa: string;
let archive: string;
const misleading: Record<string, string> = {};

beforeAll(async () => {
  emulator = await startTestEmulator();
  dir = mkdtempSync(join(tmpdir(), 'dbmodule-clients-test-'));
  records = join(dir, 'records');
  mkdirSync(records);
  const shims = join(dir, 'bin');
  mkdirSync(shims);
  for (const client of [...CLIENTS.postgres, ...CLIENTS.mysql]) {
    const real = execFileSync('sh', ['-c', `command -v ${client}`], { encoding: 'utf8' }).trim();
    const record = `$DBMODULE_TEST_RECORDS/${client}`;
    const shim = [
      '#!/bin/sh',
      `printf '%s\\n' "$@" > "${record}.argv"`,
      `printf '%s' "$PGSSLROOTCERT" > "${record}.ca"`,
      `case "$1" in --defaults-file=*) sed -n 's/^ssl-ca="\\(.*\\)"$/\\1/p' "\${1#--defaults-file=}" | tr -d '\\n' > "${record}.ca";; esac`,
      `exec '${real}' "$@"`,
    ].join('\n');
    writeFileSync(join(shims, client), shim, { mode: 0o755 });
  }
  const home = join(dir, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.my.cnf'), '[client]\nprotocol=SOCKET\nsocket=/run/mysqld/mysqld.sock\nhost=localhost\nport=1\nuser=root\npassword=\nskip-ssl\n[mysql]\ndatabase=mysql\n');
  writeFileSync(join(dir, 'pg_service.conf'), '[local]\nhost=/var/run/postgresql\nport=5432\nuser=postgres\ndbname=postgres\nsslmode=disable\n');
  Object.assign(misleading, {
    PATH: `${shims}${delimiter}${process.env.PATH ?? ''}`,
    HOME: home,
    USER: 'root',
    DBMODULE_TEST_RECORDS: records,
    PGHOST: '/var/run/postgresql',
    PGPORT: '5432',
    PGUSER: 'postgres',
    PGSSLMODE: 'disable',
    PGSERVICEFILE: join(dir, 'pg_service.conf'),
    PGSERVICE: 'local',
    MYSQL_HOST: 'localhost',
    MYSQL_UNIX_PORT: '/run/mysqld/mysqld.sock',
  });
  const other = await generate([{ name: 'commonName', value: 'another CA' }], { keySize: 2048, algorithm: 'sha256', extensions: [{ name: 'basicConstraints', cA: true }] });
  otherCa = join(dir, 'other-ca.pem');
  writeFileSync(otherCa, other.cert);

  for (const driver of ['postgres', 'mysql'] as const) {
    await directQuery(driver, `CREATE TABLE ${table} (id INT PRIMARY KEY, label VARCHAR(20) NOT NULL)`);
    await directQuery(driver, `INSERT INTO ${table} VALUES (1, 'one'), (2, 'two')`);
    await directQuery(driver, `CREATE DATABASE ${copyDatabase}`);
  }
  // an archive made without dbmodule, for pg_restore's runs that must fail
  archive = join(dir, 'direct.pgc');
  execFileSync('pg_dump', ['-Fc', '-t', table, '-f', archive, '-d', PG_URL], { env: { PATH: process.env.PATH ?? '' } });
});

afterAll(async () => {
  await emulator?.close();
  for (const driver of ['postgres', 'mysql'] as const) {
    await directQuery(driver, `DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await directQuery(driver, `DROP DATABASE IF EXISTS ${copyDatabase}`).catch(() => {});
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** DB_<NAME>_* of an IAM connection through the emulator: verify-full against its CA unless `tls` says otherwise. */
function connection(name: string, driver: Driver, options: { database?: string; host?: string; tls?: 'emulator-ca' | 'other-ca' | 'iam-default' } = {}): Record<string, string> {
  const port = driver === 'postgres' ? emulator.postgres?.port : emulator.mysql?.port;
  const tls = options.tls ?? 'emulator-ca';
  const query = tls === 'iam-default' ? '' : `?sslmode=verify-full&sslrootcert=${tls === 'emulator-ca' ? emulator.caFile : otherCa}`;
  const dsn = `${driver === 'postgres' ? 'postgresql' : 'mysql'}://${IAM_USER}@${options.host ?? 'localhost'}:${port}/${options.database ?? 'dbmodule_test'}${query}`;
  const prefix = `DB_${name.toUpperCase()}_`;
  return Object.fromEntries(Object.entries(iamEnv(emulator, driver, { DB_MAIN_DSN: dsn })).map(([key, value]) => [key.replace(/^DB_MAIN_/, prefix), value]));
}

interface ClientRun {
  code: number | undefined;
  stdout: string;
  stderr: string;
  /** The arguments the client was started with. */
  argv: string[];
  /** The emulator's decisions during the run. */
  logins: AuthAttempt[];
  /** The temporary files dbmodule handed the client: the option file, the RDS CA bundle. */
  temporary: string[];
}

async function run(client: string, args: string[], env: Record<string, string>, options: { connection?: string; cwd?: string } = {}): Promise<ClientRun> {
  for (const suffix of ['argv', 'ca']) rmSync(join(records, `${client}.${suffix}`), { force: true });
  const before = emulator.authLog.entries().length;
  const own = options.connection ? ['--connection', options.connection] : [];
  const result = await cli(['exec', ...own, '--', client, ...args], { ...misleading, ...env }, options.cwd);
  const argv = existsSync(join(records, `${client}.argv`)) ? readFileSync(join(records, `${client}.argv`), 'utf8').split('\n').slice(0, -1) : [];
  const ca = existsSync(join(records, `${client}.ca`)) ? readFileSync(join(records, `${client}.ca`), 'utf8') : '';
  const optionFile = /^--defaults-file=(.+)$/.exec(argv[0] ?? '')?.[1];
  const temporary = [optionFile, ca.includes('dbmodule-exec-') ? ca : undefined].filter((file): file is string => file !== undefined);
  return { ...result, argv, logins: emulator.authLog.entries().slice(before), temporary };
}

/** Exactly one login, through the emulator, over TLS, with a token it verified for the IAM user. */
function expectOneIamLogin(result: ClientRun, driver: Driver): void {
  expect(result.logins).toEqual([
    expect.objectContaining({ protocol: driver, decision: 'allow', tls: true, user: IAM_USER, accessKeyId: KEY.accessKeyId, signedHost: `${SIGNING_HOST}:${driver === 'postgres' ? 5432 : 3306}` }),
  ]);
}

/** The MySQL and MariaDB clients get the option file first; nothing dbmodule wrote outlives the command. */
function expectFilesHandledAndGone(result: ClientRun, client: string): void {
  if (DRIVER_OF(client) === 'mysql') expect(result.argv[0]).toMatch(/^--defaults-file=.*dbmodule-exec-[^/]+\/my\.cnf$/);
  else expect(result.argv.some((arg) => arg.includes('dbmodule-exec-'))).toBe(false);
  for (const file of result.temporary) {
    expect(existsSync(file)).toBe(false);
    expect(existsSync(dirname(file))).toBe(false);
  }
  expect(leaksSecret(result.stdout + result.stderr)).toBe(false);
}

describe('dbmodule exec with the real clients, through the RDS IAM emulator', () => {
  const reads: Array<[string, string[], (stdout: string) => void]> = [
    ['psql', ['-X', '-A', '-t', '-c', 'SELECT current_database()'], (out) => expect(out.trim()).toBe('dbmodule_test')],
    ['pg_dump', ['--schema-only', '-t', table], (out) => expect(out).toContain(`CREATE TABLE public.${table} (`)],
    ['mariadb', ['-N', '-B', '-e', `SELECT DATABASE(), COUNT(*), @@character_set_client FROM ${table}`], (out) => expect(out.trim()).toBe('dbmodule_test\t2\tutf8mb4')],
    ['mysql', ['-N', '-B', '-e', `SELECT DATABASE(), COUNT(*), @@character_set_client FROM ${table}`], (out) => expect(out.trim()).toBe('dbmodule_test\t2\tutf8mb4')],
    ['mariadb-dump', ['dbmodule_test', table], (out) => expectMysqlDump(out)],
    ['mysqldump', ['dbmodule_test', table], (out) => expectMysqlDump(out)],
  ];

  it.each(reads)('%s reaches the emulator over verified TLS with the IAM token, whatever the environment says', async (client, args, check) => {
    const driver = DRIVER_OF(client);
    const result = await run(client, args, connection('main', driver));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    check(result.stdout);
    expectOneIamLogin(result, driver);
    expectFilesHandledAndGone(result, client);
  });

  const refusals: Array<[string, { host?: string; tls: 'other-ca' | 'iam-default' | 'emulator-ca' }]> = [
    ['the RDS CA bundle (the IAM default) does not trust the emulator', { tls: 'iam-default' }],
    ['the CA the DSN names did not sign its certificate', { tls: 'other-ca' }],
    ['its certificate is not for the host the DSN names (127.0.0.1)', { host: '127.0.0.1', tls: 'emulator-ca' }],
  ];
  const clientCommands: Record<string, () => string[]> = {
    psql: () => ['-X', '-c', 'SELECT 1'],
    pg_dump: () => ['--schema-only', '-t', table],
    pg_restore: () => ['-d', copyDatabase, archive],
    mariadb: () => ['-e', 'SELECT 1'],
    mysql: () => ['-e', 'SELECT 1'],
    'mariadb-dump': () => ['dbmodule_test', table],
    mysqldump: () => ['dbmodule_test', table],
  };
  const cases = Object.keys(clientCommands).flatMap((client) => refusals.map(([why, options]) => [client, why, options] as const));

  it.each(cases)('%s refuses the emulator when %s', async (client, _why, options) => {
    const driver = DRIVER_OF(client);
    const result = await run(client, clientCommands[client]!(), connection('main', driver, options));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/certificate|SSL|TLS/i);
    expect(result.logins.filter((attempt) => attempt.decision === 'allow')).toEqual([]);
    expect(result.stdout).not.toContain('CREATE TABLE');
    if (options.tls === 'iam-default') expect(result.temporary.some((file) => file.endsWith('rds-ca-bundle.pem'))).toBe(true);
    expectFilesHandledAndGone(result, client);
  });

  it('pg_dump -Fc of a table, then pg_restore into another database, round-trips through exec', async () => {
    const cwd = mkdtempSync(join(dir, 'pg-'));
    const env = { ...connection('main', 'postgres'), ...connection('copy', 'postgres', { database: copyDatabase }), DEFAULT_DB_CONNECTION: 'main' };
    const dumped = await run('pg_dump', ['-Fc', '-t', table, '-f', 'table.pgc'], env, { connection: 'main', cwd });
    expect(dumped.stderr).toBe('');
    expect(dumped.code).toBe(0);
    expectOneIamLogin(dumped, 'postgres');
    expect(readFileSync(join(cwd, 'table.pgc')).subarray(0, 5).toString()).toBe('PGDMP'); // the custom format's magic
    const restored = await run('pg_restore', ['--no-owner', '--exit-on-error', '-d', copyDatabase, 'table.pgc'], env, { connection: 'copy', cwd });
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expectOneIamLogin(restored, 'postgres');
    expectFilesHandledAndGone(restored, 'pg_restore');
    expect(await pgRows(copyDatabase)).toEqual([
      { id: 1, label: 'one' },
      { id: 2, label: 'two' },
    ]);
  });

  it('mysqldump of a table, then mariadb sourcing it into another database, round-trips through exec', async () => {
    const cwd = mkdtempSync(join(dir, 'my-'));
    const env = { ...connection('main', 'mysql'), ...connection('copy', 'mysql', { database: copyDatabase }), DEFAULT_DB_CONNECTION: 'main' };
    const dumped = await run('mysqldump', ['dbmodule_test', table], env, { connection: 'main' });
    expect(dumped.code).toBe(0);
    expectOneIamLogin(dumped, 'mysql');
    expectMysqlDump(dumped.stdout);
    writeFileSync(join(cwd, 'table.sql'), dumped.stdout);
    // the dump names no database: it lands in the connection's, which the option file gives mariadb
    const restored = await run('mariadb', ['-e', `source ${join(cwd, 'table.sql')}`], env, { connection: 'copy' });
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expectOneIamLogin(restored, 'mysql');
    expectFilesHandledAndGone(restored, 'mariadb');
    expect(await mysqlRows(copyDatabase)).toEqual([
      { id: 1, label: 'one' },
      { id: 2, label: 'two' },
    ]);
  });
});

function expectMysqlDump(out: string): void {
  expect(out).toContain(`CREATE TABLE \`${table}\``);
  expect(out).toContain(`INSERT INTO \`${table}\` VALUES`);
  expect(out).toMatch(/\(1,'one'\),\s*\(2,'two'\);/);
}

async function pgRows(database: string): Promise<unknown[]> {
  const url = new URL(PG_URL);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return (await client.query(`SELECT id, label FROM ${table} ORDER BY id`)).rows;
  } finally {
    await client.end();
  }
}

async function mysqlRows(database: string): Promise<unknown[]> {
  const url = new URL(MYSQL_URL);
  url.pathname = `/${database}`;
  const connection = await mysql.createConnection(url.toString());
  try {
    const [rows] = await connection.query(`SELECT id, label FROM ${table} ORDER BY id`);
    return (rows as mysql.RowDataPacket[]).map((row) => ({ ...row }));
  } finally {
    await connection.end();
  }
}
