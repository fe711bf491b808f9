import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import { DbModuleError } from '../../src/errors.js';
import { silentLogger } from '../../src/logging.js';
import { waitFor } from '../support/wait.js';
import { NET_DRIVERS, SERVER, describeFailure, dropIdentities, newIdentity, openMain, outcomeOf, phase, report, sessionIds, sleepSql, underLoad, type Outcome } from '../support/resilience/harness.js';
import { recordSockets, type SocketRecorder } from '../support/resilience/sockets.js';
import { rejectionOf } from '../support/rejection.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(dropIdentities);

function recorder(port: number): SocketRecorder {
  const sockets = recordSockets(port);
  cleanup.push(() => sockets.stop());
  return sockets;
}

describe.each(NET_DRIVERS)('%s: close() under load', (driver) => {
  it('in-flight queries complete, later ones fail with DATABASE_CLOSED, and no session or socket is left open', async () => {
    const identity = await newIdentity(driver);
    const sockets = recorder(SERVER[driver].port);
    const db = await openMain(driver, identity.dsn(), { max_open_connections: 4 });
    cleanup.push(() => db.close());
    const connection = db.connection();

    let closeCalledAt = Number.POSITIVE_INFINITY;
    let closeTook = 0;
    const stop = (async () => {
      await phase(300);
      closeCalledAt = performance.now();
      await db.close({ timeoutMs: 5_000 });
      closeTook = performance.now() - closeCalledAt;
    })();
    const outcomes: Array<Outcome<unknown>> = await underLoad(8, () => connection.query(sleepSql(driver, 0.1)), stop);
    await stop;

    const before = outcomes.filter((outcome) => outcome.startedAt < closeCalledAt);
    const after = outcomes.filter((outcome) => outcome.startedAt >= closeCalledAt);
    // everything admitted before close() ran to completion
    expect(before.filter((outcome) => !outcome.ok).map((outcome) => describeFailure(!outcome.ok && outcome.error))).toEqual([]);
    expect(before.filter((outcome) => outcome.endedAt > closeCalledAt).length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    for (const outcome of after) {
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) expect(outcome.error).toMatchObject({ code: 'DATABASE_CLOSED', retryable: false, connection: 'main' });
    }
    // the in-flight 100 ms queries bound how long the drain took
    expect(closeTook).toBeLessThan(1_000);
    report(`${driver} close under load`, { closeMs: Math.round(closeTook), completedInFlight: before.filter((o) => o.endedAt > closeCalledAt).length, refusedAfter: after.length });
    expect(await sessionIds(identity)).toEqual([]);
    // a socket may still be finishing its close handshake when close() returns, never more
    await waitFor(() => sockets.open().length === 0, 1_000, 'no socket left open');
  });

  it('a query that never ends: close() returns within its timeout, the query fails with DATABASE_CLOSED, the server stops it, no socket stays open', async () => {
    const identity = await newIdentity(driver);
    const sockets = recorder(SERVER[driver].port);
    const db = await openMain(driver, identity.dsn(), { max_open_connections: 3 });
    cleanup.push(() => db.close());
    const connection = db.connection();
    await connection.query('SELECT 1');

    const hung = outcomeOf(() => connection.query(sleepSql(driver, 30)));
    let release!: () => void;
    const held = outcomeOf(() => connection.transaction(async (tx) => {
      await tx.query('SELECT 1');
      await new Promise<void>((resolve) => (release = resolve));
      await tx.query('SELECT 2');
    }));
    await waitFor(() => connection.stats().inUse === 2, 5_000, 'two sessions in use');

    const started = performance.now();
    await db.close({ timeoutMs: 300 });
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(295);
    expect(took).toBeLessThan(300 + 200);
    report(`${driver} close with a hung query`, { timeoutMs: 300, closeMs: Math.round(took) });

    const outcome = await hung;
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error).toMatchObject({ code: 'DATABASE_CLOSED', retryable: false });
    release();
    const transaction = await held;
    expect(transaction.ok).toBe(false);
    if (!transaction.ok) expect(transaction.error, describeFailure(transaction.error)).toBeInstanceOf(DbModuleError);
    // the 30 s statement was stopped on the server, not left running for nobody
    await waitFor(async () => (await sessionIds(identity)).length === 0, 5_000, 'no server session left');
    await waitFor(() => sockets.open().length === 0, 2_000, 'no socket left open');
    expect(await rejectionOf(connection.query('SELECT 1'), DbModuleError)).toMatchObject({ code: 'DATABASE_CLOSED' });
  });
});

describe('sqlite: close() under load', () => {
  it('a transaction that never finishes: close() returns within its timeout and its next statement fails with DATABASE_CLOSED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbmodule-res-'));
    const db: Database = await createDatabase({ connections: { main: { driver: 'sqlite', dsn: `sqlite:${join(dir, 'close.sqlite')}`, max_open_connections: 2 } } }, { logger: silentLogger });
    cleanup.push(() => db.close());
    const connection = db.connection();
    await connection.query('CREATE TABLE t (n INTEGER)');
    let release!: () => void;
    const held = outcomeOf(() =>
      connection.transaction(async (tx) => {
        await tx.query('INSERT INTO t (n) VALUES (1)');
        await new Promise<void>((resolve) => (release = resolve));
        await tx.query('INSERT INTO t (n) VALUES (2)');
      }),
    );
    await waitFor(() => connection.stats().inUse === 1, 5_000, 'session in use');
    const started = performance.now();
    await db.close({ timeoutMs: 200 });
    expect(performance.now() - started).toBeLessThan(200 + 200);
    release();
    const outcome = await held;
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error, describeFailure(outcome.error)).toMatchObject({ code: 'DATABASE_CLOSED' });
    expect(connection.stats()).toMatchObject({ inUse: 0, total: 0 });
  });
});
