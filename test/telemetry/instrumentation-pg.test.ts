// With @opentelemetry/instrumentation-pg registered too, one statement is still one CLIENT span:
// dbmodule runs the driver call with the SDK's suppress-tracing key set. The instrumentation is
// created before anything loads pg: dbmodule imports pg only when a PostgreSQL pool opens, and
// instrumentation-pg patches pg/lib/client.js and pg-pool as they are required.
import { SpanKind } from '@opentelemetry/api';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import { PG_URL } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { startTestTelemetry, type TestTelemetry } from './sdk.js';

const PG_SCOPE = '@opentelemetry/instrumentation-pg';

let telemetry: TestTelemetry;
let instrumentation: PgInstrumentation;
let traced: Database;
let untraced: Database;

beforeAll(async () => {
  telemetry = startTestTelemetry();
  instrumentation = new PgInstrumentation();
  instrumentation.setTracerProvider(telemetry.tracerProvider);
  instrumentation.setMeterProvider(telemetry.meterProvider);
  const config = { connections: { main: { driver: 'postgres', dsn: PG_URL, max_open_connections: 2 } } };
  untraced = await createDatabase(config, { logger: captureLogger().logger, telemetry: false });
  traced = await createDatabase(config, { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } });
});

afterAll(async () => {
  await traced?.close();
  await untraced?.close();
  instrumentation?.disable();
  await telemetry?.stop();
});

describe('with @opentelemetry/instrumentation-pg registered', () => {
  it('the instrumentation is live: without dbmodule telemetry, pg itself makes a CLIENT span', async () => {
    telemetry.reset();
    await untraced.connection().query('SELECT 1 AS control');
    const clients = telemetry.spans().filter((span) => span.kind === SpanKind.CLIENT);
    expect(clients.map((span) => span.instrumentationScope.name)).toContain(PG_SCOPE);
    expect(clients.some((span) => span.attributes['db.query.text'] === 'SELECT 1 AS control')).toBe(true);
  });

  it('connection.query is exactly one CLIENT span, dbmodule’s, even when it opens a session', async () => {
    // a fresh Database: its first statement also opens (and so pg-pool connects) a session
    await using fresh = await createDatabase(
      { connections: { main: { driver: 'postgres', dsn: PG_URL } } },
      { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } },
    );
    for (const db of [traced, fresh]) {
      telemetry.reset();
      await db.connection().query('SELECT $1::int AS n', [1]);
      const clients = telemetry.spans().filter((span) => span.kind === SpanKind.CLIENT);
      expect(clients.map((span) => [span.instrumentationScope.name, span.name])).toEqual([['dbmodule', 'SELECT']]);
      expect(telemetry.spans().filter((span) => span.instrumentationScope.name === PG_SCOPE)).toEqual([]);
    }
  });

  it('a transaction is its statements’ CLIENT spans under one INTERNAL span, nothing from pg', async () => {
    telemetry.reset();
    await traced.connection().transaction(async (tx) => {
      await tx.query('SELECT 1');
      await tx.query('SELECT 2');
    });
    const spans = telemetry.spans();
    expect(spans.filter((span) => span.instrumentationScope.name === PG_SCOPE)).toEqual([]);
    expect(spans.filter((span) => span.kind === SpanKind.CLIENT).map((span) => span.name)).toEqual(['BEGIN', 'SELECT', 'SELECT', 'COMMIT']);
    expect(spans.filter((span) => span.kind === SpanKind.INTERNAL).map((span) => span.name)).toEqual(['transaction']);
  });
});
