// Spans and the duration metric on the real PostgreSQL, MariaDB and SQLite (DESIGN §11): one CLIENT
// span per statement with the stable database conventions' attributes, transactions as INTERNAL
// parents, trace context followed, and never a parameter value in anything exported.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, QueryError, type Database } from '../../src/index.js';
import { MYSQL_URL, PG_SERVER, PG_URL, MYSQL_SERVER, uniqueName } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { exportedText, onlySpanOf, parentOf, spansOf, startTestTelemetry, type TestTelemetry } from './sdk.js';

/** A parameter value no attribute, event or status may ever contain. */
const SECRET = 'dbm-param-7f3a9c-never-exported';

const sqlitePath = join(mkdtempSync(join(tmpdir(), 'dbmodule-otel-')), 'app.sqlite');

interface Case {
  readonly name: 'pg' | 'maria' | 'lite';
  readonly system: string;
  readonly namespace: string;
  readonly server: Attributes;
  /** Placeholders 1 and 2. */
  readonly p: readonly [string, string];
  /** A statement that fails on the server, and what the server answers to it. */
  readonly failing: { readonly sql: string; readonly spanName: string; readonly status: string };
  /** A statement whose driver error quotes its parameter (the value must still not be exported). */
  readonly quoting?: { readonly sql: string };
}

const cases: readonly Case[] = [
  {
    name: 'pg',
    system: 'postgresql',
    namespace: PG_SERVER.database,
    server: { 'server.address': PG_SERVER.host, 'server.port': PG_SERVER.port },
    p: ['$1', '$2'],
    failing: { sql: 'SELECT 1/0', spanName: 'SELECT', status: '22012' },
    quoting: { sql: 'SELECT $1::int AS n' },
  },
  {
    name: 'maria',
    system: 'mariadb',
    namespace: MYSQL_SERVER.database,
    server: { 'server.address': MYSQL_SERVER.host, 'server.port': MYSQL_SERVER.port },
    p: ['?', '?'],
    failing: { sql: 'SELECT * FROM dbm_otel_no_such_table', spanName: 'SELECT dbm_otel_no_such_table', status: '1146' },
  },
  {
    name: 'lite',
    system: 'sqlite',
    namespace: sqlitePath,
    server: {},
    p: ['?', '?'],
    failing: { sql: 'SELECT * FROM dbm_otel_no_such_table', spanName: 'SELECT dbm_otel_no_such_table', status: 'SQLITE_ERROR' },
  },
];

let telemetry: TestTelemetry;
let db: Database;

beforeAll(async () => {
  telemetry = startTestTelemetry();
  db = await createDatabase(
    {
      default: 'pg',
      connections: {
        pg: { driver: 'postgres', dsn: PG_URL },
        maria: { driver: 'mysql', dsn: MYSQL_URL },
        lite: { driver: 'sqlite', dsn: `sqlite:${sqlitePath}` },
      },
    },
    { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } },
  );
});

afterAll(async () => {
  await db?.close();
  await telemetry?.stop();
});

const tracer = () => telemetry.tracerProvider.getTracer('test');

describe.each(cases)('$system', (c) => {
  const table = uniqueName(`otel_${c.name}`);
  const [p1, p2] = c.p;
  const insert = `INSERT INTO ${table} (id, label) VALUES (${p1}, ${p2})`;
  const select = `SELECT label FROM ${table} WHERE id = ${p1}`;
  const connection = () => db.connection(c.name);
  const endpoint = (): Attributes => ({ 'db.system.name': c.system, 'db.namespace': c.namespace, ...c.server });

  beforeAll(async () => {
    await connection().query(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, label VARCHAR(80))`);
  });

  afterAll(async () => {
    await connection().query(`DROP TABLE ${table}`);
  });

  it('runs each statement in one CLIENT span named by operation and table, with the conventions attributes', async () => {
    telemetry.reset();
    await connection().query(insert, [1, SECRET]);
    const span = onlySpanOf(telemetry.spans(), insert);
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.name).toBe(`INSERT ${table}`);
    expect(span.instrumentationScope.name).toBe('dbmodule');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toEqual({
      ...endpoint(),
      'db.operation.name': 'INSERT',
      'db.collection.name': table,
      'db.query.summary': `INSERT ${table}`,
      'db.query.text': insert,
      'dbmodule.connection.name': c.name,
    });
  });

  it('traces reader() statements too (a connection without a cluster reads from its one server)', async () => {
    telemetry.reset();
    const { rows } = await connection().reader().query<{ label: string }>(select, [1]);
    expect(rows[0]?.label).toBe(SECRET);
    const span = onlySpanOf(telemetry.spans(), select);
    expect(span.name).toBe(`SELECT ${table}`);
    expect(span.attributes).toMatchObject({ ...endpoint(), 'db.operation.name': 'SELECT', 'db.collection.name': table });
  });

  it("names a failure by error.type and the server's status code, with status ERROR", async () => {
    telemetry.reset();
    const failure = await connection().query(c.failing.sql).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(QueryError);
    const span = onlySpanOf(telemetry.spans(), c.failing.sql);
    expect(span.name).toBe(c.failing.spanName);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe((failure as QueryError).code);
    expect(span.attributes['db.response.status_code']).toBe(c.failing.status);
    expect(span.events).toEqual([]);
  });

  it('makes a statement run inside an active span its child', async () => {
    telemetry.reset();
    const outer = await tracer().startActiveSpan('handle request', async (span) => {
      await connection().query(select, [1]);
      span.end();
      return span.spanContext();
    });
    const statement = onlySpanOf(telemetry.spans(), select);
    expect(statement.spanContext().traceId).toBe(outer.traceId);
    expect(parentOf(statement)).toBe(outer.spanId);
  });

  it('gives a transaction an INTERNAL parent span over its statements, savepoints nested in it', async () => {
    telemetry.reset();
    const update = `UPDATE ${table} SET label = ${p1} WHERE id = ${p2}`;
    await tracer().startActiveSpan('job', async (job) => {
      await connection().transaction(async (tx) => {
        await tx.query(insert, [2, 'two']);
        await tx.transaction(async (inner) => {
          await inner.query(update, ['deux', 2]);
        });
        // the application's own work in the callback is traced as usual (tracing is suppressed for the driver only)
        tracer().startActiveSpan('application step', (step) => step.end());
      });
      job.end();
    });
    const spans = telemetry.spans();
    const job = spans.find((span) => span.name === 'job') as ReadableSpan;
    const [inner, outer] = spans.filter((span) => span.name === 'transaction');
    const step = spans.find((span) => span.name === 'application step');
    expect(step && parentOf(step)).toBe(outer?.spanContext().spanId);
    expect(outer?.kind).toBe(SpanKind.INTERNAL);
    expect(parentOf(outer as ReadableSpan)).toBe(job.spanContext().spanId);
    expect(outer?.attributes).toMatchObject({ ...endpoint(), 'dbmodule.connection.name': c.name, 'dbmodule.transaction.depth': 0, 'dbmodule.transaction.outcome': 'committed' });
    expect(inner?.attributes).toMatchObject({ 'dbmodule.transaction.depth': 1, 'dbmodule.transaction.isolation': 'savepoint', 'dbmodule.transaction.outcome': 'committed' });
    expect(parentOf(inner as ReadableSpan)).toBe(outer?.spanContext().spanId);

    const outerId = outer?.spanContext().spanId;
    const childrenOfOuter = spans.filter((span) => parentOf(span) === outerId && span.kind === SpanKind.CLIENT);
    expect(childrenOfOuter.map((span) => span.attributes['db.operation.name'])).toEqual([...beginOperations(c.name), 'INSERT', 'COMMIT']);
    expect(onlySpanOf(spans, insert).name).toBe(`INSERT ${table}`);
    const childrenOfInner = spans.filter((span) => parentOf(span) === inner?.spanContext().spanId);
    expect(childrenOfInner.map((span) => span.name)).toEqual(['SAVEPOINT', `UPDATE ${table}`, 'RELEASE']);
    for (const span of [...childrenOfOuter, ...childrenOfInner]) expect(span.attributes).toMatchObject(endpoint());
  });

  it('marks a rolled-back transaction ERROR with its error.type, ROLLBACK its last child', async () => {
    telemetry.reset();
    await expect(
      connection().transaction(async (tx) => {
        await tx.query(insert, [3, 'three']);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const spans = telemetry.spans();
    const transaction = spans.find((span) => span.name === 'transaction') as ReadableSpan;
    expect(transaction.status.code).toBe(SpanStatusCode.ERROR);
    expect(transaction.attributes).toMatchObject({ 'error.type': 'Error', 'dbmodule.transaction.outcome': 'rolled-back' });
    const children = spans.filter((span) => parentOf(span) === transaction.spanContext().spanId);
    expect(children.at(-1)?.name).toBe('ROLLBACK');
    expect(children.every((span) => span.status.code === SpanStatusCode.UNSET)).toBe(true);
  });

  it('records db.client.operation.duration in seconds, with the advised buckets and the endpoint attributes', async () => {
    await connection().query(select, [1]);
    await connection().query(c.failing.sql).catch(() => {});
    const metric = await telemetry.duration();
    expect(metric?.descriptor.unit).toBe('s');
    const points = metric?.dataPoints ?? [];
    const ok = points.find((point) => point.attributes['db.collection.name'] === table && point.attributes['db.operation.name'] === 'SELECT');
    expect(ok?.attributes).toEqual({ ...endpoint(), 'db.operation.name': 'SELECT', 'db.collection.name': table });
    expect(ok?.value.buckets.boundaries).toEqual([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]);
    expect(ok?.value.count).toBeGreaterThanOrEqual(1);
    // seconds, not milliseconds: a local statement takes well under a second
    expect(ok?.value.min).toBeLessThan(1);
    const failed = points.find((point) => point.attributes['db.system.name'] === c.system && point.attributes['db.response.status_code'] === c.failing.status);
    expect(failed?.attributes['error.type']).toBe('QUERY_FAILED');
  });

  it('exports no parameter value: not in attributes, events, status, names or measurements', async () => {
    telemetry.reset();
    await connection().query(`SELECT id FROM ${table} WHERE label = ${p1}`, [SECRET]);
    await connection().query(insert, [10, SECRET]);
    await connection().query(insert, [10, SECRET]).catch(() => {}); // duplicate key
    await connection().transaction(async (tx) => tx.query(`UPDATE ${table} SET label = ${p1} WHERE label = ${p2}`, [SECRET, SECRET]));
    if (c.quoting) {
      const failure = await connection().query(c.quoting.sql, [SECRET]).catch((error: unknown) => error);
      // the driver's own error quotes the value: this is what must not reach a span
      expect(String((failure as Error).cause instanceof Error ? ((failure as Error).cause as Error).message : '')).toContain(SECRET);
    }
    const spans = telemetry.spans();
    // the same text succeeded, then failed: the failure's attributes stay on the failed span
    expect(spansOf(spans, insert).map((span) => span.attributes['error.type'])).toEqual([undefined, 'QUERY_FAILED']);
    const metric = await telemetry.duration();
    const texts = exportedText(spans, (metric?.dataPoints ?? []).map((point) => point.attributes));
    expect(texts.length).toBeGreaterThan(50);
    expect(texts.filter((text) => text.includes(SECRET))).toEqual([]);
    // and the scan does look where the values would be: the statement text is there
    expect(texts).toContain(insert);
  });
});

/** What a default-isolation transaction's BEGIN is on each driver. */
function beginOperations(name: Case['name']): string[] {
  return name === 'maria' ? ['START'] : ['BEGIN'];
}

describe('migrations', () => {
  it('run their statements in CLIENT spans, each migration in a transaction span (PostgreSQL)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'dbmodule-otel-migrations-'));
    const table = uniqueName('otel_migrated');
    const history = uniqueName('otel_history');
    writeFileSync(join(directory, '1_create.up.sql'), `CREATE TABLE ${table} (id INTEGER PRIMARY KEY);\nINSERT INTO ${table} (id) VALUES (1);`);
    await using migrating = await createDatabase(
      { connections: { pg: { driver: 'postgres', dsn: PG_URL, migrations: { directory, table: history } } } },
      { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } },
    );
    try {
      telemetry.reset();
      const run = await migrating.migrate('pg');
      expect(run.migrations.map((step) => step.version)).toEqual(['1']);
      const spans = telemetry.spans();
      const inserted = spans.find((span) => span.name === `INSERT ${table}`);
      expect(inserted?.kind).toBe(SpanKind.CLIENT);
      const parent = spans.find((span) => span.spanContext().spanId === (inserted && parentOf(inserted)));
      expect(parent?.name).toBe('transaction');
      expect(parent?.attributes['dbmodule.transaction.outcome']).toBe('committed');
    } finally {
      await migrating.connection('pg').query(`DROP TABLE IF EXISTS ${table}`);
      await migrating.connection('pg').query(`DROP TABLE IF EXISTS ${history}`);
    }
  });
});

describe('MariaDB', () => {
  it('is db.system.name mariadb because the server says so', async () => {
    // the spans above say mariadb; the server agrees
    const { rows } = await db.connection('maria').query<{ v: string }>('SELECT VERSION() AS v');
    expect(rows[0]?.v).toMatch(/mariadb/i);
  });
});
