// The pool metrics of the database conventions (in development) on PostgreSQL, MariaDB and SQLite:
// the counts read from pool.stats() when the SDK collects, the wait and use of every checkout (and
// the opening of a session opened for one), POOL_TIMEOUT counted, and a `pool.wait` span for a wait that is not immediate.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Connection, type Database } from '../../src/index.js';
import { MYSQL_URL, PG_URL } from '../support/databases.js';
import { gate } from '../support/gate.js';
import { captureLogger } from '../support/logger.js';
import { rejectionOf } from '../support/rejection.js';
import { waitFor } from '../support/wait.js';
import { parentOf, startTestTelemetry, type TestTelemetry } from './sdk.js';

const POOL = 'db.client.connection.pool.name';
const sqlitePath = join(mkdtempSync(join(tmpdir(), 'dbmodule-pool-metrics-')), 'app.sqlite');

/** Two sessions at most, one idle kept: a third caller waits. */
const limits = { max_open_connections: 2, max_idle_connections: 1 };
/** One session, a short wait: the second caller gets POOL_TIMEOUT. */
const tight = { max_open_connections: 1, connection_timeout: '400ms' };

const drivers = [
  { name: 'pg', driver: 'postgres', dsn: PG_URL },
  { name: 'maria', driver: 'mysql', dsn: MYSQL_URL },
  { name: 'lite', driver: 'sqlite', dsn: `sqlite:${sqlitePath}` },
] as const;

let telemetry: TestTelemetry;
let db: Database;

beforeAll(async () => {
  telemetry = startTestTelemetry();
  const connections: Record<string, object> = {};
  for (const { name, driver, dsn } of drivers) {
    connections[name] = { driver, dsn, ...limits };
    connections[`${name}_tight`] = { driver, dsn, ...tight };
    connections[`${name}_timed`] = { driver, dsn, max_open_connections: 3, max_idle_connections: 1 };
  }
  db = await createDatabase({ default: 'pg', connections }, { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } });
});

afterAll(async () => {
  await db?.close();
  await telemetry?.stop();
});

/** The data points of metric `name` for pool `pool`, collected now: value by their other attributes (JSON). */
async function points(name: string, pool: string): Promise<Map<string, unknown>> {
  const metric = (await telemetry.metrics()).find((candidate) => candidate.descriptor.name === name);
  const found = new Map<string, unknown>();
  for (const point of metric?.dataPoints ?? []) {
    const { [POOL]: poolName, ...rest } = point.attributes as Attributes;
    if (poolName === pool) found.set(JSON.stringify(rest), point.value);
  }
  return found;
}

async function metric(name: string): Promise<MetricData | undefined> {
  return (await telemetry.metrics()).find((candidate) => candidate.descriptor.name === name);
}

/** A histogram's count of measurements for `pool`. */
async function histogramCount(name: string, pool: string): Promise<number> {
  const [value] = [...(await points(name, pool)).values()] as Array<{ count: number } | undefined>;
  return value?.count ?? 0;
}

/** Holds `n` sessions of `connection` in transactions until the returned function is called. */
function holdSessions(connection: Connection, n: number): { release: () => Promise<void> } {
  const held = gate();
  const running = Array.from({ length: n }, () => connection.transaction(async (tx) => {
    await tx.query('SELECT 1');
    await held.promise;
  }));
  return {
    release: async () => {
      held.open();
      await Promise.all(running);
    },
  };
}

describe.each(drivers)('$driver', ({ name }) => {
  const connection = () => db.connection(name);

  it('reports the counts of connection.stats(): sessions idle and used, the limits, callers waiting', async () => {
    const counts = await points('db.client.connection.count', name);
    expect(counts.get(JSON.stringify({ 'db.client.connection.state': 'used' }))).toBe(0);
    // the session createDatabase pinged with is idle
    expect(counts.get(JSON.stringify({ 'db.client.connection.state': 'idle' }))).toBe(connection().stats().idle);
    expect(connection().stats().idle).toBeGreaterThan(0);

    // two sessions held, a third caller waiting for one
    const holding = holdSessions(connection(), 3);
    await waitFor(() => connection().stats().inUse === 2 && connection().stats().waiting === 1, 5_000, 'two sessions in use, one caller waiting');
    const stats = connection().stats();
    const held = await points('db.client.connection.count', name);
    expect(held.get(JSON.stringify({ 'db.client.connection.state': 'used' }))).toBe(stats.inUse);
    expect(held.get(JSON.stringify({ 'db.client.connection.state': 'idle' }))).toBe(stats.idle);
    expect((await points('db.client.connection.pending_requests', name)).get('{}')).toBe(1);
    expect((await points('db.client.connection.max', name)).get('{}')).toBe(2);
    expect((await points('db.client.connection.idle.max', name)).get('{}')).toBe(stats.maxIdle);
    await holding.release();

    const after = await points('db.client.connection.count', name);
    expect(after.get(JSON.stringify({ 'db.client.connection.state': 'used' }))).toBe(0);
    expect((await points('db.client.connection.pending_requests', name)).get('{}')).toBe(0);
    // the conventions' instrument types: UpDownCounters (observable: read at collection)
    for (const counted of ['db.client.connection.count', 'db.client.connection.max', 'db.client.connection.idle.max', 'db.client.connection.pending_requests']) {
      const data = await metric(counted);
      expect(data?.dataPointType, counted).toBe(DataPointType.SUM);
      expect(data?.dataPointType === DataPointType.SUM && data.isMonotonic, counted).toBe(false);
    }
  });

  it('measures the wait for and the use of each session a transaction holds; a wait that is not immediate is a pool.wait span', async () => {
    const waits = await histogramCount('db.client.connection.wait_time', name);
    const uses = await histogramCount('db.client.connection.use_time', name);
    telemetry.reset();
    // the first takes the idle session, the second has one opened, the third queues
    const holding = holdSessions(connection(), 3);
    await waitFor(() => connection().stats().waiting === 1, 5_000, 'a caller waiting');
    await holding.release();
    expect(await histogramCount('db.client.connection.wait_time', name)).toBe(waits + 3);
    expect(await histogramCount('db.client.connection.use_time', name)).toBe(uses + 3);
    const wait = (await metric('db.client.connection.wait_time'))!;
    expect(wait.descriptor.unit).toBe('s');

    const spans = telemetry.spans();
    const queued = spans.filter((span) => span.name === 'pool.wait' && span.attributes['dbmodule.pool.at_limit'] === true);
    expect(queued).toHaveLength(1);
    const [span] = queued;
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.attributes).toMatchObject({ [POOL]: name, 'dbmodule.connection.name': name, 'dbmodule.pool.at_limit': true });
    expect(span!.attributes['dbmodule.pool.pending_requests']).toBeTypeOf('number');
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    // the child of the transaction that waited
    const transaction = spans.find((candidate) => candidate.name === 'transaction' && candidate.spanContext().spanId === parentOf(span!));
    expect(transaction).toBeDefined();
    // the one that took the idle session did not wait
    expect(spans.filter((candidate) => candidate.name === 'pool.wait').length).toBeLessThan(3);
  });

  it('times every checkout, whoever makes it (connection.query, an ORM on the native pool); a session opened for a caller is a create_time', async () => {
    const timedName = `${name}_timed`;
    const timed = () => db.connection(timedName);
    const count = (metricName: string) => histogramCount(metricName, timedName);
    const [waits, uses, creates] = [await count('db.client.connection.wait_time'), await count('db.client.connection.use_time'), await count('db.client.connection.create_time')];
    // createDatabase's ping opened the first session
    expect(creates).toBeGreaterThanOrEqual(1);

    await timed().query('SELECT 1');
    await timed().query('SELECT 1');
    expect(await count('db.client.connection.wait_time')).toBe(waits + 2);
    expect(await count('db.client.connection.use_time')).toBe(uses + 2);
    // the idle session was reused: nothing opened
    expect(await count('db.client.connection.create_time')).toBe(creates);

    const native = timed();
    if (native.driver === 'postgres') await native.pool.query('SELECT 1');
    if (native.driver === 'mysql') await native.pool.promise().query('SELECT 1');
    // SQLite lends ORMs a Database of their own, not the pool's checkouts
    const viaPool = native.driver === 'sqlite' ? 0 : 1;
    expect(await count('db.client.connection.wait_time')).toBe(waits + 2 + viaPool);
    expect(await count('db.client.connection.use_time')).toBe(uses + 2 + viaPool);

    // every idle session held, and one more: one session is opened for the last caller
    const held = timed().stats().idle + 1;
    expect(held).toBe(2);
    const holding = holdSessions(timed(), held);
    await waitFor(() => timed().stats().inUse === held, 5_000, 'the sessions in use');
    await holding.release();
    expect(await count('db.client.connection.create_time')).toBe(creates + 1);
    const [created] = [...(await points('db.client.connection.create_time', timedName)).values()] as Array<{ sum: number }>;
    expect(created!.sum).toBeGreaterThan(0);
  });

  it('use_time is how long a session was held', async () => {
    const sleep = { pg: 'SELECT pg_sleep(0.05)', maria: 'SELECT SLEEP(0.05)', lite: undefined }[name];
    if (sleep === undefined) return expect(name).toBe('lite');
    telemetry.reset();
    const before = (await points('db.client.connection.use_time', name)).values().next().value as { sum: number } | undefined;
    await connection().transaction(async (tx) => {
      await tx.query(sleep);
    });
    const after = (await points('db.client.connection.use_time', name)).values().next().value as { sum: number };
    expect(after.sum - (before?.sum ?? 0)).toBeGreaterThanOrEqual(0.05);
  });

  it('counts POOL_TIMEOUT in db.client.connection.timeouts, from statements and transactions; the wait span says POOL_TIMEOUT', async () => {
    const tightName = `${name}_tight`;
    const before = (await points('db.client.connection.timeouts', tightName)).get('{}') ?? 0;
    telemetry.reset();
    const holding = holdSessions(db.connection(tightName), 1);
    await waitFor(() => db.connection(tightName).stats().inUse === 1, 5_000, 'the session held');
    await expect(db.connection(tightName).query('SELECT 1')).rejects.toMatchObject({ code: 'POOL_TIMEOUT' });
    expect((await points('db.client.connection.timeouts', tightName)).get('{}')).toBe(Number(before) + 1);
    const error = await rejectionOf(db.connection(tightName).transaction(async () => 'never runs'));
    expect(error).toMatchObject({ code: 'POOL_TIMEOUT' });
    await holding.release();
    expect((await points('db.client.connection.timeouts', tightName)).get('{}')).toBe(Number(before) + 2);
    const failed = telemetry.spans().filter((span) => span.name === 'pool.wait' && span.status.code === SpanStatusCode.ERROR);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attributes['error.type']).toBe('POOL_TIMEOUT');
    // the other connection's pool counted nothing
    expect((await points('db.client.connection.timeouts', name)).get('{}') ?? 0).toBe(0);
  });
});

it('a closed Database is no longer observed', async () => {
  const closing = await createDatabase(
    { connections: { closing: { driver: 'sqlite', dsn: ':memory:' } } },
    { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } },
  );
  const idle = JSON.stringify({ 'db.client.connection.state': 'idle' });
  expect((await points('db.client.connection.max', 'closing')).get('{}')).toBe(closing.connection().stats().maxOpen);
  expect((await points('db.client.connection.count', 'closing')).get(idle)).toBe(1);
  await closing.close();
  // read now, the closed pool would say 0 idle; the SDK repeats the last value it was given (cumulative), so a 1 means it was not read
  expect(closing.connection().stats().idle).toBe(0);
  expect((await points('db.client.connection.count', 'closing')).get(idle)).toBe(1);
});
