import { afterAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/databases.js';
import { startFaultProxy } from '../support/fault-proxy.js';
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
import { DbModuleError } from '../../src/errors.js';
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
  it('killed by the server: the caller gets CONNECTION_LOST (retryable), nothing is committed, the session is discarded', async () => {
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
    expect(error).toMatchObject({ code: 'CONNECTION_LOST', retryable: true, connection: 'main' });
    expect(await rowsIn(driver, name)).toBe(0);
    // the pool is healthy and never hands the dead session out again
    const after = await Promise.all(Array.from({ length: 4 }, () => sessionOf(db, driver)));
    expect(after).not.toContain(victim);
    expect(connection.stats()).toMatchObject({ inUse: 0, waiting: 0 });
    expect((await sessionIds(identity)).length).toBe(connection.stats().total);
  });

  it('cut by the network: the caller gets CONNECTION_LOST, nothing is committed, the pool recovers', async () => {
    const identity = await newIdentity(driver);
    const name = await table(driver);
    const proxy = track(await startFaultProxy(SERVER[driver]));
    const db = track(await openMain(driver, identity.dsn(proxy.port), { max_open_connections: 2 }));
    const connection = db.connection();
    const error = await rejectionOf(
      connection.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${name} (id) VALUES (${placeholder(driver, 1)})`, [1]);
        await proxy.dropAll();
      }),
      DbModuleError,
    );
    expect(error).toMatchObject({ code: 'CONNECTION_LOST', connection: 'main' });
    await waitFor(async () => (await sessionIds(identity)).length === 0, 5_000, 'the cut session ended on the server');
    expect(await rowsIn(driver, name)).toBe(0);
    await connection.transaction((tx) => tx.query(`INSERT INTO ${name} (id) VALUES (${placeholder(driver, 1)})`, [2]));
    expect(await rowsIn(driver, name)).toBe(1);
    expect(connection.stats()).toMatchObject({ total: 1, inUse: 0, waiting: 0 });
  });
});
