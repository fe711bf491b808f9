import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, loadConfig, type Database, type DatabaseEvents, type Queryable } from '../src/index.js';
import { MYSQL_URL, PG_URL, uniqueName } from './support/databases.js';
import { captureLogger } from './support/logger.js';
import { pgSessionCount as sessions, waitFor } from './support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'dbmodule-db-'));
const sqlitePath = join(dir, 'app.sqlite');
const appName = uniqueName('dbm_app');
const pgDsn = `${PG_URL}&application_name=${appName}`;

const yaml = `database:
  default: writer
  connections:
    writer:
      driver: postgres
      dsn: "${pgDsn}"
      max_open_connections: 5
      max_idle_connections: 2
      connection_max_lifetime: 1h
      connection_max_idle_time: 30m
      connection_timeout: 10s
    reports:
      driver: mariadb
      dsn: "${MYSQL_URL}"
      max_open_connections: 4
    local:
      driver: sqlite3
      dsn: "sqlite:${sqlitePath}"
`;

const envForm = {
  DEFAULT_DB_CONNECTION: 'writer',
  DB_WRITER_DRIVER: 'postgres',
  DB_WRITER_DSN: pgDsn,
  DB_WRITER_MAX_OPEN_CONNECTIONS: '5',
  DB_WRITER_MAX_IDLE_CONNECTIONS: '2',
  DB_WRITER_CONNECTION_MAX_LIFETIME: '1h',
  DB_WRITER_CONNECTION_MAX_IDLE_TIME: '30m',
  DB_WRITER_CONNECTION_TIMEOUT: '10s',
  DB_REPORTS_DRIVER: 'mariadb',
  DB_REPORTS_DSN: MYSQL_URL,
  DB_REPORTS_MAX_OPEN_CONNECTIONS: '4',
  DB_LOCAL_DRIVER: 'sqlite3',
  DB_LOCAL_DSN: `sqlite:${sqlitePath}`,
};

const placeholder = { writer: '$1', reports: '?', local: '?' } as const;

/** The same scenario on each connection: DDL, parameterised insert, select, transactions. */
async function exercise(db: Database, name: keyof typeof placeholder, table: string): Promise<void> {
  const p = placeholder[name];
  const p2 = p === '$1' ? '$2' : '?';
  const connection = db.connection(name);
  await connection.query(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, label VARCHAR(50))`);
  try {
    const inserted = await connection.query(`INSERT INTO ${table} (id, label) VALUES (${p}, ${p2})`, [1, 'one']);
    expect(inserted.rowCount).toBe(1);

    await connection.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id, label) VALUES (${p}, ${p2})`, [2, 'two']);
    });
    await expect(
      connection.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id, label) VALUES (${p}, ${p2})`, [3, 'three']);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    // Nested: the inner failure rolls back to its savepoint; the outer transaction commits.
    await connection.transaction(async (tx: Queryable) => {
      await tx.query(`INSERT INTO ${table} (id, label) VALUES (${p}, ${p2})`, [4, 'four']);
      await expect(
        tx.transaction(async (inner) => {
          await inner.query(`INSERT INTO ${table} (id, label) VALUES (${p}, ${p2})`, [5, 'five']);
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
      await tx.transaction(async (inner) => {
        await inner.query(`INSERT INTO ${table} (id, label) VALUES (${p}, ${p2})`, [6, 'six']);
      });
    });

    const { rows, rowCount } = await connection.query<{ id: number; label: string }>(`SELECT id, label FROM ${table} WHERE id >= ${p} ORDER BY id`, [0]);
    expect(rowCount).toBe(4);
    expect(rows.map((row) => [Number(row.id), row.label])).toEqual([
      [1, 'one'],
      [2, 'two'],
      [4, 'four'],
      [6, 'six'],
    ]);
  } finally {
    await connection.query(`DROP TABLE ${table}`);
  }
}

describe('one postgres, one mysql and one sqlite connection through the public API', () => {
  let fromFile: Database;
  let fromEnv: Database;
  const events: Array<{ name: keyof DatabaseEvents; payload: unknown }> = [];

  beforeAll(async () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, yaml);
    fromFile = await createDatabase(await loadConfig({ file, env: {} }), { logger: captureLogger().logger });
    fromEnv = await createDatabase(await loadConfig({ env: envForm }), { logger: captureLogger().logger });
    for (const name of ['query.executed', 'query.error', 'transaction.started', 'transaction.committed', 'transaction.rolled_back'] as const) {
      fromFile.on(name, (payload) => events.push({ name, payload }));
    }
  });

  afterAll(async () => {
    await fromFile?.close();
    await fromEnv?.close();
  });

  it('exposes the names, the default and the drivers', () => {
    expect(fromFile.names.sort()).toEqual(['local', 'reports', 'writer']);
    expect(fromFile.defaultName).toBe('writer');
    expect(fromFile.connection().name).toBe('writer');
    expect(fromFile.connection('reports').driver).toBe('mysql');
    expect(fromFile.connection('local').driver).toBe('sqlite');
    expect(fromFile.connection('writer').pool).toBeInstanceOf(pg.Pool);
  });

  it('resolves the same configuration from the file and from DB_* variables', () => {
    const strip = (db: Database) => JSON.parse(JSON.stringify({ default: db.config.default, connections: db.config.connections }));
    expect(strip(fromEnv)).toEqual(strip(fromFile));
  });

  for (const name of ['writer', 'reports', 'local'] as const) {
    it(`runs queries and transactions on ${name} (file config)`, async () => {
      await exercise(fromFile, name, uniqueName(`t_file_${name}`));
    });
    it(`runs queries and transactions on ${name} (env config)`, async () => {
      await exercise(fromEnv, name, uniqueName(`t_env_${name}`));
    });
  }

  it('emits query and transaction events with the connection name and SQL, never parameters', async () => {
    events.length = 0;
    const secretParam = 'param-value-that-must-not-appear';
    await fromFile.connection('writer').query('SELECT $1::text AS v', [secretParam]);
    await fromFile.connection('local').transaction(async (tx) => {
      await tx.query('SELECT 1');
    });
    const executed = events.filter((event) => event.name === 'query.executed');
    expect(executed[0]?.payload).toMatchObject({ connection: 'writer', sql: 'SELECT $1::text AS v', rowCount: 1 });
    expect(events.map((event) => event.name)).toContain('transaction.committed');
    expect(JSON.stringify(events)).not.toContain(secretParam);
  });

  it('does not emit transaction.committed when the commit did not happen', async () => {
    events.length = 0;
    const table = uniqueName('t_poison');
    const connection = fromFile.connection('writer');
    await connection.query(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY)`);
    try {
      // The callback swallows a failed statement: PostgreSQL would turn COMMIT into ROLLBACK silently.
      const outcome = connection.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} VALUES (1)`);
        await tx.query(`INSERT INTO ${table} VALUES (1)`).catch(() => undefined);
      });
      await expect(outcome).rejects.toMatchObject({ code: 'TRANSACTION_FAILED' });
      expect(events.map((event) => event.name)).not.toContain('transaction.committed');
      expect(events.map((event) => event.name)).toContain('transaction.rolled_back');
      expect((await connection.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]).toEqual({ n: 0 });
    } finally {
      await connection.query(`DROP TABLE ${table}`);
    }
  });

  it('reports health per connection', async () => {
    const report = await fromFile.health();
    expect(report.ok).toBe(true);
    expect(Object.keys(report.connections).sort()).toEqual(['local', 'reports', 'writer']);
    const server = new URL(PG_URL);
    const target = `postgres://${server.username}@${server.hostname}:${server.port || 5432}${server.pathname}`;
    expect(report.connections.writer).toMatchObject({ ok: true, driver: 'postgres', target, pool: { maxOpen: 5, maxIdle: 2 } });
    expect(report.connections.reports?.pool.maxOpen).toBe(4);
  });

  it('rejects an unknown connection name with the known names', () => {
    let error: unknown;
    try {
      fromFile.connection('nope');
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'CONNECTION_NOT_FOUND', connection: 'nope' });
    for (const known of ['writer', 'reports', 'local']) expect((error as Error).message).toContain(known);
  });
});

describe('lifecycle', () => {
  it('refuses queries after close(), and close() is idempotent', async () => {
    const db = await createDatabase({ connections: { main: { driver: 'sqlite', dsn: ':memory:' } } }, { logger: captureLogger().logger });
    await db.connection().query('SELECT 1');
    const first = db.close();
    expect(db.close()).toBe(first);
    await first;
    await expect(db.connection().query('SELECT 1')).rejects.toMatchObject({ code: 'DATABASE_CLOSED', connection: 'main' });
  });

  it('close() lets in-flight queries finish, then closes every session', async () => {
    const name = uniqueName('dbm_drain');
    const db = await createDatabase({ connections: { main: { driver: 'postgres', dsn: `${PG_URL}&application_name=${name}` } } }, { logger: captureLogger().logger });
    const slow = db.connection().query('SELECT pg_sleep(0.3) AS slept');
    await waitFor(async () => (await sessions(name)) >= 1);
    const closing = db.close();
    await expect(db.connection().query('SELECT 1')).rejects.toMatchObject({ code: 'DATABASE_CLOSED' });
    await expect(slow).resolves.toMatchObject({ rowCount: 1 });
    await closing;
    await waitFor(async () => (await sessions(name)) === 0);
  });

  it('a failed createDatabase names the connection and leaves no pool open', async () => {
    const name = uniqueName('dbm_fail');
    const { logger, lines } = captureLogger();
    const attempt = createDatabase(
      {
        default: 'good',
        connections: {
          good: { driver: 'postgres', dsn: `${PG_URL}&application_name=${name}` },
          bad: { driver: 'mysql', dsn: 'mysql://root:not-a-real-secret@127.0.0.1:1/db', connection_timeout: '2s' },
        },
      },
      { logger },
    );
    await expect(attempt).rejects.toMatchObject({ code: 'CONNECT_FAILED', connection: 'bad' });
    await waitFor(async () => (await sessions(name)) === 0);
    expect(lines.join('\n')).not.toContain('not-a-real-secret');
  });
});

describe('connection.error', () => {
  it('is emitted (and kept for health) when a query cannot get a session', async () => {
    const db = await createDatabase({ connections: { main: { driver: 'sqlite', dsn: ':memory:', connection_timeout: '200ms' } } }, { logger: captureLogger().logger });
    const seen: Array<DatabaseEvents['connection.error']> = [];
    db.on('connection.error', (event) => seen.push(event));
    try {
      // The single in-memory handle is held by a transaction, so the query waits for it and times out.
      await db.connection().transaction(async () => {
        await expect(db.connection().query('SELECT 1')).rejects.toMatchObject({ code: 'POOL_TIMEOUT', retryable: true });
      });
      expect(seen).toEqual([expect.objectContaining({ connection: 'main', driver: 'sqlite', code: 'POOL_TIMEOUT', operation: 'acquire' })]);
      expect((await db.health()).connections.main?.lastError?.code).toBe('POOL_TIMEOUT');
    } finally {
      await db.close();
    }
  });
});
