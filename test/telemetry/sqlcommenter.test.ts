// sqlcommenter trace comments (off by default): the statement the server runs carries the W3C
// trace context of its CLIENT span, read back from the server itself (PostgreSQL's
// current_query(), MariaDB's processlist), for connection.query and for what ORMs run through
// connection.pool; prepared and named statements keep their text; the configuration key and
// DB_TELEMETRY_SQLCOMMENTER turn it on.
import { createTraceState, type SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, loadConfig, validateConfig, type Database } from '../../src/index.js';
import { withTraceComment } from '../../src/telemetry/sqlcommenter.js';
import { MYSQL_URL, PG_URL } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { startTestTelemetry, type TestTelemetry } from './sdk.js';

const context: SpanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
const valid = () => true;

describe('withTraceComment', () => {
  it("appends traceparent as the sqlcommenter spec writes it, before a trailing semicolon", () => {
    expect(withTraceComment('SELECT 1', context, valid)).toBe("SELECT 1 /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/");
    expect(withTraceComment('SELECT 1;  ', context, valid)).toBe("SELECT 1 /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/;");
    expect(withTraceComment('SELECT 1', { ...context, traceFlags: 0 }, valid)).toBe("SELECT 1 /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'*/");
  });

  it('adds tracestate URL-encoded, a quote included, so no value can close the comment or its quotes', () => {
    const traceState = createTraceState("vendor=a'b*/c,other=1");
    expect(withTraceComment('SELECT 1', { ...context, traceState }, valid)).toBe(
      "SELECT 1 /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',tracestate='vendor%3Da%27b*%2Fc%2Cother%3D1'*/",
    );
  });

  it('leaves a text with a comment of its own, and a context that names no trace, as they are', () => {
    expect(withTraceComment("SELECT 1 /*app='x'*/", context, valid)).toBe("SELECT 1 /*app='x'*/");
    expect(withTraceComment('SELECT 1 -- note', context, valid)).toBe('SELECT 1 -- note');
    expect(withTraceComment('SELECT 1', context, () => false)).toBe('SELECT 1');
  });
});

/** The trace comment of `span`, as the server must see it. */
const commentOf = (span: ReadableSpan): string => `/*traceparent='00-${span.spanContext().traceId}-${span.spanContext().spanId}-01'*/`;

const engines = [
  { driver: 'postgres', dsn: PG_URL, current: 'SELECT current_query() AS q' },
  { driver: 'mysql', dsn: MYSQL_URL, current: 'SELECT INFO AS q FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()' },
] as const;

describe.each(engines)('$driver', ({ driver, dsn, current }) => {
  let telemetry: TestTelemetry;
  let db: Database;
  let plain: Database;

  beforeAll(async () => {
    telemetry = startTestTelemetry();
    const providers = { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider };
    const config = { connections: { app: { driver, dsn } } };
    db = await createDatabase(config, { logger: captureLogger().logger, telemetry: { ...providers, sqlcommenter: true } });
    plain = await createDatabase(config, { logger: captureLogger().logger, telemetry: providers });
  });

  afterAll(async () => {
    await db?.close();
    await plain?.close();
    await telemetry?.stop();
  });

  /** The one span of the statement run by `run`, and what the server saw it run. */
  async function traced(run: () => Promise<string>): Promise<{ seen: string; span: ReadableSpan }> {
    telemetry.reset();
    const seen = await run();
    const spans = telemetry.spans().filter((span) => span.attributes['db.query.text'] === current);
    expect(spans).toHaveLength(1);
    return { seen, span: spans[0]! };
  }

  it("connection.query: the server runs the text with the statement span's traceparent; the span keeps the text as given", async () => {
    const { seen, span } = await traced(async () => String((await db.connection().query<{ q: string }>(current)).rows[0]!.q));
    expect(seen).toBe(`${current} ${commentOf(span)}`);
    expect(span.attributes['db.query.text']).toBe(current);
  });

  it('statements in a transaction carry their own span', async () => {
    const { seen, span } = await traced(() => db.connection().transaction(async (tx) => String((await tx.query<{ q: string }>(current)).rows[0]!.q)));
    expect(seen).toBe(`${current} ${commentOf(span)}`);
  });

  it('what an ORM runs through connection.pool carries it too', async () => {
    const connection = db.connection();
    const { seen, span } = await traced(async () => {
      if (connection.driver === 'postgres') return String((await connection.pool.query<{ q: string }>(current)).rows[0]!.q);
      if (connection.driver === 'mysql') {
        const [rows] = await connection.pool.promise().query(current);
        return String((rows as Array<{ q: string }>)[0]!.q);
      }
      throw new Error('not a server engine');
    });
    expect(seen).toBe(`${current} ${commentOf(span)}`);
  });

  it('a prepared statement (mysql2 execute, a named pg statement) keeps its text: the server statement is reused by it', async () => {
    const connection = db.connection();
    const { seen } = await traced(async () => {
      if (connection.driver === 'postgres') return String((await connection.pool.query<{ q: string }>({ name: 'current_query_named', text: current })).rows[0]!.q);
      if (connection.driver === 'mysql') {
        const [rows] = await connection.pool.promise().execute(current);
        return String((rows as Array<{ q: string }>)[0]!.q);
      }
      throw new Error('not a server engine');
    });
    expect(seen).toBe(current);
  });

  it('off by default: the text is sent as it is', async () => {
    const { seen } = await traced(async () => String((await plain.connection().query<{ q: string }>(current)).rows[0]!.q));
    expect(seen).toBe(current);
  });
});

describe('turning it on', () => {
  it('the configuration key and DB_TELEMETRY_SQLCOMMENTER, each with its source; bad values name the key or the variable', async () => {
    const fromFile = validateConfig({ connections: { local: { driver: 'sqlite', dsn: ':memory:' } }, telemetry: { enabled: true, sqlcommenter: true } }, { source: 'app.yaml' });
    expect(fromFile.telemetry).toEqual({ enabled: true, sqlcommenter: true });
    expect(fromFile.sources['telemetry.sqlcommenter']).toBe('app.yaml');
    const fromEnv = await loadConfig({ env: { DB_LOCAL_DSN: 'sqlite::memory:', DB_TELEMETRY_ENABLED: 'true', DB_TELEMETRY_SQLCOMMENTER: 'true' } });
    expect(fromEnv.telemetry).toEqual({ enabled: true, sqlcommenter: true });
    expect(fromEnv.sources['telemetry.sqlcommenter']).toBe('env DB_TELEMETRY_SQLCOMMENTER');
    expect(fromEnv.warnings).toEqual([]);
    expect(() => validateConfig({ connections: { local: { driver: 'sqlite', dsn: ':memory:' } } }, { source: 'object', env: { DB_TELEMETRY_SQLCOMMENTER: 'maybe' } })).toThrow(
      'DB_TELEMETRY_SQLCOMMENTER (telemetry.sqlcommenter): expected a boolean',
    );
  });

  it('from the configuration, statements carry the comment', async () => {
    const telemetry = startTestTelemetry();
    try {
      const config = validateConfig({ connections: { app: { driver: 'postgres', dsn: PG_URL } }, telemetry: { enabled: true, sqlcommenter: true } }, { source: 'object' });
      await using db = await createDatabase(config, { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } });
      const { rows } = await db.connection().query<{ q: string }>('SELECT current_query() AS q');
      expect(rows[0]!.q).toMatch(/^SELECT current_query\(\) AS q \/\*traceparent='00-[0-9a-f]{32}-[0-9a-f]{16}-01'\*\/$/);
    } finally {
      await telemetry.stop();
    }
  });
});
