import mysql from 'mysql2/promise';
import pg from 'pg';
import { MYSQL_URL, PASSWORD_USER, PASSWORD_USER_SECRET, PG_URL } from './databases.js';

const HOW = 'start them with `sudo bash .ci/prepare-databases` (it also adds the pg_hba rule for the password tests), or point DBMODULE_TEST_PG_URL / DBMODULE_TEST_MYSQL_URL at servers of your own';

/**
 * Makes sure the shared servers are up and creates what the tests and benchmarks need on them
 * (the test databases and users), idempotently. What needs root (starting a server, the pg_hba
 * rule of the password tests) it names instead.
 */
export async function prepareTestDatabases(): Promise<void> {
  await preparePostgres();
  await prepareMariadb();
}

async function preparePostgres(): Promise<void> {
  const url = new URL(PG_URL);
  const database = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`The tests need PostgreSQL at ${url.host} (as ${url.username || 'postgres'}): ${(error as Error).message}; ${HOW}`);
  }
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${database}`);
    await admin.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PASSWORD_USER}') THEN CREATE ROLE ${PASSWORD_USER} LOGIN PASSWORD '${PASSWORD_USER_SECRET}'; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dbmodule_iam_only') THEN CREATE ROLE dbmodule_iam_only LOGIN; END IF;
    END $$`);
    await admin.query(`GRANT ALL ON DATABASE ${database} TO ${PASSWORD_USER}, dbmodule_iam_only`);
  } finally {
    await admin.end();
  }
  // the password tests need the server to check dbmodule_pw's password (it trusts everyone else)
  const wrong = new URL(PG_URL);
  wrong.username = PASSWORD_USER;
  wrong.password = 'not-the-password';
  const client = new pg.Client({ connectionString: wrong.toString(), connectionTimeoutMillis: 5_000 });
  const accepted = await client.connect().then(
    () => true,
    () => false,
  );
  await client.end().catch(() => {});
  if (accepted) throw new Error(`PostgreSQL at ${wrong.host} accepts ${PASSWORD_USER} with a wrong password: add \`host all ${PASSWORD_USER} 127.0.0.1/32 scram-sha-256\` first in pg_hba.conf and reload; ${HOW}`);
}

async function prepareMariadb(): Promise<void> {
  const url = new URL(MYSQL_URL);
  const database = url.pathname.slice(1);
  let admin: mysql.Connection;
  try {
    admin = await mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username || 'root'), password: decodeURIComponent(url.password), connectTimeout: 5_000 });
  } catch (error) {
    throw new Error(`The tests need MariaDB at ${url.host} (as ${url.username || 'root'}): ${(error as Error).message}; ${HOW}`);
  }
  try {
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
    for (const host of ['%', 'localhost']) {
      await admin.query(`CREATE USER IF NOT EXISTS '${PASSWORD_USER}'@'${host}' IDENTIFIED BY '${PASSWORD_USER_SECRET}'`);
      await admin.query(`CREATE USER IF NOT EXISTS 'dbmodule_iam_only'@'${host}'`);
      for (const user of [PASSWORD_USER, 'dbmodule_iam_only']) await admin.query(`GRANT ALL ON \`${database}\`.* TO '${user}'@'${host}'`);
    }
  } finally {
    await admin.end();
  }
}
