// dbmodule/knex: one configuration for every connection, run through the shared ORM steps, and
// Knex's own query timeout with `cancel: true` stopping the statement on the server.
import knex from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, type Connection, type Database } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { knexConfig } from '../../src/integrations/knex.js';
import { credentialsSource } from '../support/iam-e2e/credentials.js';
import { iamConnection, startRdsEmulator } from '../support/iam-e2e/rds.js';
import { describeOrm } from '../support/integrations/orm-suite.js';
import { MYSQL_URL, PG_URL } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { createWriteTable, dropWriteTable, expectStoppedUnwritten, insertRunning, passwordDsn, SLEEP, type Driver } from '../support/integrations/slow-write.js';
import { waitFor } from '../support/wait.js';

describeOrm({
  name: 'knex',
  engines: ['postgres', 'mysql', 'sqlite'],
  open(connection) {
    const orm = knex(knexConfig(connection));
    const sessionSql = connection.driver === 'postgres' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id';
    return {
      createTable: (table) =>
        orm.schema.createTable(table, (t) => {
          t.integer('id').primary();
          t.string('name', 40).notNullable();
        }),
      insert: (table, id, name) => orm(table).insert({ id, name }).then(() => undefined),
      ids: async (table) => (await orm(table).select<{ id: number }[]>('id').orderBy('id')).map((row) => Number(row.id)),
      transaction: (table, ids, failure) =>
        orm.transaction(async (trx) => {
          for (const id of ids) await trx(table).insert({ id, name: `row ${id}` });
          if (failure) throw failure;
        }),
      sessionId: async () => {
        const result: unknown = await orm.raw(sessionSql);
        // pg answers with a QueryResult, mysql2 with [rows, fields]
        const rows = (connection.driver === 'postgres' ? (result as { rows: unknown[] }).rows : (result as [unknown[]])[0]) as { id: number }[];
        return Number(rows[0]?.id);
      },
      destroy: () => orm.destroy(),
    };
  },
});

let db: Database | undefined;
let emulator: Emulator | undefined;
afterEach(async () => {
  await db?.close();
  await emulator?.close();
  db = emulator = undefined;
});

/** A write slowed down on the server, timed out by Knex after 500 ms with `cancel: true`: the server must stop it. */
async function cancelOnTimeout(connection: Connection, driver: Driver): Promise<void> {
  const client = knex(knexConfig(connection));
  const table = await createWriteTable(driver, 'knex_cancelled');
  try {
    const write = client.raw(`INSERT INTO ?? (id) SELECT 1 FROM (SELECT ${SLEEP[driver]}) AS slow`, [table]).timeout(500, { cancel: true });
    const outcome = write.then(
      () => 'committed',
      (error: unknown) => `${(error as Error).name}: ${(error as Error).message}`,
    );
    await insertRunning(driver, table);
    // Knex's wording when its cancel succeeded (a failed one says "cancelling of query failed")
    expect(await outcome).toBe('KnexTimeoutError: Defined query timeout of 500ms exceeded when running query.');
    await expectStoppedUnwritten(connection, driver, table);
    // and Knex goes on serving, within the pool's limit
    expect(await client(table).count<{ n: number | string }[]>({ n: '*' })).toMatchObject([{ n: expect.anything() as unknown }]);
    expect(connection.stats().total).toBeLessThanOrEqual(2);
  } finally {
    await client.destroy();
    await dropWriteTable(driver, table);
  }
}

describe.each(['postgres', 'mysql'] as const)('%s: Knex cancels a timed-out statement through dbmodule', (driver) => {
  it('with a password-checked user: the control connection logs in, the statement stops on the server', async () => {
    db = await createDatabase({ connections: { app: { driver, dsn: passwordDsn(driver), max_open_connections: 2 } } }, { logger: captureLogger().logger });
    await cancelOnTimeout(db.connection(), driver);
  });

  it('through IAM: the control connection logs in with a valid token', async () => {
    emulator = await startRdsEmulator();
    const source = credentialsSource(emulator, { now: () => Date.now() });
    db = await createDatabase({ connections: { app: iamConnection(emulator, driver, { pool: { max_open_connections: 2 } }) } }, { credentials: source.provider, logger: captureLogger().logger });
    const logged = emulator.authLog.entries().length;
    await cancelOnTimeout(db.connection(), driver);
    expect(emulator.authLog.entries().slice(logged).filter((attempt) => attempt.decision !== 'allow')).toEqual([]);
  });
});

describe.each(['postgres', 'mysql'] as const)('%s: knex.destroy()', (driver) => {
  it('waits for the session a transaction holds, gives it back to dbmodule, and refuses new work until initialize()', async () => {
    db = await createDatabase({ connections: { app: { driver, dsn: driver === 'postgres' ? PG_URL : MYSQL_URL, max_open_connections: 2 } } }, { logger: captureLogger().logger });
    const connection = db.connection();
    const client = knex(knexConfig(connection));
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    const transaction = client.transaction(async (trx) => {
      await trx.raw('SELECT 1');
      await held;
    });
    await waitFor(() => connection.stats().inUse === 1, 5_000, 'the transaction to hold a session');
    let destroyed = false;
    const destroying = client.destroy().then(() => (destroyed = true));
    await expect(client.raw('SELECT 1')).rejects.toThrow(/knex\.destroy\(\) was called/);
    expect(destroyed).toBe(false);
    finish();
    await transaction;
    await destroying;
    expect(connection.stats()).toMatchObject({ inUse: 0 });
    expect(connection.stats().total).toBeGreaterThanOrEqual(1);
    await expect(connection.query('SELECT 1 AS one')).resolves.toMatchObject({ rowCount: 1 });
    client.initialize();
    await expect(client.raw('SELECT 1')).resolves.toBeDefined();
    await client.destroy();
  });

  it('reader(): the same configuration, no cast', async () => {
    db = await createDatabase({ connections: { app: { driver, dsn: driver === 'postgres' ? PG_URL : MYSQL_URL, max_open_connections: 2 } } }, { logger: captureLogger().logger });
    const reads = knex(knexConfig(db.connection().reader()));
    try {
      expect(await reads.first<{ n: number | string }>(reads.raw('1 + 1 AS n'))).toMatchObject({ n: expect.anything() as unknown });
    } finally {
      await reads.destroy();
    }
  });
});

describe('sqlite: Knex takes turns on the lent Database', () => {
  it('a statement outside a transaction waits for it, and is not rolled back with it', async () => {
    db = await createDatabase({ connections: { app: { driver: 'sqlite', dsn: 'sqlite::memory:' } } }, { logger: captureLogger().logger });
    const client = knex(knexConfig(db.connection()));
    const other = knex(knexConfig(db.connection()));
    try {
      await client.schema.createTable('turns', (t) => t.integer('id').primary());
      let inside!: () => void;
      const started = new Promise<void>((resolve) => (inside = resolve));
      const failure = new Error('rolled back on purpose');
      const transaction = client.transaction(async (trx) => {
        await trx('turns').insert({ id: 1 });
        inside();
        // give the outside statements every chance to run now, inside this transaction
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw failure;
      });
      await started;
      const outside = Promise.all([client('turns').insert({ id: 2 }), other('turns').insert({ id: 3 })]);
      await expect(transaction).rejects.toBe(failure);
      await outside;
      expect((await client('turns').select<{ id: number }[]>('id').orderBy('id')).map((row) => row.id)).toEqual([2, 3]);
    } finally {
      await client.destroy();
      await other.destroy();
    }
  });
});
