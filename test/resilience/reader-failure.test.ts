/**
 * A reader stops under a read load and comes back: a real PostgreSQL primary and streaming
 * standby, and a real MariaDB primary and replica (test/support/cluster/replication.ts), read
 * through `connection.reader()` with `replicas:` by 8 callers while the reader is stopped and started.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import { createDatabase } from '../../src/index.js';
import { startMariadbReplication, startPostgresReplication, type MariadbReplication, type PostgresReplication } from '../support/cluster/replication.js';
import { describeFailure, NET_DRIVERS, phase, report, underLoad, type NetDriver } from '../support/resilience/harness.js';
import { waitFor } from '../support/wait.js';

const CALLERS = 8;
const ROLE_SQL: Record<NetDriver, string> = {
  postgres: 'SELECT pg_is_in_recovery() AS reader',
  mysql: 'SELECT @@global.read_only AS reader',
};

const clusters: Partial<Record<NetDriver, PostgresReplication | MariadbReplication>> = {};

beforeAll(async () => {
  // allSettled: when one fails to start, the other is still removed in afterAll
  const [postgres, mysql] = await Promise.allSettled([startPostgresReplication(), startMariadbReplication()]);
  if (postgres.status === 'fulfilled') clusters.postgres = postgres.value;
  if (mysql.status === 'fulfilled') clusters.mysql = mysql.value;
  for (const result of [postgres, mysql]) if (result.status === 'rejected') throw result.reason;
}, 180_000);

afterAll(async () => {
  await Promise.all(Object.values(clusters).map((cluster) => cluster?.remove()));
});

describe.each(NET_DRIVERS)('%s: a reader stops under load', (driver) => {
  it('only reads in flight when it stopped may fail; the others go to the writer; reads return to it once it answers', async () => {
    const cluster = clusters[driver]!;
    const reader = 'standbys' in cluster ? cluster.standbys[0]! : cluster.replicas[0]!;
    const db = await createDatabase({ connections: { app: { driver, dsn: cluster.primary.dsn, replicas: [reader.dsn], max_open_connections: 8, cluster: { topology_refresh: '100ms' } } } });
    try {
      const onReader = async () => {
        const { rows } = await db.connection().reader().query<{ reader: unknown }>(ROLE_SQL[driver]);
        return rows[0]!.reader === true || Number(rows[0]!.reader) === 1;
      };
      let stoppedAt = 0;
      let answeringAt = 0;
      let back: () => void = () => {};
      const done = new Promise<void>((resolve) => (back = resolve));
      const load = underLoad(CALLERS, onReader, done);
      await phase(300);
      stoppedAt = performance.now();
      await reader.stop();
      const stopReturnedAt = performance.now();
      await phase(500);
      // the server may answer before start() returns (pg_ctl -w polls), so "down" ends when it is started
      const startingAt = performance.now();
      await reader.start();
      answeringAt = performance.now();
      await waitFor(() => db.connection().topology()?.readers[0]?.healthy === true, 10_000, 'the reader to be healthy again');
      await phase(300);
      back();
      const outcomes = await load;

      const failures = outcomes.filter((outcome) => !outcome.ok);
      for (const failure of failures) {
        // a failure is a coded error, of a read already running when the reader went away
        expect(failure.error, describeFailure(failure.error)).toBeInstanceOf(DbModuleError);
        expect(failure.startedAt, describeFailure(failure.error)).toBeLessThan(stopReturnedAt);
      }
      expect(failures.length).toBeLessThanOrEqual(CALLERS);
      const whileDown = outcomes.filter((outcome) => outcome.ok && outcome.startedAt > stopReturnedAt && outcome.endedAt < startingAt);
      expect(whileDown.length).toBeGreaterThan(0);
      expect(whileDown.every((outcome) => outcome.ok && outcome.value === false)).toBe(true);
      const firstBack = outcomes.find((outcome) => outcome.ok && outcome.value === true && outcome.startedAt > answeringAt);
      expect(firstBack).toBeDefined();
      report(`reader failure (${driver})`, {
        reads: outcomes.length,
        failed: failures.length,
        failedCodes: [...new Set(failures.map((failure) => (failure.error as DbModuleError).code))],
        servedByWriterWhileDown: whileDown.length,
        stopTookMs: Math.round(stopReturnedAt - stoppedAt),
        backOnReaderAfterMs: Math.round(firstBack!.endedAt - answeringAt),
      });
    } finally {
      await db.close();
    }
  }, 60_000);
});
