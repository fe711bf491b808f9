/**
 * A real server restart in the middle of a write load. Each suite restarts a private server
 * it started itself (see test/support/resilience/private-servers.ts), never the shared ones other files use.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import type { Database } from '../../src/index.js';
import { NET_DRIVERS, describeFailure, openMain, phase, placeholder, report, type NetDriver } from '../support/resilience/harness.js';
import { startPrivateMariadb, startPrivatePostgres, type PrivateServer } from '../support/resilience/private-servers.js';

const WRITERS = 16;
const MAX_OPEN = 8;
/** What each run saw, printed for RELIABILITY.md. */
const outcomes: Record<string, Record<string, number>> = {};
/** How long a writer waits before it tries a failed insert again: short, so recovery time is measured, not backoff. */
const RETRY_DELAY_MS = 20;

interface WriterLog {
  /** Sequence numbers the server acknowledged. */
  readonly acknowledged: Set<number>;
  /** Inserts whose session was lost while the statement ran: the server may or may not have applied them. */
  readonly unknown: Set<number>;
  readonly failures: Array<{ error: unknown; startedAt: number; endedAt: number }>;
  /** When the first insert acknowledged after the server came back finished. */
  firstAckAfterRestart: number;
}

/** Rows of the table, read on a connection of its own (no pool): `writer:seq` -> how many times it is there. */
async function rowCounts(driver: NetDriver, dsn: string): Promise<Map<string, number>> {
  const sql = 'SELECT writer, seq, COUNT(*) AS n FROM restart_rows GROUP BY writer, seq';
  let rows: Array<{ writer: number; seq: number; n: number | string }>;
  if (driver === 'postgres') {
    const client = new pg.Client({ connectionString: dsn });
    await client.connect();
    rows = (await client.query(sql)).rows;
    await client.end();
  } else {
    const connection = await mysql.createConnection(dsn);
    rows = (await connection.query(sql))[0] as typeof rows;
    await connection.end();
  }
  return new Map(rows.map((row) => [`${row.writer}:${row.seq}`, Number(row.n)]));
}

/**
 * One writer: inserts (writer, 1), (writer, 2), ... until stopped. An insert that fails with a
 * retryable error is tried again with the same number (retrying must be safe: that is what
 * `retryable` promises). One whose session was lost mid-statement (CONNECTION_LOST, not
 * retryable: its outcome is unknown) is not retried. Any other failure ends the writer.
 */
async function writer(db: Database, driver: NetDriver, id: number, log: WriterLog, state: { stopped: boolean; restartedAt: number }): Promise<void> {
  const insert = `INSERT INTO restart_rows (writer, seq) VALUES (${placeholder(driver, 1)}, ${placeholder(driver, 2)})`;
  for (let seq = 1; !state.stopped; seq++) {
    for (;;) {
      const startedAt = performance.now();
      try {
        await db.connection().query(insert, [id, seq]);
        log.acknowledged.add(seq);
        if (performance.now() > state.restartedAt && !Number.isFinite(log.firstAckAfterRestart)) log.firstAckAfterRestart = performance.now();
        break;
      } catch (error) {
        log.failures.push({ error, startedAt, endedAt: performance.now() });
        if (error instanceof DbModuleError && !error.retryable && error.code === 'CONNECTION_LOST') {
          log.unknown.add(seq);
          break;
        }
        if (!(error instanceof DbModuleError && error.retryable) || state.stopped) return;
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
    }
  }
}

describe.each(NET_DRIVERS)('%s: the server restarts in the middle of a write load', (driver) => {
  let server: PrivateServer;

  beforeAll(async () => {
    server = driver === 'postgres' ? await startPrivatePostgres() : await startPrivateMariadb();
  }, 60_000);

  afterAll(async () => {
    await server?.remove();
    if (outcomes[driver]) report(`${driver} server restart`, outcomes[driver]);
  });

  it(`${WRITERS} writers: every acknowledged row is there exactly once, every failure is coded and retryable unless its statement was in flight when the server vanished, writes resume within 2 s`, async () => {
    const db = await openMain(driver, server.dsn, { max_open_connections: MAX_OPEN, connection_timeout: '1s' });
    try {
      // no unique key: a row written twice must show up twice
      await db.connection().query('CREATE TABLE restart_rows (writer INT NOT NULL, seq INT NOT NULL)');
      const logs: WriterLog[] = Array.from({ length: WRITERS }, () => ({ acknowledged: new Set<number>(), unknown: new Set<number>(), failures: [], firstAckAfterRestart: Number.POSITIVE_INFINITY }));
      const state = { stopped: false, restartedAt: Number.POSITIVE_INFINITY };
      const writers = logs.map((log, id) => writer(db, driver, id, log, state));

      await phase(500);
      const before = logs.reduce((sum, log) => sum + log.acknowledged.size, 0);
      const stopping = performance.now();
      await server.stop();
      const stopped = performance.now();
      await phase(300);
      await server.start();
      state.restartedAt = performance.now();
      await phase(2_500);
      state.stopped = true;
      await Promise.all(writers);

      const failures = logs.flatMap((log) => log.failures);
      expect(before).toBeGreaterThan(WRITERS);
      expect(failures.length).toBeGreaterThan(0);
      for (const { error } of failures) expect(error, describeFailure(error)).toBeInstanceOf(DbModuleError);
      // Not retryable, and only allowed when honest: a statement in flight when the server went
      // away without answering, at most one per session, reported as CONNECTION_LOST.
      const unknown = failures.filter(({ error }) => !(error as DbModuleError).retryable);
      for (const { error, startedAt, endedAt } of unknown) {
        expect((error as DbModuleError).code, describeFailure(error)).toBe('CONNECTION_LOST');
        expect(startedAt, describeFailure(error)).toBeLessThan(stopped);
        expect(endedAt, describeFailure(error)).toBeGreaterThan(stopping);
      }
      expect(unknown.length).toBeLessThanOrEqual(MAX_OPEN);
      if (driver === 'postgres') expect(unknown.map(({ error }) => describeFailure(error))).toEqual([]);

      const present = await rowCounts(driver, server.dsn);
      const key = (id: number, seq: number): string => `${id}:${seq}`;
      const acknowledged = new Set(logs.flatMap((log, id) => [...log.acknowledged].map((seq) => key(id, seq))));
      const unknownKeys = new Set(logs.flatMap((log, id) => [...log.unknown].map((seq) => key(id, seq))));
      const duplicated = [...present].filter(([, n]) => n > 1).map(([row]) => row);
      const missing = [...acknowledged].filter((row) => !present.has(row));
      // a row there without an acknowledgement must come from an insert whose outcome was reported unknown
      const unexplained = [...present.keys()].filter((row) => !acknowledged.has(row) && !unknownKeys.has(row));
      expect({ duplicated, missing, unexplained }).toEqual({ duplicated: [], missing: [], unexplained: [] });
      expect(acknowledged.size).toBeGreaterThan(before);
      outcomes[driver] = {
        resumedAfterMs: Math.max(...logs.map((log) => Math.round(log.firstAckAfterRestart - state.restartedAt))),
        acknowledged: acknowledged.size,
        failures: failures.length,
        retried: failures.length - unknown.length,
        unknown: unknown.length,
        unknownApplied: [...unknownKeys].filter((row) => present.has(row)).length,
      };

      const resumedAfter = logs.map((log) => Math.round(log.firstAckAfterRestart - state.restartedAt));
      expect(Math.max(...resumedAfter), `ms from the server accepting connections to each writer's next acknowledged insert: ${resumedAfter.join(', ')}`).toBeLessThanOrEqual(2_000);
      expect(db.connection().stats()).toMatchObject({ waiting: 0 });
    } finally {
      await db.close();
    }
  });
});
