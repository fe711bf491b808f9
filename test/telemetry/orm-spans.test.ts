// What ORMs run through connection.pool gets the CLIENT span connection.query gets (DESIGN §11, §13):
// Kysely (kyselyDialect) and Drizzle on PostgreSQL, MariaDB and SQLite, one span per statement,
// children of the active span, also with @opentelemetry/instrumentation-pg registered; with
// telemetry off the lent pool carries no hook at all.
import { PG_INSTRUMENTATION_SCOPE, pgInstrumentation } from './fixtures/pg-instrumentation.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { asc, eq, sql as dsql } from 'drizzle-orm';
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import { int, mysqlTable, varchar as mysqlVarchar } from 'drizzle-orm/mysql-core';
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2';
import { drizzle as drizzlePostgres } from 'drizzle-orm/node-postgres';
import { integer, pgTable, varchar } from 'drizzle-orm/pg-core';
import { integer as sqliteInteger, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import knex from 'knex';
import { Kysely, sql } from 'kysely';
import type { PoolConnection } from 'mysql2';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Connection, type Database } from '../../src/index.js';
import { knexConfig } from '../../src/integrations/knex.js';
import { kyselyDialect } from '../../src/integrations/kysely.js';
import { typeormOptions } from '../../src/integrations/typeorm.js';
import { MYSQL_SERVER, MYSQL_URL, PG_SERVER, PG_URL, uniqueName } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { exportedText, onlySpanOf, parentOf, spansOf, startTestTelemetry, type TestTelemetry } from './sdk.js';

type Engine = 'pg' | 'maria' | 'lite';

interface Case {
  readonly name: Engine;
  readonly system: string;
  readonly endpoint: () => Attributes;
  /** A statement the server refuses, and what it answers. */
  readonly failing: { readonly sql: string; readonly status: string };
}

const sqlitePath = join(mkdtempSync(join(tmpdir(), 'dbmodule-orm-otel-')), 'orm.sqlite');

const cases: readonly Case[] = [
  {
    name: 'pg',
    system: 'postgresql',
    endpoint: () => ({ 'db.system.name': 'postgresql', 'db.namespace': PG_SERVER.database, 'server.address': PG_SERVER.host, 'server.port': PG_SERVER.port }),
    failing: { sql: 'SELECT * FROM dbm_orm_otel_missing', status: '42P01' },
  },
  {
    name: 'maria',
    system: 'mariadb',
    endpoint: () => ({ 'db.system.name': 'mariadb', 'db.namespace': MYSQL_SERVER.database, 'server.address': MYSQL_SERVER.host, 'server.port': MYSQL_SERVER.port }),
    failing: { sql: 'SELECT * FROM dbm_orm_otel_missing', status: '1146' },
  },
  {
    name: 'lite',
    system: 'sqlite',
    endpoint: () => ({ 'db.system.name': 'sqlite', 'db.namespace': sqlitePath }),
    failing: { sql: 'SELECT * FROM dbm_orm_otel_missing', status: 'SQLITE_ERROR' },
  },
];

// one session per pool: a statement waits for another's release, so a checkout served by a release is tested too
const config = {
  default: 'pg',
  connections: {
    pg: { driver: 'postgres', dsn: PG_URL, max_open_connections: 1 },
    maria: { driver: 'mysql', dsn: MYSQL_URL, max_open_connections: 1 },
    lite: { driver: 'sqlite', dsn: `sqlite:${sqlitePath}` },
  },
};

let telemetry: TestTelemetry;
let db: Database;
let untraced: Database;

beforeAll(async () => {
  telemetry = startTestTelemetry();
  pgInstrumentation.setTracerProvider(telemetry.tracerProvider);
  pgInstrumentation.setMeterProvider(telemetry.meterProvider);
  const providers = { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider };
  db = await createDatabase(config, { logger: captureLogger().logger, telemetry: providers });
  untraced = await createDatabase(config, { logger: captureLogger().logger, telemetry: false });
  // pg is loaded (and patched) now; the instrumentation is switched on only where a test says so
  pgInstrumentation.disable();
});

afterAll(async () => {
  await db?.close();
  await untraced?.close();
  pgInstrumentation.disable();
  await telemetry?.stop();
});

const tracer = () => telemetry.tracerProvider.getTracer('test');
const clientSpans = (): ReadableSpan[] => telemetry.spans().filter((span) => span.kind === SpanKind.CLIENT);
const textsOf = (spans: readonly ReadableSpan[]): unknown[] => spans.map((span) => span.attributes['db.query.text']);

interface Row {
  id: number;
  name: string;
}

/** Kysely on a connection, every statement text it runs recorded in `texts`. */
function kyselyOn(connection: Connection, texts: string[]): Kysely<Record<string, Row>> {
  return new Kysely<Record<string, Row>>({ dialect: kyselyDialect(connection), log: (event) => void texts.push(event.query.sql) });
}

/** Drizzle on `connection.pool` as DESIGN §13 hands it over, every statement text it runs recorded in `texts`. */
function drizzleSteps(connection: Connection, table: string, texts: string[]): () => Promise<void> {
  const logger = { logQuery: (query: string) => void texts.push(query) };
  const create = dsql.raw(`CREATE TABLE ${table} (id integer PRIMARY KEY, name varchar(40) NOT NULL)`);
  if (connection.driver === 'postgres') {
    const orm = drizzlePostgres({ client: connection.pool, logger });
    const rows = pgTable(table, { id: integer('id').primaryKey(), name: varchar('name', { length: 40 }).notNull() });
    return async () => {
      await orm.execute(create);
      await orm.insert(rows).values({ id: 1, name: 'one' });
      await orm.insert(rows).values({ id: 2, name: 'two' });
      expect(await orm.select().from(rows).orderBy(asc(rows.id))).toEqual([{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
      await orm.update(rows).set({ name: 'deux' }).where(eq(rows.id, 2));
      await orm.delete(rows).where(eq(rows.id, 1));
    };
  }
  if (connection.driver === 'mysql') {
    const orm = drizzleMysql({ client: connection.pool, logger, mode: 'default' });
    const rows = mysqlTable(table, { id: int('id').primaryKey(), name: mysqlVarchar('name', { length: 40 }).notNull() });
    return async () => {
      await orm.execute(create);
      await orm.insert(rows).values({ id: 1, name: 'one' });
      await orm.insert(rows).values({ id: 2, name: 'two' });
      expect(await orm.select().from(rows).orderBy(asc(rows.id))).toEqual([{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
      await orm.update(rows).set({ name: 'deux' }).where(eq(rows.id, 2));
      await orm.delete(rows).where(eq(rows.id, 1));
    };
  }
  const orm = drizzleSqlite({ client: connection.pool, logger });
  const rows = sqliteTable(table, { id: sqliteInteger('id').primaryKey(), name: text('name').notNull() });
  return async () => {
    orm.run(create);
    orm.insert(rows).values({ id: 1, name: 'one' }).run();
    orm.insert(rows).values({ id: 2, name: 'two' }).run();
    expect(orm.select().from(rows).orderBy(asc(rows.id)).all()).toEqual([{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
    orm.update(rows).set({ name: 'deux' }).where(eq(rows.id, 2)).run();
    orm.delete(rows).where(eq(rows.id, 1)).run();
  };
}

/** The statement spans of one text; fails unless there are `count`. */
function spansOfText(sqlText: string, count: number): ReadableSpan[] {
  const found = spansOf(telemetry.spans(), sqlText);
  expect(found, sqlText).toHaveLength(count);
  return found;
}

describe.each(cases)('$system: connection.pool', (c) => {
  const connection = () => db.connection(c.name);
  const tables: string[] = [];
  const table = (prefix: string) => {
    const name = uniqueName(`orm_otel_${c.name}_${prefix}`);
    tables.push(name);
    return name;
  };

  afterAll(async () => {
    for (const name of tables) await connection().query(`DROP TABLE IF EXISTS ${name}`);
  });

  it('Kysely: N statements are N CLIENT spans, with the conventions attributes and the duration metric', async () => {
    const name = table('kysely');
    const texts: string[] = [];
    const kysely = kyselyOn(connection(), texts);
    telemetry.reset();
    await kysely.schema.createTable(name).addColumn('id', 'integer', (column) => column.primaryKey()).addColumn('name', 'varchar(40)', (column) => column.notNull()).execute();
    await kysely.insertInto(name).values({ id: 1, name: 'one' }).execute();
    await kysely.insertInto(name).values({ id: 2, name: 'two' }).execute();
    expect(await kysely.selectFrom(name).select(['id', 'name']).where('id', '=', 2).execute()).toEqual([{ id: 2, name: 'two' }]);
    await kysely.updateTable(name).set({ name: 'deux' }).where('id', '=', 2).execute();
    await kysely.deleteFrom(name).where('id', '=', 1).execute();
    await kysely.destroy();

    expect(texts).toHaveLength(6);
    const spans = clientSpans();
    expect(textsOf(spans)).toEqual(texts);
    expect(spans.map((span) => span.attributes['db.operation.name'])).toEqual(['CREATE', 'INSERT', 'INSERT', 'SELECT', 'UPDATE', 'DELETE']);
    for (const span of spans) {
      expect(span.instrumentationScope.name).toBe('dbmodule');
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.attributes).toMatchObject({ ...c.endpoint(), 'dbmodule.connection.name': c.name });
    }
    // the statement summary names the table of DML (DDL's target is not guessed)
    expect(spans.slice(1).map((span) => [span.name, span.attributes['db.collection.name'], span.attributes['db.query.summary']])).toEqual(
      ['INSERT', 'INSERT', 'SELECT', 'UPDATE', 'DELETE'].map((operation) => [`${operation} ${name}`, name, `${operation} ${name}`]),
    );
    const points = (await telemetry.duration())?.dataPoints ?? [];
    const inserts = points.find((point) => point.attributes['db.collection.name'] === name && point.attributes['db.operation.name'] === 'INSERT');
    expect(inserts?.attributes).toEqual({ ...c.endpoint(), 'db.operation.name': 'INSERT', 'db.collection.name': name });
    expect(inserts?.value.count).toBe(2);
  });

  it('a Kysely statement’s span is the one connection.query makes of the same text', async () => {
    const name = table('same');
    await connection().query(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)`);
    const texts: string[] = [];
    const kysely = kyselyOn(connection(), texts);
    await kysely.selectFrom(name).select('name').where('id', '=', 7).execute();
    const [selectText] = texts;
    await connection().query(selectText!, [7]);
    const [fromKysely, fromQuery] = spansOfText(selectText!, 2);
    expect(fromKysely?.name).toBe(`SELECT ${name}`);
    expect(fromKysely?.name).toBe(fromQuery?.name);
    expect(fromKysely?.kind).toBe(fromQuery?.kind);
    expect(fromKysely?.attributes).toEqual(fromQuery?.attributes);
    await kysely.destroy();
  });

  it('a failed ORM statement is status ERROR with the server’s status code and the error.type connection.query gives', async () => {
    const texts: string[] = [];
    const kysely = kyselyOn(connection(), texts);
    telemetry.reset();
    await expect(sql.raw(c.failing.sql).execute(kysely)).rejects.toThrow();
    await expect(connection().query(c.failing.sql)).rejects.toThrow();
    const [fromKysely, fromQuery] = spansOfText(c.failing.sql, 2);
    expect(fromKysely?.status.code).toBe(SpanStatusCode.ERROR);
    expect(fromKysely?.attributes['db.response.status_code']).toBe(c.failing.status);
    expect(fromKysely?.attributes).toEqual(fromQuery?.attributes);
    expect(fromKysely?.status).toEqual(fromQuery?.status);
    expect(fromKysely?.events).toEqual([]);
    await kysely.destroy();
  });

  it('a Kysely transaction’s statements are children of the active span, one CLIENT span each', async () => {
    const name = table('tx');
    await connection().query(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)`);
    const texts: string[] = [];
    const kysely = kyselyOn(connection(), texts);
    telemetry.reset();
    const job = await tracer().startActiveSpan('job', async (span) => {
      await kysely.transaction().execute(async (trx) => {
        await trx.insertInto(name).values({ id: 1, name: 'one' }).execute();
        await trx.selectFrom(name).selectAll().execute();
      });
      span.end();
      return span.spanContext();
    });
    await kysely.destroy();
    const spans = clientSpans();
    expect(textsOf(spans)).toEqual(texts);
    const operations = spans.map((span) => span.attributes['db.operation.name']);
    expect(operations.slice(1)).toEqual(['INSERT', 'SELECT', 'COMMIT']);
    expect(operations[0]).toMatch(/^(BEGIN|START)/);
    for (const span of spans) {
      expect(span.spanContext().traceId).toBe(job.traceId);
      expect(parentOf(span)).toBe(job.spanId);
    }
  });

  it('Drizzle on connection.pool: N statements are N CLIENT spans', async () => {
    const name = table('drizzle');
    const texts: string[] = [];
    const steps = drizzleSteps(connection(), name, texts);
    telemetry.reset();
    await steps();
    expect(texts).toHaveLength(6);
    const spans = clientSpans();
    expect(textsOf(spans)).toEqual(texts);
    expect(spans.map((span) => span.attributes['db.operation.name'])).toEqual(['CREATE', 'INSERT', 'INSERT', 'SELECT', 'UPDATE', 'DELETE']);
    for (const span of spans) expect(span.attributes).toMatchObject({ ...c.endpoint(), 'dbmodule.connection.name': c.name });
    expect(spans.slice(1).every((span) => span.attributes['db.collection.name'] === name)).toBe(true);
  });

  it('Knex (knexConfig): one CLIENT span per statement, a transaction’s under the active span', async () => {
    const name = table('knex');
    const orm = knex(knexConfig(connection()));
    let sent = 0;
    orm.on('query', () => sent++);
    telemetry.reset();
    try {
      const job = await tracer().startActiveSpan('job', async (span) => {
        await orm.schema.createTable(name, (t) => {
          t.integer('id').primary();
          t.string('name', 40).notNullable();
        });
        await orm.transaction(async (trx) => {
          await trx(name).insert({ id: 1, name: 'one' });
          await trx(name).where({ id: 1 }).update({ name: 'un' });
        });
        expect(await orm(name).select('name').where({ id: 1 })).toEqual([{ name: 'un' }]);
        span.end();
        return span.spanContext().spanId;
      });
      const spans = clientSpans();
      // every statement Knex says it sent (its 'query' event), BEGIN and COMMIT included
      expect(sent).toBe(6);
      expect(spans).toHaveLength(sent);
      const operations = spans.map((span) => span.attributes['db.operation.name']);
      expect([operations[0], ...operations.slice(2)]).toEqual(['CREATE', 'INSERT', 'UPDATE', 'COMMIT', 'SELECT']);
      expect(operations[1]).toMatch(/^(BEGIN|START)/);
      expect(spans.every((span) => parentOf(span) === job && span.instrumentationScope.name === 'dbmodule')).toBe(true);
    } finally {
      await orm.destroy();
    }
  });

  it('connection.query and transactions stay one CLIENT span and one measurement per statement (nothing more from the pool’s hook)', async () => {
    const name = table('single');
    await connection().query(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY)`);
    telemetry.reset();
    await connection().query(`SELECT id FROM ${name}`);
    await connection().transaction(async (tx) => {
      await tx.query(`SELECT id FROM ${name} WHERE id = 1`);
    });
    const spans = clientSpans();
    expect(spans).toHaveLength(4);
    expect(onlySpanOf(spans, `SELECT id FROM ${name}`).instrumentationScope.name).toBe('dbmodule');
    const transaction = telemetry.spans().find((span) => span.name === 'transaction');
    expect(spans.slice(1).every((span) => parentOf(span) === transaction?.spanContext().spanId)).toBe(true);
    const points = (await telemetry.duration())?.dataPoints ?? [];
    const selects = points.filter((point) => point.attributes['db.collection.name'] === name);
    expect(selects.map((point) => point.value.count)).toEqual([2]);
  });
});

describe.each(cases.filter((c) => c.name !== 'lite'))('$system: a checkout served by another caller’s release', (c) => {
  it('runs each statement in its own caller’s context, one span each (ORMs and dbmodule waiting on one session)', async () => {
    const connection = db.connection(c.name);
    const kysely = kyselyOn(connection, []);
    // Drizzle runs a statement with the pool's own query (pg-pool's, mysql2's): a checkout with a callback
    const drizzleQuery =
      connection.driver === 'postgres'
        ? (text: string) => drizzlePostgres(connection.pool).execute(dsql.raw(text))
        : connection.driver === 'mysql'
          ? (text: string) => drizzleMysql(connection.pool).execute(dsql.raw(text))
          : undefined;
    const run: Record<string, () => Promise<unknown>> = {
      first: () => sql.raw('SELECT 1 AS first').execute(kysely),
      second: () => drizzleQuery!('SELECT 2 AS second'),
      third: () => connection.query('SELECT 3 AS third'),
      fourth: () => drizzleQuery!('SELECT 4 AS fourth'),
    };
    telemetry.reset();
    // one session: each waits, and is served by the release of the one before it
    const outers = await Promise.all(
      Object.keys(run).map((label) =>
        tracer().startActiveSpan(label, async (span) => {
          await run[label]!();
          span.end();
          return span.spanContext().spanId;
        }),
      ),
    );
    await kysely.destroy();
    expect(clientSpans()).toHaveLength(4);
    expect(parentOf(onlySpanOf(telemetry.spans(), 'SELECT 4 AS fourth'))).toBe(outers[3]);
    expect(parentOf(onlySpanOf(telemetry.spans(), 'SELECT 1 AS first'))).toBe(outers[0]);
    expect(parentOf(onlySpanOf(telemetry.spans(), 'SELECT 2 AS second'))).toBe(outers[1]);
    expect(parentOf(onlySpanOf(telemetry.spans(), 'SELECT 3 AS third'))).toBe(outers[2]);
  });
});

describe('PostgreSQL: what a client from connection.pool runs, in every shape pg takes', () => {
  it('callback, config object, promise and submittable: one span each, callbacks in the caller’s context', async () => {
    const connection = db.connection('pg');
    if (connection.driver !== 'postgres') throw new Error('pg');
    const client = await connection.pool.connect();
    telemetry.reset();
    try {
      const outer = await tracer().startActiveSpan('caller', async (span) => {
        const inCallback = await new Promise<string | undefined>((resolve, reject) =>
          client.query('SELECT 1 AS with_callback', (error) => (error ? reject(error) : resolve(tracer().startSpan('after callback').spanContext().traceId))),
        );
        expect(inCallback).toBe(span.spanContext().traceId);
        await client.query({ text: 'SELECT $1::int AS with_config', values: [2] });
        await client.query('SELECT $1::int AS with_values', [3]);
        await new Promise<void>((resolve, reject) => client.query(new pg.Query('SELECT 4 AS submitted', [], (error: Error | undefined) => (error ? reject(error) : resolve()))));
        await expect(client.query('SELECT * FROM dbm_orm_otel_missing')).rejects.toThrow();
        span.end();
        return span.spanContext().spanId;
      });
      for (const [text, status] of [
        ['SELECT 1 AS with_callback', SpanStatusCode.UNSET],
        ['SELECT $1::int AS with_config', SpanStatusCode.UNSET],
        ['SELECT $1::int AS with_values', SpanStatusCode.UNSET],
        ['SELECT 4 AS submitted', SpanStatusCode.UNSET],
        ['SELECT * FROM dbm_orm_otel_missing', SpanStatusCode.ERROR],
      ] as const) {
        const span = onlySpanOf(telemetry.spans(), text);
        expect(span.kind).toBe(SpanKind.CLIENT);
        expect(parentOf(span)).toBe(outer);
        expect(span.status.code).toBe(status);
      }
      expect(clientSpans()).toHaveLength(5);
    } finally {
      client.release();
    }
  });
});

describe('MariaDB: what a session from connection.pool runs, in every shape mysql2 takes', () => {
  it('query and execute with callbacks, rows as events, pool.query and the promise wrapper: one span each', async () => {
    const connection = db.connection('maria');
    if (connection.driver !== 'mysql') throw new Error('maria');
    const pool = connection.pool;
    telemetry.reset();
    const outer = await tracer().startActiveSpan('caller', async (span) => {
      const session = await new Promise<PoolConnection>((resolve, reject) => pool.getConnection((error, got) => (error ? reject(error) : resolve(got))));
      try {
        await new Promise<void>((resolve, reject) => session.query('SELECT 1 AS query_callback', (error) => (error ? reject(error) : resolve())));
        await new Promise<void>((resolve, reject) => session.query('SELECT ? AS query_values', [2], (error) => (error ? reject(error) : resolve())));
        await new Promise<void>((resolve, reject) => session.execute('SELECT ? AS execute_values', [3], (error) => (error ? reject(error) : resolve())));
        // rows as events: the listeners run in the caller's context, not in the one the socket was opened in
        const inListener = await new Promise<string | undefined>((resolve, reject) =>
          session
            .query('SELECT 4 AS as_events')
            .on('error', reject)
            .on('end', () => resolve(trace.getActiveSpan()?.spanContext().spanId)),
        );
        expect(inListener).toBe(span.spanContext().spanId);
        await new Promise<void>((resolve) => session.query('SELECT * FROM dbm_orm_otel_missing', () => resolve()));
      } finally {
        session.release();
      }
      await new Promise<void>((resolve, reject) => pool.query('SELECT 5 AS pool_query', (error) => (error ? reject(error) : resolve())));
      await pool.promise().query('SELECT ? AS promise_query', [6]);
      span.end();
      return span.spanContext().spanId;
    });
    for (const [text, status] of [
      ['SELECT 1 AS query_callback', SpanStatusCode.UNSET],
      ['SELECT ? AS query_values', SpanStatusCode.UNSET],
      ['SELECT ? AS execute_values', SpanStatusCode.UNSET],
      ['SELECT 4 AS as_events', SpanStatusCode.UNSET],
      ['SELECT * FROM dbm_orm_otel_missing', SpanStatusCode.ERROR],
      ['SELECT 5 AS pool_query', SpanStatusCode.UNSET],
      ['SELECT ? AS promise_query', SpanStatusCode.UNSET],
    ] as const) {
      const span = onlySpanOf(telemetry.spans(), text);
      expect(span.attributes['db.system.name']).toBe('mariadb');
      expect(parentOf(span)).toBe(outer);
      expect(span.status.code).toBe(status);
    }
    // the text is the parameterised one, as the ORM sent it, never with mysql2's interpolated values
    expect(clientSpans()).toHaveLength(7);
  });

  it('a statement the caller formatted itself, values inlined, carries the parameterised text it declares', async () => {
    const connection = db.connection('maria');
    if (connection.driver !== 'mysql') throw new Error('maria');
    const pool = connection.pool;
    const inlined = 'dbm-inlined-7c1e-never-exported';
    telemetry.reset();
    const session = await new Promise<PoolConnection>((resolve, reject) => pool.getConnection((error, got) => (error ? reject(error) : resolve(got))));
    try {
      const options = { sql: `SELECT '${inlined}' AS v`, [Symbol.for('dbmodule.statement.text')]: 'SELECT ? AS v' };
      const rows = await new Promise<unknown>((resolve, reject) => session.query(options, (error, result) => (error ? reject(error) : resolve(result))));
      expect(rows).toEqual([{ v: inlined }]);
    } finally {
      session.release();
    }
    expect(onlySpanOf(telemetry.spans(), 'SELECT ? AS v').attributes['db.operation.name']).toBe('SELECT');
    expect(exportedText(telemetry.spans()).filter((text) => text.includes(inlined))).toEqual([]);
  });

  it('TypeORM (typeormOptions), which escapes values into the text itself: the span carries the text with its placeholders', async () => {
    const secret = 'dbm-typeorm-9d2f-never-exported';
    const dataSource = await new DataSource({ ...typeormOptions(db.connection('maria')) }).initialize();
    telemetry.reset();
    try {
      expect(await dataSource.query('SELECT ? AS v', [secret])).toEqual([{ v: secret }]);
    } finally {
      await dataSource.destroy();
    }
    expect(onlySpanOf(telemetry.spans(), 'SELECT ? AS v').attributes['db.query.text']).toBe('SELECT ? AS v');
    expect(exportedText(telemetry.spans()).filter((text) => text.includes(secret))).toEqual([]);
  });
});

describe('SQLite: the lent Database', () => {
  it('prepare (run, get, all, iterate) and exec: one span each, children of the active span', async () => {
    const connection = db.connection('lite');
    if (connection.driver !== 'sqlite') throw new Error('lite');
    const database = connection.pool;
    const name = uniqueName('orm_otel_lite_raw');
    telemetry.reset();
    const outer = tracer().startActiveSpan('caller', (span) => {
      database.exec(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY)`);
      database.prepare(`INSERT INTO ${name} (id) VALUES (?)`).run(1);
      database.prepare(`INSERT INTO ${name} (id) VALUES (?)`).run(2);
      expect(database.prepare(`SELECT id FROM ${name} WHERE id = ?`).get(1)).toEqual({ id: 1 });
      expect(database.prepare(`SELECT id FROM ${name}`).pluck().all()).toEqual([1, 2]);
      expect([...database.prepare(`SELECT id FROM ${name} ORDER BY id`).iterate()]).toEqual([{ id: 1 }, { id: 2 }]);
      expect(() => database.prepare(`SELECT id FROM ${name}`).run()).not.toThrow();
      span.end();
      return span.spanContext().spanId;
    });
    database.exec(`DROP TABLE ${name}`);
    const spans = clientSpans().filter((span) => String(span.attributes['db.query.text']).includes(name));
    expect(spans.map((span) => span.attributes['db.operation.name'])).toEqual(['CREATE', 'INSERT', 'INSERT', 'SELECT', 'SELECT', 'SELECT', 'SELECT', 'DROP']);
    expect(spans.slice(0, -1).every((span) => parentOf(span) === outer)).toBe(true);
  });
});

describe('telemetry off: connection.pool is the pool as it always was', () => {
  it('PostgreSQL: no hook on the pool or its clients (pg’s own query, the session pool’s own connect)', async () => {
    const off = untraced.connection('pg');
    const on = db.connection('pg');
    if (off.driver !== 'postgres' || on.driver !== 'postgres') throw new Error('pg');
    expect(Object.hasOwn(off.pool, 'connect')).toBe(false);
    expect(Object.hasOwn(on.pool, 'connect')).toBe(true);
    const [plain, traced] = [await off.pool.connect(), await on.pool.connect()];
    try {
      expect(plain.query).toBe(pg.Client.prototype.query);
      expect(Object.hasOwn(Object.getPrototypeOf(plain) as object, 'query')).toBe(false);
      expect(traced.query).not.toBe(pg.Client.prototype.query);
    } finally {
      plain.release();
      traced.release();
    }
  });

  it('MySQL: no hook on the sessions (mysql2’s own query and execute)', async () => {
    const sessionOf = (connection: Connection) =>
      new Promise<PoolConnection>((resolve, reject) => {
        if (connection.driver !== 'mysql') throw new Error('maria');
        connection.pool.getConnection((error, session) => (error ? reject(error) : resolve(session)));
      });
    const [plain, traced] = [await sessionOf(untraced.connection('maria')), await sessionOf(db.connection('maria'))];
    try {
      const native = Object.getPrototypeOf(plain) as PoolConnection;
      expect(Object.hasOwn(plain, 'query') || Object.hasOwn(plain, 'execute')).toBe(false);
      expect(plain.query).toBe(native.query);
      expect(plain.execute).toBe(native.execute);
      expect(Object.hasOwn(traced, 'query') && Object.hasOwn(traced, 'execute')).toBe(true);
    } finally {
      plain.release();
      traced.release();
    }
  });

  it('SQLite: no hook on the lent Database’s statements', () => {
    const off = untraced.connection('lite');
    const on = db.connection('lite');
    if (off.driver !== 'sqlite' || on.driver !== 'sqlite') throw new Error('lite');
    const plain = off.pool.prepare('SELECT 1 AS one');
    const traced = on.pool.prepare('SELECT 1 AS one');
    expect(['run', 'get', 'all', 'iterate'].filter((method) => Object.hasOwn(plain, method))).toEqual([]);
    expect(plain.all).toBe((Object.getPrototypeOf(plain) as typeof plain).all);
    expect(['run', 'get', 'all', 'iterate'].filter((method) => Object.hasOwn(traced, method))).toEqual(['run', 'get', 'all', 'iterate']);
  });

  it.each(cases)('$system: Kysely runs as before and nothing is traced', async (c) => {
    const texts: string[] = [];
    const kysely = kyselyOn(untraced.connection(c.name), texts);
    telemetry.reset();
    const { rows } = await sql<{ n: number | string }>`SELECT ${1} + 1 AS n`.execute(kysely);
    expect(Number(rows[0]?.n)).toBe(2);
    await kysely.destroy();
    expect(texts).toHaveLength(1);
    expect(telemetry.spans()).toEqual([]);
  });
});

describe('PostgreSQL with @opentelemetry/instrumentation-pg registered', () => {
  beforeAll(() => pgInstrumentation.enable());
  afterAll(() => pgInstrumentation.disable());

  it('the instrumentation is live: with dbmodule telemetry off, pg itself makes CLIENT spans of a Kysely statement', async () => {
    const kysely = kyselyOn(untraced.connection('pg'), []);
    telemetry.reset();
    await sql`SELECT 1 AS control`.execute(kysely);
    await kysely.destroy();
    expect(telemetry.spans().filter((span) => span.instrumentationScope.name === PG_INSTRUMENTATION_SCOPE && span.kind === SpanKind.CLIENT).map((span) => span.attributes['db.query.text'])).toContain('SELECT 1 AS control');
  });

  it('Kysely and Drizzle statements are one CLIENT span each, dbmodule’s, nothing from pg (checkouts and a new session included)', async () => {
    // a fresh Database: its first checkout also opens a session (pg-pool.connect, pg.connect)
    await using fresh = await createDatabase(
      { connections: { pg: { driver: 'postgres', dsn: PG_URL } } },
      { logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } },
    );
    const name = uniqueName('orm_otel_instrumented');
    const drizzleTable = uniqueName('orm_otel_instrumented_drizzle');
    const texts: string[] = [];
    const kysely = kyselyOn(fresh.connection(), texts);
    telemetry.reset();
    try {
      await tracer().startActiveSpan('job', async (job) => {
        await kysely.schema.createTable(name).addColumn('id', 'integer', (column) => column.primaryKey()).addColumn('name', 'varchar(40)').execute();
        await kysely.insertInto(name).values({ id: 1, name: 'one' }).execute();
        await kysely.transaction().execute(async (trx) => {
          await trx.insertInto(name).values({ id: 2, name: 'two' }).execute();
          await trx.selectFrom(name).selectAll().execute();
        });
        job.end();
      });
      const drizzleTexts: string[] = [];
      await drizzleSteps(fresh.connection(), drizzleTable, drizzleTexts)();
      const statements = [...texts, ...drizzleTexts];
      // Kysely: CREATE, INSERT, BEGIN, INSERT, SELECT, COMMIT; Drizzle: CREATE, INSERT, INSERT, SELECT, UPDATE, DELETE
      expect(statements).toHaveLength(6 + 6);
      const spans = clientSpans();
      expect(spans.map((span) => span.instrumentationScope.name).every((scope) => scope === 'dbmodule')).toBe(true);
      expect(textsOf(spans)).toEqual(statements);
      expect(telemetry.spans().filter((span) => span.instrumentationScope.name === PG_INSTRUMENTATION_SCOPE)).toEqual([]);
    } finally {
      await kysely.destroy();
      await fresh.connection().query(`DROP TABLE IF EXISTS ${name}`);
      await fresh.connection().query(`DROP TABLE IF EXISTS ${drizzleTable}`);
    }
  });

  it('connection.query is still exactly one CLIENT span', async () => {
    telemetry.reset();
    await db.connection('pg').query('SELECT $1::int AS n', [1]);
    expect(telemetry.spans().map((span) => [span.instrumentationScope.name, span.kind, span.name])).toEqual([['dbmodule', SpanKind.CLIENT, 'SELECT']]);
  });
});
