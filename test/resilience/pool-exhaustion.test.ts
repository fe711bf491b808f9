import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/index.js';
import { DbModuleError } from '../../src/errors.js';
import { NET_DRIVERS, describeFailure, dropIdentities, newIdentity, openMain, outcomeOf, report, sessionIds, sleepSql } from '../support/resilience/harness.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(dropIdentities);

const WAITERS = 50;
const POOL = 2;
const CONNECTION_TIMEOUT_MS = 500;
const QUERY_SECONDS = 0.2;

describe.each(NET_DRIVERS)('%s: an exhausted pool', (driver) => {
  it(`${WAITERS} callers on a pool of ${POOL} with slow queries: each completes or fails with POOL_TIMEOUT near connection_timeout, and no waiter is left behind`, async () => {
    const identity = await newIdentity(driver);
    const db: Database = await openMain(driver, identity.dsn(), { max_open_connections: POOL, connection_timeout: `${CONNECTION_TIMEOUT_MS}ms` });
    cleanup.push(() => db.close());
    const connection = db.connection();

    const outcomes = await Promise.all(Array.from({ length: WAITERS }, () => outcomeOf(() => connection.query(sleepSql(driver, QUERY_SECONDS)))));

    const completed = outcomes.filter((outcome) => outcome.ok);
    const failed = outcomes.flatMap((outcome) => (outcome.ok ? [] : [outcome]));
    // two sessions serve a 200 ms query every 200 ms: about six within the budget
    expect(completed.length).toBeGreaterThanOrEqual(POOL * Math.floor(CONNECTION_TIMEOUT_MS / (QUERY_SECONDS * 1000)));
    expect(completed.length + failed.length).toBe(WAITERS);
    for (const failure of failed) {
      expect(failure.error, describeFailure(failure.error)).toBeInstanceOf(DbModuleError);
      expect(failure.error).toMatchObject({ code: 'POOL_TIMEOUT', retryable: true, connection: 'main' });
      const waited = failure.endedAt - failure.startedAt;
      expect(waited).toBeGreaterThanOrEqual(CONNECTION_TIMEOUT_MS - 5);
      expect(waited).toBeLessThanOrEqual(CONNECTION_TIMEOUT_MS * 1.2);
    }
    // a completed query started its wait at the same moment: it ended within the budget plus its own run
    for (const done of completed) expect(done.endedAt - done.startedAt).toBeLessThanOrEqual(CONNECTION_TIMEOUT_MS + QUERY_SECONDS * 1000 + 100);

    const waits = failed.map((failure) => failure.endedAt - failure.startedAt);
    report(`${driver} exhaustion`, { completed: completed.length, poolTimeout: failed.length, waitedMs: [Math.round(Math.min(...waits)), Math.round(Math.max(...waits))] });
    // exactly its sessions, all idle, nobody waiting: a leaked waiter would take the next free session
    expect(connection.stats()).toMatchObject({ total: POOL, idle: POOL, inUse: 0, waiting: 0 });
    expect(await sessionIds(identity)).toHaveLength(POOL);
    const started = performance.now();
    await Promise.all(Array.from({ length: POOL }, () => connection.query('SELECT 1')));
    expect(performance.now() - started).toBeLessThan(CONNECTION_TIMEOUT_MS);
  });
});
