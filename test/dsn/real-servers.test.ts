// The parsed credentials are the ones the servers accept: PostgreSQL and MariaDB check them.
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/dsn/index.js';
import type { ParsedDsn } from '../../src/dsn/index.js';
import { MYSQL_URL, PASSWORD_USER, PASSWORD_USER_SECRET, PG_URL, uniqueName } from '../support/databases.js';

// the test servers' host:port (DBMODULE_TEST_PG_URL / DBMODULE_TEST_MYSQL_URL, else the shared ones)
const PG = { host: new URL(PG_URL).hostname, port: new URL(PG_URL).port || '5432' };
const MY = `${new URL(MYSQL_URL).hostname}:${new URL(MYSQL_URL).port || '3306'}`;

async function pgUser(dsn: ParsedDsn): Promise<string> {
  const client = new pg.Client({ host: dsn.host, port: dsn.port, user: dsn.user, password: dsn.password ?? '', database: dsn.database });
  await client.connect();
  try {
    const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
    return rows[0]?.user ?? '';
  } finally {
    await client.end();
  }
}

async function mysqlUser(dsn: ParsedDsn): Promise<string> {
  const connection = await mysql.createConnection({ host: dsn.host, port: dsn.port, user: dsn.user, password: dsn.password, database: dsn.database });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS user');
    return String(rows[0]?.user);
  } finally {
    await connection.end();
  }
}

describe('PostgreSQL accepts the parsed password', () => {
  const secret = PASSWORD_USER_SECRET;
  it.each([
    ['raw URL', `postgres://${PASSWORD_USER}:${secret}@${PG.host}:${PG.port}/dbmodule_test?sslmode=disable`],
    ['encoded URL', `postgresql://${encodeURIComponent(PASSWORD_USER)}:${[...secret].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}@${PG.host}:${PG.port}/dbmodule_test`],
    ['key/value', `host=${PG.host} port=${PG.port} user=${PASSWORD_USER} password='${secret}' dbname=dbmodule_test`],
  ])('%s', async (_name, dsn) => {
    expect(await pgUser(parseDsn(dsn, { driver: 'postgres' }))).toBe(PASSWORD_USER);
  });

  it('and rejects a password that is off by one character (the check is real)', async () => {
    const dsn = parseDsn(`postgres://${PASSWORD_USER}:${secret}x@${PG.host}:${PG.port}/dbmodule_test`);
    await expect(pgUser(dsn)).rejects.toMatchObject({ code: '28P01' });
  });
});

describe('MariaDB accepts a password full of special characters', () => {
  const user = uniqueName('dsn');
  const password = `p@ss:w/rd?#% &=!()[]{}|;'",<>\\+é`;
  let admin: mysql.Connection;

  beforeAll(async () => {
    const root = parseDsn(MYSQL_URL);
    admin = await mysql.createConnection({ host: root.host, port: root.port, user: root.user, password: root.password });
    for (const host of ['%', 'localhost']) await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, host, password]);
  });

  afterAll(async () => {
    for (const host of ['%', 'localhost']) await admin.query('DROP USER IF EXISTS ?@?', [user, host]);
    await admin.end();
  });

  it.each([
    ['raw Go form', () => `${user}:${password}@tcp(${MY})/`],
    ['raw URL', () => `mysql://${user}:${password}@${MY}`],
    ['encoded URL', () => `mariadb://${user}:${encodeURIComponent(password)}@${MY}/`],
    ['encoded Go form', () => `${user}:${encodeURIComponent(password)}@tcp(${MY})/`],
  ])('%s', async (_name, build) => {
    const parsed = parseDsn(build(), { driver: 'mysql' });
    expect(parsed.password).toBe(password);
    expect(await mysqlUser(parsed)).toMatch(new RegExp(`^${user}@`));
  });

  it('and rejects the Go module reading of a space as + (the check is real)', async () => {
    const parsed = parseDsn(`${user}:${password.replace(' ', '+')}@tcp(${MY})/`);
    await expect(mysqlUser(parsed)).rejects.toMatchObject({ errno: 1045 });
  });
});
