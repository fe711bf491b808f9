// With @opentelemetry/instrumentation-mysql2 registered too, one statement is still one CLIENT
// span: dbmodule runs the driver call with the SDK's suppress-tracing key set, for its own
// statements and for what ORMs run through connection.pool. The instrumentation is created before
// anything loads mysql2: dbmodule imports it only when a MySQL pool opens, and the
// instrumentation patches mysql2/lib/connection.js as mysql2 requires it.
import { SpanKind } from '@opentelemetry/api';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import { MYSQL_URL } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { startTestTelemetry, type TestTelemetry } from './sdk.js';

const MYSQL2_SCOPE = '@opentelemetry/instrumentation-mysql2';

let telemetry: TestTelemetry;
let instrumentation: MySQL2Instrumentation;
let traced: Database;
let untraced: Database;

beforeAll(async () => {
  telemetry = startTestTelemetry();
  instrumentation = new MySQL2Instrumentation();
  instrumentation.setTracerProvider(telemetry.tracerProvider);
  instrumentation.setMeterProvider(telemetry.meterProvider);
  const config = { connections: { main: { driver: 'mysql', dsn: MYSQL_URL, max_open_connections: 2 } } };
  untraced = await createDatabase(config, { logger: captureLogger().logger, telemetry: false });
  traced = await createDatabase(config, { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } });
});

afterAll(async () => {
  await traced?.close();
  await untraced?.close();
  instrumentation?.disable();
  await telemetry?.stop();
});

const clientSpans = () => telemetry.spans().filter((span) => span.kind === SpanKind.CLIENT);

describe('with @opentelemetry/instrumentation-mysql2 registered', () => {
  it('the instrumentation is live: without dbmodule telemetry, mysql2 itself makes a CLIENT span', async () => {
    telemetry.reset();
    await untraced.connection().query('SELECT 1 AS control');
    expect(clientSpans().map((span) => span.instrumentationScope.name)).toContain(MYSQL2_SCOPE);
  });

  it('connection.query is exactly one CLIENT span, dbmodule’s, even when it opens a session', async () => {
    await using fresh = await createDatabase(
      { connections: { main: { driver: 'mysql', dsn: MYSQL_URL } } },
      { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } },
    );
    for (const db of [traced, fresh]) {
      telemetry.reset();
      await db.connection().query('SELECT ? AS n', [1]);
      expect(clientSpans().map((span) => [span.instrumentationScope.name, span.name])).toEqual([['dbmodule', 'SELECT']]);
      expect(telemetry.spans().filter((span) => span.instrumentationScope.name === MYSQL2_SCOPE)).toEqual([]);
    }
  });

  it('a transaction is its statements’ CLIENT spans under one INTERNAL span, nothing from mysql2', async () => {
    telemetry.reset();
    await traced.connection().transaction(async (tx) => {
      await tx.query('SELECT 1');
      await tx.query('SELECT 2');
    });
    const spans = telemetry.spans();
    expect(spans.filter((span) => span.instrumentationScope.name === MYSQL2_SCOPE)).toEqual([]);
    // MySQL begins with START TRANSACTION
    expect(clientSpans().map((span) => span.name)).toEqual(['START', 'SELECT', 'SELECT', 'COMMIT']);
  });

  it('what an ORM runs through connection.pool (query, execute, a held session) is one CLIENT span each, dbmodule’s', async () => {
    const connection = traced.connection();
    if (connection.driver !== 'mysql') throw new Error('a MySQL connection');
    const pool = connection.pool.promise();
    telemetry.reset();
    await pool.query('SELECT 3 AS q');
    await pool.execute('SELECT ? AS e', [4]);
    const session = await pool.getConnection();
    try {
      await session.query('SELECT 5 AS held');
    } finally {
      session.release();
    }
    expect(clientSpans().map((span) => [span.instrumentationScope.name, span.attributes['db.query.text']])).toEqual([
      ['dbmodule', 'SELECT 3 AS q'],
      ['dbmodule', 'SELECT ? AS e'],
      ['dbmodule', 'SELECT 5 AS held'],
    ]);
  });
});
