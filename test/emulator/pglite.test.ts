import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { IAM_USER, KEY, pgClient, sign } from '../support/emulator.js';
import { rejectionOf } from '../support/rejection.js';

let emulator: Emulator;
let port: number;

beforeAll(async () => {
  emulator = await startEmulator({ credentials: [KEY] }); // no upstream: embedded PGlite
  port = emulator.postgres?.port ?? 0;
}, 60_000);

afterAll(async () => {
  await emulator?.close();
});

async function session(): Promise<import('pg').Client> {
  const client = pgClient(emulator, await sign({ port }));
  await client.connect();
  return client;
}

describe('PostgreSQL endpoint with the embedded PGlite', () => {
  it('reports PGlite as the backend', () => {
    expect(emulator.postgres?.backend).toBe('pglite');
  });

  it('authenticates IAM tokens and serves simple and extended-protocol queries', async () => {
    const client = await session();
    const { rows } = await client.query<{ n: number; v: string }>('SELECT $1::int + 1 AS n, version() AS v', [41]);
    expect(rows[0]?.n).toBe(42);
    expect(rows[0]?.v).toMatch(/^PostgreSQL/);
    await client.end();
    const error = await rejectionOf(pgClient(emulator, await sign({ port, credentials: { ...KEY, secretAccessKey: 'wrong' } })).connect());
    expect(error).toMatchObject({ code: '28000', message: `PAM authentication failed for user "${IAM_USER}"` });
  });

  it('gives sessions turns at transaction boundaries', async () => {
    const a = await session();
    const b = await session();
    try {
      await a.query('CREATE TABLE turns (id int)');
      const order: string[] = [];
      await a.query('BEGIN');
      await a.query('INSERT INTO turns VALUES (1)');
      const bCount = b.query<{ n: string }>('SELECT count(*) AS n FROM turns').then((result) => {
        order.push('b');
        return result.rows[0]?.n;
      });
      await a.query('INSERT INTO turns VALUES (2)');
      order.push('a-insert');
      await a.query('COMMIT');
      order.push('a-commit');
      expect(await bCount).toBe('2'); // b ran only after a's transaction, and saw both rows
      expect(order).toEqual(['a-insert', 'a-commit', 'b']);
    } finally {
      await a.query('DROP TABLE IF EXISTS turns').catch(() => {});
      await a.end();
      await b.end();
    }
  });

  it('rolls back and frees the database when a session leaves mid-transaction', async () => {
    const a = await session();
    await a.query('CREATE TABLE left_behind (id int)');
    await a.query('BEGIN');
    await a.query('INSERT INTO left_behind VALUES (1)');
    await a.end();
    const b = await session();
    try {
      expect((await b.query('SELECT count(*)::int AS n FROM left_behind')).rows).toEqual([{ n: 0 }]);
    } finally {
      await b.query('DROP TABLE left_behind');
      await b.end();
    }
  });

  it('close() ends a session that holds PGlite mid-transaction, and closes PGlite', async () => {
    const a = await session();
    await a.query('BEGIN');
    const waiting = (await session()).query('SELECT 1').catch((error: Error) => error);
    const ended = new Promise<void>((resolve) => a.once('end', () => resolve()));
    await emulator.close();
    await ended;
    expect(await waiting).toBeInstanceOf(Error); // the session queued behind a's transaction is ended, not left hanging
  });
});
