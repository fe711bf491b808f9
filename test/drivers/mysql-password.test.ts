import type mysql from 'mysql2/promise';
import { generate } from 'selfsigned';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import { PASSWORD_USER, PASSWORD_USER_SECRET } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { startFakeServer, type FakeServer } from '../support/drivers/mysql-fake-server.js';
import { adminConnection, closeAllPools, deferred, openPool } from '../support/drivers/mysql.js';
import { mysqlThreads } from '../support/mysql-threads.js';

let admin: mysql.Connection;
const servers: FakeServer[] = [];

beforeAll(async () => {
  admin = await adminConnection();
});

afterEach(async () => {
  await closeAllPools();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await admin.end();
});

async function existingSessions(ids: number[]): Promise<number> {
  return (await mysqlThreads(admin)).filter((thread) => thread.user === PASSWORD_USER && ids.includes(thread.id)).length;
}

describe('options.password', () => {
  it('is called once for every new physical connection, and the DSN password is ignored', async () => {
    let calls = 0;
    const pool = await openPool(
      { max_open_connections: 3 },
      {
        dsn: { user: PASSWORD_USER, password: 'stale-dsn-password' },
        password: async () => {
          calls++;
          return PASSWORD_USER_SECRET;
        },
      },
    );
    const hold = deferred();
    const ids: number[] = [];
    const entered: Array<Promise<void>> = [];
    const sessions = [1, 2, 3].map(() => {
      const inside = deferred();
      entered.push(inside.promise);
      return pool.withSession(async (session) => {
        ids.push(Number((await session.query<{ id: number }>('SELECT CONNECTION_ID() AS id')).rows[0]?.id));
        inside.resolve();
        await hold.promise;
      });
    });
    await Promise.all(entered);
    expect(new Set(ids).size).toBe(3);
    expect(await existingSessions(ids)).toBe(3);
    expect(calls).toBe(3);
    hold.resolve();
    await Promise.all(sessions);
    // Reusing idle sessions opens nothing, so asks for nothing.
    for (let i = 0; i < 5; i++) await pool.query('SELECT 1');
    expect(calls).toBe(3);
  });

  it('honours a changed answer on the next new session, without recreating the pool', async () => {
    let answer = PASSWORD_USER_SECRET;
    const wrong = 'rotated-wrong-password';
    const pool = await openPool({ max_open_connections: 3 }, { dsn: { user: PASSWORD_USER }, password: async () => answer });
    const { rows } = await pool.query<{ u: string }>('SELECT CURRENT_USER() AS u');
    expect(rows[0]?.u).toMatch(/^dbmodule_pw@/);

    const hold = deferred();
    const inside = deferred();
    const holder = pool.withSession(async () => {
      inside.resolve();
      await hold.promise;
    });
    await inside.promise;
    answer = wrong;
    // The only idle session is held, so this needs a new one, which gets the new (wrong) answer.
    const error = await pool.query('SELECT 1').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DbModuleError);
    expect(error).toMatchObject({ code: 'AUTH_FAILED', retryable: false });
    expect((error as Error).message).not.toContain(wrong);
    expect((error as Error).message).not.toContain(PASSWORD_USER_SECRET);

    answer = PASSWORD_USER_SECRET;
    await expect(pool.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
    hold.resolve();
    await holder;
  });

  it('reports a failing password function without opening a session, and recovers', async () => {
    let fail = true;
    const pool = await openPool(
      { max_open_connections: 1 },
      {
        dsn: { user: PASSWORD_USER },
        password: async () => {
          if (fail) throw new Error('token service unavailable');
          return PASSWORD_USER_SECRET;
        },
      },
    );
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
    fail = false;
    await expect(pool.ping()).resolves.toBeUndefined();
  });

  it('answers mysql_clear_password (RDS IAM) with the current password of each new session', async () => {
    let token = 'token-one';
    const server = await startFakeServer({ clearPassword: () => token });
    servers.push(server);
    const { logger, lines } = captureLogger();
    const pool = await openPool(
      { max_open_connections: 2 },
      { dsn: { user: 'iam_user', port: server.port, database: 'app' }, password: async () => token, logger },
    );
    await expect(pool.ping()).resolves.toBeUndefined();
    expect(server.passwords).toEqual(['token-one']);

    token = 'token-two';
    const hold = deferred();
    const inside = deferred();
    const holder = pool.withSession(async () => {
      inside.resolve();
      await hold.promise;
    });
    await inside.promise;
    await expect(pool.ping()).resolves.toBeUndefined();
    expect(server.passwords).toEqual(['token-one', 'token-two']);
    hold.resolve();
    await holder;
    expect(lines.join('\n')).not.toContain('token-');
  });

  it('without a password function, refuses a server asking for cleartext', async () => {
    const server = await startFakeServer({ clearPassword: () => 'static' });
    servers.push(server);
    const pool = await openPool({}, { dsn: { user: 'iam_user', password: 'static', port: server.port } });
    await expect(pool.ping()).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(server.passwords).toEqual([]);
  });
});

describe('TLS failures', () => {
  it('maps a self-signed server certificate to TLS_FAILED', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    const server = await startFakeServer({ tls: { cert: pems.cert, key: pems.private } });
    servers.push(server);
    const pool = await openPool({}, { dsn: { host: 'localhost', port: server.port }, tls: {} });
    const error = await pool.ping().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'TLS_FAILED', retryable: false });
    expect((error as Error).message).toContain(`localhost:${server.port}`);
  });

  it('maps a host name the certificate does not cover to TLS_FAILED, and accepts it when it matches', async () => {
    const pems = await generate([{ name: 'commonName', value: 'db.example.test' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'db.example.test' }] }],
    });
    const server = await startFakeServer({ tls: { cert: pems.cert, key: pems.private } });
    servers.push(server);
    const mismatch = await openPool({}, { dsn: { host: 'localhost', port: server.port }, tls: { ca: pems.cert } });
    const error = await mismatch.ping().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'TLS_FAILED' });
    // Same CA, host name check off (verify-ca): the handshake and the ping go through.
    const verifyCa = await openPool({}, { dsn: { host: 'localhost', port: server.port }, tls: { ca: pems.cert, checkServerIdentity: () => undefined } });
    await expect(verifyCa.ping()).resolves.toBeUndefined();
  });
});
