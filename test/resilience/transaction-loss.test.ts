import { afterAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/databases.js';
import { startFaultProxy, type Partition } from '../support/fault-proxy.js';
import type { Database } from '../../src/index.js';
import { waitFor } from '../support/wait.js';
import {
  NET_DRIVERS,
  SERVER,
  admin,
  dropIdentities,
  newIdentity,
  openMain,
  placeholder,
  sessionIds,
  sessionOf,
  terminateSessions,
  type NetDriver,
  perTestCleanup,
} from '../support/resilience/harness.js';
import { DbModuleError, TransactionError } from '../../src/errors.js';
import { rejectionOf } from '../support/rejection.js';

const { track, defer } = perTestCleanup();
afterAll(dropIdentities);

/** A table of the shared server for one test, dropped afterwards. */
async function table(driver: NetDriver): Promise<string> {
  const name = uniqueName('res_tx');
  await admin(driver, `CREATE TABLE ${name} (id INT NOT NULL)`);
  defer(() => admin(driver, `DROP TABLE IF EXISTS ${name}`));
  return name;
}

async function rowsIn(driver: NetDriver, name: string): Promise<number> {
  const rows = await admin<{ n: number | string }>(driver, `SELECT COUNT(*) AS n FROM ${name}`);
  return Number(rows[0]?.n);
}

describe.each(NET_DRIVERS)('%s: a transaction whose session dies before COMMIT', (driver) => {
  it('killed by the server: the caller gets TRANSACTION_FAILED, rolled back and retryable, nothing is committed, the session is discarded', async () => {
    const identity = await newIdentity(driver);
    const name = await table(driver);
    const db = track(await openMain(driver, identity.dsn(), { max_open_connections: 2 }));
    const connection = db.connection();
    let victim = 0;
    const error = await rejectionOf(
      connection.transaction(async (tx) => {
        victim = Number((await tx.query<{ id: number }>(driver === 'postgres' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id')).rows[0]?.id);
        await tx.query(`INSERT INTO ${name} (id) VALUES (${placeholder(driver, 1)})`, [1]);
        await terminateSessions(identity);
        await waitFor(async () => !(await sessionIds(identity)).includes(victim), 5_000, 'session gone from the server');
      }),
      DbModuleError,
    );
    expect(error).toBeInstanceOf(TransactionError);
    expect(error).toMatchObject({ code: 'TRANSACTION_FAILED', outcome: 'rolled-back', retryable: true, connection: 'main', cause: { code: 'CONNECTION_LOST' } });
    expect(await rowsIn(driver, name)).toBe(0);
    // the pool is healthy and never hands the dead session out again
    const after = await Promise.all(Array.from({ length: 4 }, () => sessionOf(db, driver)));
    expect(after).not.toContain(victim);
    expect(connection.stats()).toMatchObject({ inUse: 0, waiting: 0 });
    expect((await sessionIds(identity)).length).toBe(connection.stats().total);
  });

  it('cut by the network: the caller gets TRANSACTION_FAILED, rolled back and retryable, nothing is committed, the pool recovers', async () => {
    const identity = await newIdentity(driver);
    const name = await table(driver);
    const proxy = track(await startFaultProxy(SERVER[driver]));
    const db = track(await openMain(driver, identity.dsn(proxy.port), { max_open_connections: 2 }));
    const connection = db.connection();
    const error = await rejectionOf(
      connection.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${name} (id) VALUES (${placeholder(driver, 1)})`, [1]);
        await proxy.dropAll();
        // the client has seen the connection close before COMMIT (a cut in the same turn as COMMIT is the next describe's)
        await waitFor(async () => (await sessionIds(identity)).length === 0, 5_000, 'the cut session ended on the server');
      }),
      DbModuleError,
    );
    expect(error).toMatchObject({ code: 'TRANSACTION_FAILED', outcome: 'rolled-back', retryable: true, connection: 'main', cause: { code: 'CONNECTION_LOST' } });
    expect(await rowsIn(driver, name)).toBe(0);
    await connection.transaction((tx) => tx.query(`INSERT INTO ${name} (id) VALUES (${placeholder(driver, 1)})`, [2]));
    expect(await rowsIn(driver, name)).toBe(1);
    expect(connection.stats()).toMatchObject({ total: 1, inUse: 0, waiting: 0 });
  });
});

describe.each(NET_DRIVERS)('%s: a transaction whose session dies while COMMIT is in flight', (driver) => {
  /** Runs a one-row transaction whose COMMIT goes out into a partition (`partition`), then cuts every connection. */
  async function commitIntoPartition(partition: Partition): Promise<{ error: DbModuleError; rows: number; db: Database }> {
    const identity = await newIdentity(driver);
    const name = await table(driver);
    const proxy = track(await startFaultProxy(SERVER[driver]));
    const db = track(await openMain(driver, identity.dsn(proxy.port), { max_open_connections: 2 }));
    const committing = rejectionOf(
      db.connection().transaction(async (tx) => {
        await tx.query(`INSERT INTO ${name} (id) VALUES (${placeholder(driver, 1)})`, [1]);
        proxy.blackhole(partition);
      }),
      DbModuleError,
    );
    // the COMMIT (or, past a one-way partition, its answer) is held by the network: cut it there
    await waitFor(() => (partition === 'both' ? proxy.held.fromClients : proxy.held.fromServer) > 0, 5_000, 'COMMIT held by the partition');
    await proxy.dropAll('reset');
    proxy.restore();
    const error = await committing;
    await waitFor(async () => (await sessionIds(identity)).length === 0, 5_000, 'the cut session ended on the server');
    return { error, rows: await rowsIn(driver, name), db };
  }

  it('COMMIT never reached the server: TRANSACTION_FAILED with an unknown outcome, not retryable (nothing was committed, but the client cannot know)', async () => {
    const { error, rows, db } = await commitIntoPartition('both');
    expect(error).toBeInstanceOf(TransactionError);
    expect(error).toMatchObject({ code: 'TRANSACTION_FAILED', outcome: 'unknown', retryable: false, cause: { code: 'CONNECTION_LOST' } });
    expect(rows).toBe(0);
    await db.connection().query('SELECT 1');
    expect(db.connection().stats()).toMatchObject({ total: 1, inUse: 0 });
  });

  it('COMMIT was applied and only its answer was lost: the same unknown outcome, and the row is there (saying "rolled back" would be a lie)', async () => {
    const { error, rows } = await commitIntoPartition('answers');
    expect(error).toMatchObject({ code: 'TRANSACTION_FAILED', outcome: 'unknown', retryable: false });
    expect(rows).toBe(1);
  });
});
