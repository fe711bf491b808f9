// A statement names the server it ran on: with a real PostgreSQL primary and streaming standby
// (test/support/cluster/replication.ts) configured as `replicas:`, reader() statements and
// transactions carry the standby's server.port, writes the primary's.
import { SpanKind } from '@opentelemetry/api';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import { kyselyDialect } from '../../src/integrations/kysely.js';
import { startPostgresReplication, type PostgresReplication } from '../support/cluster/replication.js';
import { captureLogger } from '../support/logger.js';
import { onlySpanOf, parentOf, startTestTelemetry, type TestTelemetry } from './sdk.js';

let servers: PostgresReplication;
let telemetry: TestTelemetry;
let db: Database;

beforeAll(async () => {
  servers = await startPostgresReplication({ standbys: 1 });
  telemetry = startTestTelemetry();
  const standby = servers.standbys[0]!;
  db = await createDatabase(
    { connections: { app: { driver: 'postgres', dsn: servers.primary.dsn, replicas: [standby.dsn], cluster: { read_from: 'readers' } } } },
    { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } },
  );
}, 120_000);

afterAll(async () => {
  await db?.close();
  await telemetry?.stop();
  await servers?.remove();
}, 60_000);

describe('a connection with a read replica', () => {
  it('reader() statements name the replica, writes the primary', async () => {
    const read = 'SELECT pg_is_in_recovery() AS on_replica';
    const { rows } = await db.connection().reader().query<{ on_replica: boolean }>(read);
    expect(rows[0]?.on_replica).toBe(true);
    await db.connection().query('SELECT pg_is_in_recovery() AS on_primary');
    const spans = telemetry.spans();
    expect(onlySpanOf(spans, read).attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': servers.standbys[0]!.port, 'db.system.name': 'postgresql' });
    expect(onlySpanOf(spans, 'SELECT pg_is_in_recovery() AS on_primary').attributes).toMatchObject({ 'server.port': servers.primary.port });
  });

  it("a reader() transaction's spans name the replica", async () => {
    telemetry.reset();
    await db.connection().reader().transaction(async (tx) => {
      await tx.query('SELECT 1 AS in_read_transaction');
    });
    const spans = telemetry.spans();
    const transaction = spans.find((span) => span.kind === SpanKind.INTERNAL);
    expect(transaction?.attributes['server.port']).toBe(servers.standbys[0]!.port);
    const statement = onlySpanOf(spans, 'SELECT 1 AS in_read_transaction');
    expect(parentOf(statement)).toBe(transaction?.spanContext().spanId);
    expect(statement.attributes['server.port']).toBe(servers.standbys[0]!.port);
  });

  it('an ORM on reader().pool and on pool: one span per statement, naming the replica and the primary', async () => {
    const reads = new Kysely<Record<string, never>>({ dialect: kyselyDialect(db.connection().reader()) });
    const writes = new Kysely<Record<string, never>>({ dialect: kyselyDialect(db.connection()) });
    telemetry.reset();
    await sql`SELECT pg_is_in_recovery() AS orm_on_replica`.execute(reads);
    await sql`SELECT pg_is_in_recovery() AS orm_on_primary`.execute(writes);
    await reads.destroy();
    await writes.destroy();
    const spans = telemetry.spans();
    expect(spans.filter((span) => span.kind === SpanKind.CLIENT)).toHaveLength(2);
    expect(onlySpanOf(spans, 'SELECT pg_is_in_recovery() AS orm_on_replica').attributes).toMatchObject({ 'server.port': servers.standbys[0]!.port, 'db.system.name': 'postgresql' });
    expect(onlySpanOf(spans, 'SELECT pg_is_in_recovery() AS orm_on_primary').attributes).toMatchObject({ 'server.port': servers.primary.port });
  });
});
