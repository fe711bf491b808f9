import { afterAll, describe, expect, it } from 'vitest';
import type { QueryResult } from '../../src/index.js';
import { DbModuleError, TransactionError } from '../../src/errors.js';
import { startFaultProxy, type DropMode } from '../support/fault-proxy.js';
import { waitFor } from '../support/wait.js';
import {
  NET_DRIVERS,
  SERVER,
  SESSION_ID_SQL,
  outcomeOf,
  report,
  type Outcome,
  describeFailure,
  dropIdentities,
  newIdentity,
  openMain,
  phase,
  sessionIds,
  sessionOf,
  sleepSql,
  terminateSessions,
  underLoad,
  perTestCleanup,
} from '../support/resilience/harness.js';

const { track } = perTestCleanup();
afterAll(dropIdentities);

describe.each(NET_DRIVERS)('%s: connections that die', (driver) => {
  it.each<DropMode>(['end', 'reset'])('the proxy drops every connection under load (%s): only statements in flight fail, and callers after the drop never see a dead session', async (mode) => {
    const identity = await newIdentity(driver);
    const proxy = track(await startFaultProxy(SERVER[driver]));
    const db = track(await openMain(driver, identity.dsn(proxy.port), { max_open_connections: 6, connection_timeout: '2s' }));
    const connection = db.connection();
    // six sessions open; three workers keep some busy while the others sit idle
    await Promise.all(Array.from({ length: 6 }, () => connection.query(sleepSql(driver, 0.05))));

    let droppedAt = Number.POSITIVE_INFINITY;
    let arrivals: Array<Promise<Outcome<QueryResult>>> = [];
    const stop = (async () => {
      await phase(300);
      expect(proxy.openConnections).toBe(6);
      const dropping = proxy.dropAll(mode);
      droppedAt = performance.now();
      // callers arriving in the same turn find idle sessions whose sockets the kernel has already closed
      arrivals = Array.from({ length: 6 }, () => outcomeOf(() => connection.query(SESSION_ID_SQL[driver])));
      await dropping;
      await phase(300);
    })();
    const outcomes = await underLoad(3, () => connection.query(sleepSql(driver, 0.005)), stop);
    await stop;
    outcomes.push(...(await Promise.all(arrivals)));

    const after = outcomes.filter((outcome) => outcome.startedAt >= droppedAt);
    expect(after.length).toBeGreaterThanOrEqual(6 + 3);
    expect(after.flatMap((outcome) => (outcome.ok ? [] : [describeFailure(outcome.error)]))).toEqual([]);
    // what failed was in flight when the sockets closed, and says so with a code
    for (const outcome of outcomes) {
      if (outcome.ok) continue;
      expect(outcome.startedAt, describeFailure(outcome.error)).toBeLessThan(droppedAt);
      expect(outcome.error, describeFailure(outcome.error)).toBeInstanceOf(DbModuleError);
      expect((outcome.error as DbModuleError).code).toBe('CONNECTION_LOST');
    }
    // nothing dead is left behind: the pool's sessions are the server's
    expect(connection.stats()).toMatchObject({ waiting: 0, inUse: 0 });
    await waitFor(async () => (await sessionIds(identity)).length === connection.stats().total, 5_000, 'server sessions = pool sessions');
    expect(proxy.openConnections).toBe(connection.stats().total);
    report(`${driver} proxy drop (${mode})`, { inFlightFailed: outcomes.filter((o) => !o.ok).length, servedAfterDrop: after.length, failedAfterDrop: 0 });
  });

  it('the server terminates every idle session: the next callers get new sessions, not an error', async () => {
    const identity = await newIdentity(driver);
    const db = track(await openMain(driver, identity.dsn(), { max_open_connections: 4 }));
    const connection = db.connection();
    // four sessions open and idle
    await Promise.all(Array.from({ length: 4 }, () => connection.query(sleepSql(driver, 0.05))));
    const before = await sessionIds(identity);
    expect(before).toHaveLength(4);
    expect(connection.stats()).toMatchObject({ total: 4, idle: 4 });

    await terminateSessions(identity);
    // later callers: the server has ended them (pg_terminate_backend only signals a backend)
    await waitFor(async () => (await sessionIds(identity)).every((id) => !before.includes(id)), 5_000, 'terminated sessions gone from the server');
    const ids = await Promise.all(Array.from({ length: 8 }, () => sessionOf(db, driver)));
    expect(ids.filter((id) => before.includes(id))).toEqual([]);
    expect(connection.stats().total).toBeLessThanOrEqual(4);
  });

  it('a session killed while a caller holds it idle between statements: the next statement fails with a coded error, later callers are served', async () => {
    const identity = await newIdentity(driver);
    const db = track(await openMain(driver, identity.dsn(), { max_open_connections: 1 }));
    const connection = db.connection();
    const failure = await connection
      .transaction(async (tx) => {
        await tx.query('SELECT 1');
        await terminateSessions(identity);
        await waitFor(async () => (await sessionIds(identity)).length === 0, 5_000, 'session gone');
        await tx.query('SELECT 2');
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(TransactionError);
    expect(failure, describeFailure(failure)).toMatchObject({ code: 'TRANSACTION_FAILED', outcome: 'rolled-back', cause: { code: 'CONNECTION_LOST', retryable: true } });
    // the statement never reached a server: safe to run the transaction again
    expect((failure as DbModuleError).retryable, describeFailure(failure)).toBe(true);
    expect(await sessionOf(db, driver)).toBeGreaterThan(0);
    expect(connection.stats()).toMatchObject({ total: 1, waiting: 0 });
  });
});
