import { connect } from 'node:net';
import mysql from 'mysql2/promise';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { PASSWORD_USER, PASSWORD_USER_SECRET, uniqueName } from '../support/databases.js';
import { IAM_USER, KEY, MYSQL_UPSTREAM, mysqlConnection, OTHER_KEY, presign, sign } from '../support/emulator.js';
import { mysqlThreads } from '../support/mysql-threads.js';
import { rejectionOf } from '../support/rejection.js';
import { waitFor } from '../support/wait.js';

let emulator: Emulator;
let port: number;
let direct: mysql.Connection;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEY, OTHER_KEY],
    postgres: false,
    mysql: { upstream: MYSQL_UPSTREAM },
    iamUsers: [IAM_USER, 'another_user'],
  });
  port = emulator.mysql?.port ?? 0;
  direct = await mysql.createConnection(MYSQL_UPSTREAM);
});

afterAll(async () => {
  await direct?.end();
  await emulator?.close();
});

const denied = (using = 'YES') => ({ errno: 1045, sqlState: '28000', message: `Access denied for user '${IAM_USER}'@'127.0.0.1' (using password: ${using})` });

describe('MySQL endpoint: IAM tokens', () => {
  it('accepts a token from @aws-sdk/rds-signer with enableCleartextPlugin over TLS verified against caFile', async () => {
    const connection = await mysqlConnection(emulator, await sign({ port }));
    const [rows] = await connection.query('SELECT DATABASE() AS db, 1 + 1 AS two');
    expect(rows).toEqual([{ db: 'dbmodule_test', two: 2 }]);
    await connection.end();
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ protocol: 'mysql', user: IAM_USER, accessKeyId: KEY.accessKeyId, signedHost: `localhost:${port}`, decision: 'allow', tls: true });
  });

  it('accepts a token given through a custom mysql_clear_password auth plugin', async () => {
    const token = await sign({ port });
    const connection = await mysqlConnection(emulator, '', { enableCleartextPlugin: false, authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) } });
    const [rows] = await connection.query('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
    await connection.end();
  });

  it('switches IAM users to mysql_clear_password, as RDS does', async () => {
    const error = await rejectionOf(mysqlConnection(emulator, await sign({ port }), { enableCleartextPlugin: false }));
    expect(error.code).toBe('MYSQL_CLEAR_PASSWORD_NOT_ENABLED');
  });

  it('passes verify-full for a multi-label RDS name (a cluster endpoint)', async () => {
    const hostname = 'mydb.cluster-abc123xyz.us-east-1.rds.amazonaws.com';
    // mysql2 verifies the certificate against `host` (ssl.servername is ignored): dial 127.0.0.1 ourselves.
    const connection = await mysqlConnection(emulator, await sign({ hostname, port }), { host: hostname, stream: connect(port, '127.0.0.1'), ssl: { ca: emulator.caPem, verifyIdentity: true } });
    const [rows] = await connection.query('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
    await connection.end();
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ signedHost: `${hostname}:${port}`, decision: 'allow', tls: true });
  });

  it('presents a certificate that fails verification against another CA', async () => {
    const otherCa = (await generate([{ name: 'commonName', value: 'some other CA' }], { keyType: 'ec' })).cert;
    const error = await rejectionOf(mysqlConnection(emulator, await sign({ port }), { ssl: { ca: otherCa, servername: 'localhost' } }));
    expect(error).toMatchObject({ code: 'HANDSHAKE_SSL_ERROR', message: expect.stringMatching(/certificate/) });
  });

  const rejected: Array<[string, () => Promise<string>, string]> = [
    ['a wrong secret', () => sign({ port, credentials: { ...KEY, secretAccessKey: 'wrong-secret' } }), 'SIGNATURE_MISMATCH'],
    ['a token for another user', () => sign({ port, username: 'another_user' }), 'WRONG_USER'],
    ['a token for another region', () => sign({ port, region: 'ap-southeast-2' }), 'WRONG_REGION'],
    ['a token for another host', () => sign({ port, hostname: 'elsewhere.example.com' }), 'WRONG_HOST'],
    ['a token for another port', () => sign({ port: port === 65535 ? 1 : port + 1 }), 'WRONG_HOST'],
    ['X-Amz-Expires over 900', () => presign({ port, expiresIn: 3600 }), 'EXPIRES_TOO_LONG'],
    ['a password that is not a token', async () => 'hunter2', 'MALFORMED_TOKEN'],
  ];

  it.each(rejected)('rejects %s like RDS: error 1045 Access denied', async (_name, token, reason) => {
    const error = await rejectionOf(mysqlConnection(emulator, await token()));
    expect(error).toMatchObject(denied());
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ decision: 'deny', reason, protocol: 'mysql' });
  });

  it('rejects an expired token (emulator clock shifted 16 minutes) and accepts it again at offset 0', async () => {
    const token = await sign({ port });
    emulator.setClockOffset(16 * 60);
    try {
      expect(await rejectionOf(mysqlConnection(emulator, token))).toMatchObject(denied());
      expect(emulator.authLog.entries().at(-1)).toMatchObject({ reason: 'TOKEN_EXPIRED' });
    } finally {
      emulator.setClockOffset(0);
    }
    await (await mysqlConnection(emulator, token)).end();
  });

  it('rejects a revoked key', async () => {
    emulator.revoke(OTHER_KEY.accessKeyId);
    try {
      expect(await rejectionOf(mysqlConnection(emulator, await sign({ port, credentials: OTHER_KEY })))).toMatchObject(denied());
      expect(emulator.authLog.entries().at(-1)).toMatchObject({ reason: 'KEY_REVOKED' });
    } finally {
      emulator.addCredentials(OTHER_KEY);
    }
  });

  it('rejects a missing or wrong session token', async () => {
    const temporary = { accessKeyId: 'ASIAEMULATORMYTEMP01', secretAccessKey: 'my-temp-secret', sessionToken: 'my-session-token' };
    emulator.addCredentials(temporary);
    await (await mysqlConnection(emulator, await sign({ port, credentials: temporary }))).end();
    const { sessionToken: _, ...missing } = temporary;
    for (const [credentials, reason] of [
      [missing, 'SESSION_TOKEN_MISSING'],
      [{ ...temporary, sessionToken: 'not-my-session-token' }, 'SESSION_TOKEN_MISMATCH'],
    ] as const) {
      expect(await rejectionOf(mysqlConnection(emulator, await sign({ port, credentials })))).toMatchObject(denied());
      expect(emulator.authLog.entries().at(-1)).toMatchObject({ reason });
    }
  });

  it('rejects IAM logins without TLS, before the token is sent', async () => {
    const error = await rejectionOf(mysqlConnection(emulator, await sign({ port }), { ssl: undefined }));
    expect(error).toMatchObject(denied());
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ reason: 'NOT_TLS', tls: false, accessKeyId: undefined });
  });
});

describe('MySQL endpoint: relayed sessions', () => {
  it('runs queries, transactions and prepared statements on the real server', async () => {
    const table = uniqueName('em_my');
    const connection = await mysqlConnection(emulator, await sign({ port }));
    try {
      await connection.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(40)) ENGINE=InnoDB`);
      await connection.beginTransaction();
      await connection.query(`INSERT INTO ${table} VALUES (1, 'kept')`);
      await connection.commit();
      await connection.beginTransaction();
      await connection.query(`INSERT INTO ${table} VALUES (2, 'rolled back')`);
      await connection.rollback();
      await connection.execute(`INSERT INTO ${table} VALUES (?, ?)`, [3, 'prepared']);
      await connection.execute(`INSERT INTO ${table} VALUES (?, ?)`, [4, 'prepared again']);
      const [selected] = await connection.execute(`SELECT name FROM ${table} WHERE id = ?`, [3]);
      expect(selected).toEqual([{ name: 'prepared' }]);
      const duplicate = await rejectionOf(connection.execute(`INSERT INTO ${table} VALUES (?, ?)`, [1, 'duplicate']));
      expect(duplicate.errno).toBe(1062);
      const [rows] = await direct.query(`SELECT id, name FROM ${table} ORDER BY id`);
      expect(rows).toEqual([
        { id: 1, name: 'kept' },
        { id: 3, name: 'prepared' },
        { id: 4, name: 'prepared again' },
      ]);
    } finally {
      await connection.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
      await connection.end();
    }
  });

  it('serves 50 concurrent sessions, each its own upstream connection', async () => {
    const token = await sign({ port });
    const connections = await Promise.all(Array.from({ length: 50 }, () => mysqlConnection(emulator, token)));
    try {
      const ids = await Promise.all(
        connections.map(async (connection, i) => {
          const [rows] = await connection.execute<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id, ? * 2 AS n', [i]);
          expect(Number(rows[0]?.n)).toBe(i * 2);
          return rows[0]?.id as number;
        }),
      );
      expect(new Set(ids).size).toBe(50);
    } finally {
      await Promise.all(connections.map((connection) => connection.end().catch(() => {})));
    }
  });

  it('lets non-IAM users log in with their own password, checked by the upstream', async () => {
    const connection = await mysqlConnection(emulator, PASSWORD_USER_SECRET, { user: PASSWORD_USER });
    const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
    expect(String(rows[0]?.u)).toMatch(new RegExp(`^${PASSWORD_USER}@`));
    await connection.end();
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ user: PASSWORD_USER, decision: 'passthrough' });
    const error = await rejectionOf(mysqlConnection(emulator, 'wrong-password', { user: PASSWORD_USER }));
    expect(error).toMatchObject({ errno: 1045, message: expect.stringContaining(`Access denied for user '${PASSWORD_USER}'@`) });
  });

  it('relays results far larger than any handshake buffer, for IAM and passthrough sessions', async () => {
    const iam = await mysqlConnection(emulator, await sign({ port }));
    const own = await mysqlConnection(emulator, PASSWORD_USER_SECRET, { user: PASSWORD_USER });
    for (const connection of [iam, own]) {
      await connection.query('SET SESSION max_allowed_packet = 16777216').catch(() => {});
      const [rows] = await connection.query<mysql.RowDataPacket[]>("SELECT CONCAT(REPEAT('x', 3000000), 'end') AS big");
      expect(String(rows[0]?.big)).toHaveLength(3_000_003);
      const [after] = await connection.query('SELECT 2 AS after');
      expect(after).toEqual([{ after: 2 }]);
      await connection.end();
    }
  });

  it('close() ends open sessions on both sides', async () => {
    const local = await startEmulator({ credentials: [KEY], postgres: false, mysql: { upstream: MYSQL_UPSTREAM } });
    const token = await sign({ port: local.mysql?.port ?? 0 });
    const connections = await Promise.all([1, 2, 3].map(() => mysqlConnection(local, token)));
    const ids = await Promise.all(connections.map(async (connection) => ((await connection.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id'))[0][0]?.id as number)));
    const alive = async () => {
      return (await mysqlThreads(direct)).filter((thread) => ids.includes(thread.id)).length;
    };
    expect(await alive()).toBe(3);
    await local.close();
    for (const connection of connections) {
      expect((await rejectionOf(connection.query('SELECT 1'))).message).toMatch(/closed|Connection lost|ended/i);
    }
    await waitFor(async () => (await alive()) === 0, 5000, 'the upstream sessions to end');
  });
});
