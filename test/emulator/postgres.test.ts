import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import type { TLSSocket } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { PASSWORD_USER, PASSWORD_USER_SECRET, uniqueName } from '../support/databases.js';
import { IAM_USER, KEY, OTHER_KEY, PG_UPSTREAM, pgClient, presign, sign } from '../support/emulator.js';
import { rejectionOf } from '../support/rejection.js';
import { waitFor } from '../support/wait.js';

let emulator: Emulator;
let port: number;
/** A direct connection to the real server, to observe what the relayed sessions did. */
let direct: pg.Client;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEY, OTHER_KEY],
    postgres: { upstream: PG_UPSTREAM },
    iamUsers: (user) => user !== PASSWORD_USER,
  });
  port = emulator.postgres?.port ?? 0;
  direct = new pg.Client({ connectionString: PG_UPSTREAM });
  await direct.connect();
});

afterAll(async () => {
  await direct?.end();
  await emulator?.close();
});

async function connected(password: string, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const client = pgClient(emulator, password, extra);
  await client.connect();
  return client;
}

describe('PostgreSQL endpoint: IAM tokens', () => {
  it('accepts a token from @aws-sdk/rds-signer over TLS verified against caFile', async () => {
    const client = await connected(await sign({ port }));
    const { rows } = await client.query<{ db: string; ssl: boolean }>('SELECT current_database() AS db, 1 + 1 AS two');
    expect(rows[0]).toMatchObject({ db: 'dbmodule_test', two: 2 });
    await client.end();
    const entry = emulator.authLog.entries().at(-1);
    expect(entry).toMatchObject({ protocol: 'postgres', user: IAM_USER, accessKeyId: KEY.accessKeyId, signedHost: `localhost:${port}`, decision: 'allow', tls: true });
  });

  it('accepts a token signed for an RDS-style name covered by the wildcard SAN', async () => {
    const hostname = 'mydb.us-east-1.rds.amazonaws.com';
    const client = pgClient(emulator, await sign({ hostname, port }), { ssl: { ca: emulator.caPem, servername: hostname } });
    await client.connect();
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await client.end();
  });

  it('passes verify-full for multi-label RDS names (cluster endpoints), with a certificate issued for that name', async () => {
    for (const hostname of ['mydb.cluster-abc123xyz.us-east-1.rds.amazonaws.com', 'mydb.cluster-ro-abc123xyz.us-east-1.rds.amazonaws.com']) {
      const client = pgClient(emulator, await sign({ hostname, port }), { ssl: { ca: emulator.caPem, servername: hostname } });
      await client.connect();
      const socket = (client as unknown as { connection: { stream: TLSSocket } }).connection.stream;
      expect(socket.getPeerCertificate().subjectaltname).toBe(`DNS:${hostname}`);
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await client.end();
    }
  });

  it('issues no certificate for a multi-label name outside the hostname patterns', async () => {
    const client = pgClient(emulator, await sign({ port }), { ssl: { ca: emulator.caPem, servername: 'mydb.cluster-abc.eu-west-1.rds.amazonaws.com' } });
    const error = await rejectionOf(client.connect());
    expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('presents a certificate that fails verification for names it does not cover', async () => {
    const client = pgClient(emulator, await sign({ port }), { ssl: { ca: emulator.caPem, servername: 'not-covered.example.com' } });
    const error = await rejectionOf(client.connect());
    expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  const rejected: Array<[string, () => Promise<string>, string]> = [
    ['a wrong secret', () => sign({ port, credentials: { ...KEY, secretAccessKey: 'wrong-secret' } }), 'SIGNATURE_MISMATCH'],
    ['a token for another user', () => sign({ port, username: 'another_user' }), 'WRONG_USER'],
    ['a token for another region', () => sign({ port, region: 'us-west-2' }), 'WRONG_REGION'],
    ['a token for another host', () => sign({ port, hostname: 'elsewhere.example.com' }), 'WRONG_HOST'],
    ['a token for another port', () => sign({ port: port === 65535 ? 1 : port + 1 }), 'WRONG_HOST'],
    ['a token re-pointed at this endpoint', async () => (await sign({ port: 5433 })).replace('localhost:5433/', `localhost:${port}/`), 'SIGNATURE_MISMATCH'],
    ['X-Amz-Expires over 900', () => presign({ port, expiresIn: 1800 }), 'EXPIRES_TOO_LONG'],
    ['a password that is not a token', async () => 'hunter2', 'MALFORMED_TOKEN'],
  ];

  it.each(rejected)('rejects %s like RDS: FATAL 28000 PAM authentication failed', async (_name, token, reason) => {
    const error = await rejectionOf(connected(await token()));
    expect(error).toMatchObject({ severity: 'FATAL', code: '28000', message: `PAM authentication failed for user "${IAM_USER}"` });
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ decision: 'deny', reason, user: IAM_USER });
  });

  it('rejects an expired token (emulator clock shifted 16 minutes) and accepts it again at offset 0', async () => {
    const token = await sign({ port });
    emulator.setClockOffset(16 * 60);
    try {
      const error = await rejectionOf(connected(token));
      expect(error).toMatchObject({ code: '28000', message: `PAM authentication failed for user "${IAM_USER}"` });
      expect(emulator.authLog.entries().at(-1)).toMatchObject({ reason: 'TOKEN_EXPIRED' });
    } finally {
      emulator.setClockOffset(0);
    }
    const client = await connected(token);
    await client.end();
  });

  it('rejects a revoked key while other keys keep working, until it is added again', async () => {
    emulator.revoke(OTHER_KEY.accessKeyId);
    const error = await rejectionOf(connected(await sign({ port, credentials: OTHER_KEY })));
    expect(error).toMatchObject({ code: '28000', message: `PAM authentication failed for user "${IAM_USER}"` });
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ reason: 'KEY_REVOKED', accessKeyId: OTHER_KEY.accessKeyId });
    await (await connected(await sign({ port }))).end();
    emulator.addCredentials(OTHER_KEY);
    await (await connected(await sign({ port, credentials: OTHER_KEY }))).end();
  });

  it('checks the session token of temporary credentials added at run time', async () => {
    const temporary = { accessKeyId: 'ASIAEMULATORPGTEMP01', secretAccessKey: 'pg-temp-secret', sessionToken: 'pg-session-token' };
    emulator.addCredentials({ ...temporary, expiresAt: Date.now() + 3600_000 });
    await (await connected(await sign({ port, credentials: temporary }))).end();
    const { sessionToken: _, ...missing } = temporary;
    for (const [credentials, reason] of [
      [missing, 'SESSION_TOKEN_MISSING'],
      [{ ...temporary, sessionToken: 'another-session-token' }, 'SESSION_TOKEN_MISMATCH'],
    ] as const) {
      const error = await rejectionOf(connected(await sign({ port, credentials })));
      expect(error).toMatchObject({ code: '28000', message: `PAM authentication failed for user "${IAM_USER}"` });
      expect(emulator.authLog.entries().at(-1)).toMatchObject({ reason });
    }
  });

  it('rejects IAM logins without TLS before asking for the token, as RDS pg_hba does', async () => {
    const before = emulator.authLog.entries().length;
    const error = await rejectionOf(connected(await sign({ port }), { ssl: false }));
    expect(error).toMatchObject({ severity: 'FATAL', code: '28000', message: `pg_hba.conf rejects connection for host "127.0.0.1", user "${IAM_USER}", database "dbmodule_test", no encryption` });
    expect(emulator.authLog.entries().slice(before)).toEqual([expect.objectContaining({ reason: 'NOT_TLS', tls: false, accessKeyId: undefined })]);
  });

  it('records attempts without the token, its signature or the secret', () => {
    const serialized = JSON.stringify(emulator.authLog.entries());
    expect(serialized).not.toMatch(/X-Amz-Signature|[0-9a-f]{64}/);
    expect(serialized).not.toContain(KEY.secretAccessKey);
    expect(serialized).not.toContain('pg-session-token');
  });
});

describe('PostgreSQL endpoint: relayed sessions', () => {
  it('runs queries, transactions and named prepared statements on the real server', async () => {
    const table = uniqueName('em_pg');
    const client = await connected(await sign({ port }));
    try {
      await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text)`);
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${table} VALUES (1, 'kept')`);
      await client.query('COMMIT');
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${table} VALUES (2, 'rolled back')`);
      await client.query('ROLLBACK');
      const insert = { name: 'em_insert', text: `INSERT INTO ${table} VALUES ($1, $2)` };
      await client.query({ ...insert, values: [3, 'prepared'] });
      await client.query({ ...insert, values: [4, 'prepared again'] });
      const failed = await rejectionOf(client.query({ ...insert, values: [1, 'duplicate'] }));
      expect(failed.code).toBe('23505');
      // What the real server holds, seen on a direct connection.
      const { rows } = await direct.query(`SELECT id, name FROM ${table} ORDER BY id`);
      expect(rows).toEqual([
        { id: 1, name: 'kept' },
        { id: 3, name: 'prepared' },
        { id: 4, name: 'prepared again' },
      ]);
      const prepared = await client.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
      expect(prepared.rows.map((row) => row.name)).toContain('em_insert');
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
      await client.end();
    }
  });

  it('serves 50 concurrent sessions, each its own upstream backend', async () => {
    const token = await sign({ port });
    const clients = Array.from({ length: 50 }, () => pgClient(emulator, token));
    try {
      await Promise.all(clients.map((client) => client.connect()));
      const pids = await Promise.all(
        clients.map(async (client, i) => {
          const { rows } = await client.query<{ pid: number; n: number }>('SELECT pg_backend_pid() AS pid, $1::int * 2 AS n', [i]);
          expect(rows[0]?.n).toBe(i * 2);
          return rows[0]?.pid;
        }),
      );
      expect(new Set(pids).size).toBe(50);
    } finally {
      await Promise.all(clients.map((client) => client.end().catch(() => {})));
    }
  });

  it('relays a CancelRequest to the upstream backend', async () => {
    const client = await connected(await sign({ port }));
    const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
    const sleeping = rejectionOf(client.query('SELECT pg_sleep(30)'));
    await waitFor(async () => (await direct.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE $2', [processID, '%pg_sleep(30)%'])).rowCount === 1, 5000, 'the query to start');
    const cancel = Buffer.alloc(16);
    cancel.writeInt32BE(16, 0);
    cancel.writeInt32BE(80877102, 4);
    cancel.writeInt32BE(processID, 8);
    cancel.writeInt32BE(secretKey, 12);
    connect({ host: '127.0.0.1', port }).end(cancel);
    expect((await sleeping).code).toBe('57014');
    await client.end();
  });

  it('lets non-IAM users log in with their own password, checked by the upstream', async () => {
    const client = await connected(PASSWORD_USER_SECRET, { user: PASSWORD_USER });
    expect((await client.query('SELECT current_user AS u')).rows).toEqual([{ u: PASSWORD_USER }]);
    await client.end();
    expect(emulator.authLog.entries().at(-1)).toMatchObject({ user: PASSWORD_USER, decision: 'passthrough' });
    const error = await rejectionOf(connected('wrong-password', { user: PASSWORD_USER }));
    expect(error).toMatchObject({ code: '28P01', message: `password authentication failed for user "${PASSWORD_USER}"` });
  });

  it('relays results far larger than any handshake buffer, for IAM and passthrough sessions', async () => {
    for (const client of [await connected(await sign({ port })), await connected(PASSWORD_USER_SECRET, { user: PASSWORD_USER })]) {
      const { rows } = await client.query<{ big: string }>("SELECT repeat('x', 3000000) || 'end' AS big");
      expect(rows[0]?.big).toHaveLength(3_000_003);
      expect(rows[0]?.big.endsWith('xend')).toBe(true);
      expect((await client.query('SELECT 2 AS after')).rows).toEqual([{ after: 2 }]);
      await client.end();
    }
  });

  it('forwards the upstream error when the requested database does not exist', async () => {
    const error = await rejectionOf(connected(await sign({ port }), { database: 'no_such_database_here' }));
    expect(error).toMatchObject({ code: '3D000', message: 'database "no_such_database_here" does not exist' });
  });
});

describe('PostgreSQL endpoint: lifecycle', () => {
  it('accepts tokens signed for an advertised port it does not listen on', async () => {
    const tunnel = await startEmulator({ credentials: [KEY], postgres: { upstream: PG_UPSTREAM, advertisedPort: 5432 }, mysql: false });
    try {
      expect(tunnel.postgres?.advertisedPort).toBe(5432);
      const client = pgClient(tunnel, await sign({ port: 5432 }));
      await client.connect();
      await client.end();
      const wrong = await rejectionOf(pgClient(tunnel, await sign({ port: tunnel.postgres?.port ?? 0 })).connect());
      expect(wrong.code).toBe('28000');
      expect(tunnel.authLog.entries().at(-1)).toMatchObject({ reason: 'WRONG_HOST' });
    } finally {
      await tunnel.close();
    }
  });

  it('close() ends open sessions on both sides and stops listening', async () => {
    const local = await startEmulator({ credentials: [KEY], postgres: { upstream: PG_UPSTREAM } });
    const appName = uniqueName('em_close');
    const token = await sign({ port: local.postgres?.port ?? 0 });
    const clients = await Promise.all(
      [1, 2, 3].map(async () => {
        const client = pgClient(local, token, { application_name: appName });
        await client.connect();
        return client;
      }),
    );
    const ended = clients.map((client) => new Promise<void>((resolve) => client.once('end', () => resolve())));
    const upstreamCount = async () => Number((await direct.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [appName])).rows[0]?.n);
    expect(await upstreamCount()).toBe(3);
    await local.close();
    await Promise.all(ended);
    await waitFor(async () => (await upstreamCount()) === 0, 5000, 'the upstream sessions to end');
    const refused = await rejectionOf(pgClient(local, token, { ssl: { ca: local.caPem, servername: 'localhost' } }).connect());
    expect(refused.code).toBe('ECONNREFUSED');
    expect(existsSync(local.caFile)).toBe(false); // the generated CA's temporary directory is removed
    await local.close(); // idempotent
  });
});
