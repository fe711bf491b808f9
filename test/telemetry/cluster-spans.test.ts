// Topology refreshes and writer failovers as INTERNAL spans, on an emulated Aurora PostgreSQL
// cluster of two instances over the shared server (as test/cluster/failover-without-reads.test.ts
// stands it up): an on-demand refresh under the caller's span, the periodic one a trace of its own,
// a failover a root span linked to the work that saw the writer fail, with its own refreshes inside;
// instance pools named `connection/endpoint:port` in the pool metrics.
import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { DatabaseEvents } from '../../src/events.js';
import { createDatabase, type Database } from '../../src/index.js';
import { PG_URL } from '../support/databases.js';
import { credentialsSource } from '../support/iam-e2e/credentials.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';
import { parentOf, startTestTelemetry, type TestTelemetry } from './sdk.js';

let emulator: Emulator;
let telemetry: TestTelemetry;
let db: Database | undefined;

beforeAll(async () => {
  telemetry = startTestTelemetry();
  const upstream = PG_URL.replace('?sslmode=disable', '');
  emulator = await startEmulator({
    credentials: [],
    cluster: { engine: 'postgres', instances: [{ id: 'db-1', upstream }, { id: 'db-2', upstream }] },
  });
});

afterAll(async () => {
  await db?.close();
  await emulator?.close();
  await telemetry?.stop();
});

/** A connection `app` to the cluster endpoint, IAM on, telemetry on. */
function openCluster(topologyRefresh: string): Promise<Database> {
  const cluster = emulator.cluster!;
  return createDatabase(
    {
      connections: {
        app: {
          driver: 'postgres',
          dsn: `postgresql://app_user@${cluster.clusterEndpoint}:${cluster.port}/dbmodule_test?sslmode=verify-full&sslrootcert=${emulator.caFile}`,
          aws_iam_auth: { enabled: true, max_connects_per_second: 1000 },
          cluster: { topology_refresh: topologyRefresh, failover_refresh: '100ms', failover_timeout: '5s', instance_addresses: cluster.addressOf },
        },
      },
    },
    {
      logger: captureLogger().logger,
      credentials: credentialsSource(emulator, { now: () => Date.now() }).provider,
      telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider },
    },
  );
}

const refreshes = (): ReadableSpan[] => telemetry.spans().filter((span) => span.name === 'topology.refresh');
const tracer = () => telemetry.tracerProvider.getTracer('test');

it('the periodic topology refresh starts a trace of its own', async () => {
  const periodic = await openCluster('100ms');
  try {
    await waitFor(() => refreshes().some((span) => span.attributes['dbmodule.background'] === true), 5_000, 'a periodic refresh span');
  } finally {
    await periodic.close();
  }
  const span = refreshes().find((candidate) => candidate.attributes['dbmodule.background'] === true)!;
  expect(span.kind).toBe(SpanKind.INTERNAL);
  expect(parentOf(span)).toBeUndefined();
  expect(span.attributes).toEqual({
    'dbmodule.connection.name': 'app',
    'dbmodule.topology.source': 'aurora-postgresql',
    'dbmodule.background': true,
    'dbmodule.topology.outcome': 'refreshed',
    'dbmodule.topology.instances': 2,
    'dbmodule.topology.writer': 'db-1',
  });
});

it('a refresh on demand is a topology.refresh span under the caller’s span', async () => {
  // the steady refresh never comes within the test: every refresh below is someone's
  db = await openCluster('1h');
  telemetry.reset();
  const caller = await tracer().startActiveSpan('caller', async (span) => {
    await db!.connection().refreshTopology();
    span.end();
    return span;
  });
  const [span, ...more] = refreshes();
  expect(more).toEqual([]);
  expect(parentOf(span!)).toBe(caller.spanContext().spanId);
  expect(span!.attributes).toMatchObject({ 'dbmodule.background': false, 'dbmodule.topology.outcome': 'refreshed', 'dbmodule.topology.writer': 'db-1', 'dbmodule.topology.instances': 2 });
});

it('a failover is a writer.failover span, root of its own trace and linked to the work that saw the writer fail: from, to, outcome; its refreshes inside', async () => {
  const connection = db!.connection();
  await connection.query('SELECT 1');
  telemetry.reset();
  const completed = new Promise<DatabaseEvents['failover.completed']>((resolve) => db!.once('failover.completed', resolve));
  let done: DatabaseEvents['failover.completed'] | undefined;
  void completed.then((event) => (done = event));
  // the cluster endpoint stays on the old writer: only the topology can tell where the writer went
  const failover = emulator.cluster!.failover({ to: 'db-2', staleDnsMs: 60_000, demote: () => completed.then(() => {}) });
  const writes = await tracer().startActiveSpan('writes', async (span) => {
    while (done === undefined) {
      await connection.query('SELECT 1').catch(() => {});
      // a failure can come without I/O (a session found dead): let the emulator's and the failover's own work run
      await new Promise((resolve) => setImmediate(resolve));
    }
    span.end();
    return span;
  });
  await failover;
  expect(done).toMatchObject({ from: 'db-1', to: 'db-2' });

  const spans = telemetry.spans();
  const [span, ...more] = spans.filter((candidate) => candidate.name === 'writer.failover');
  expect(more).toEqual([]);
  expect(span!.kind).toBe(SpanKind.INTERNAL);
  expect(parentOf(span!)).toBeUndefined();
  expect(span!.links.map((link) => link.context.spanId)).toEqual([writes.spanContext().spanId]);
  expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  expect(span!.attributes).toMatchObject({ 'dbmodule.connection.name': 'app', 'dbmodule.failover.from': 'db-1', 'dbmodule.failover.to': 'db-2', 'dbmodule.failover.outcome': 'completed' });
  expect(['network', 'read-only', 'topology']).toContain(span!.attributes['dbmodule.failover.reason']);
  const own = spans.filter((candidate) => candidate.name === 'topology.refresh' && parentOf(candidate) === span!.spanContext().spanId);
  expect(own.length).toBeGreaterThanOrEqual(1);
  expect(own.at(-1)!.attributes).toMatchObject({ 'dbmodule.background': false, 'dbmodule.topology.writer': 'db-2' });
}, 30_000);

it('the pool metrics name each instance pool connection/endpoint:port and stop at the pool a failover left; IAM openings timed in create_time', async () => {
  const metrics = await telemetry.metrics();
  const names = (metric: string): string[] => [
    ...new Set((metrics.find((candidate) => candidate.descriptor.name === metric)?.dataPoints ?? []).map((point) => String((point.attributes as Attributes)['db.client.connection.pool.name']))),
  ];
  const port = emulator.cluster!.port;
  const instance = (id: string): string => `app/${emulator.cluster!.instancePattern.replace('?', id)}:${port}`;
  // collected for the first time now: the readers' pools and the new writer's; the connection's
  // own pool, which the failover left and closed, is no longer observed
  expect(names('db.client.connection.count').sort()).toEqual([instance('db-1'), instance('db-2')]);
  // every pool opened sessions, each timed: the connection's own before the failover, the new writer's after
  expect(names('db.client.connection.create_time')).toEqual(expect.arrayContaining(['app', instance('db-2')]));
});
