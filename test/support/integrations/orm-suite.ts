// The steps every ORM integration is proven with, on each engine it supports, plain and through
// IAM in the emulator: create, insert, concurrent queries within the pool's limit, a committed
// and a rolled-back transaction, ending the ORM (never the pool), a token rotation past
// 15 minutes and a revoked-then-rotated key.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, type Connection, type Database } from '../../../src/index.js';
import type { Emulator } from '../../../src/emulator/index.js';
import { MYSQL_URL, PG_URL, uniqueName } from '../databases.js';
import type { FakeClock } from '../fake-clock.js';
import { captureLogger } from '../logger.js';
import { clockFromNow, credentialsSource, type CredentialsSource } from '../iam-e2e/credentials.js';
import { iamConnection, startRdsEmulator } from '../iam-e2e/rds.js';

export type Engine = 'postgres' | 'mysql' | 'sqlite';

/** An ORM opened on a dbmodule connection, doing each step its own way (query builder, repository, raw). */
export interface OrmClient {
  /** Creates `table` (id integer primary key, name varchar(40) not null). */
  createTable(table: string): Promise<void>;
  insert(table: string, id: number, name: string): Promise<void>;
  /** The ids in `table`, ascending. */
  ids(table: string): Promise<number[]>;
  /** Inserts `ids` in one ORM transaction; throws `failure` from inside it, after the inserts, when given. */
  transaction(table: string, ids: number[], failure?: Error): Promise<void>;
  /** The server session a statement runs on now: PostgreSQL's backend pid, MySQL's connection id. */
  sessionId(): Promise<number>;
  /** The ORM's own end: `kysely.destroy()`, `knex.destroy()`, `dataSource.destroy()`, ... */
  destroy(): Promise<void>;
}

export interface OrmUnderTest {
  readonly name: string;
  readonly engines: readonly Engine[];
  open(connection: Connection): OrmClient | Promise<OrmClient>;
}

const MINUTE = 60_000;
const MAX_OPEN = 3;

/** Registers the suite for `orm`: one describe per engine, plain, and one per server engine through IAM. */
export function describeOrm(orm: OrmUnderTest): void {
  let db: Database | undefined;
  let emulator: Emulator | undefined;
  let directory: string | undefined;
  afterEach(async () => {
    await db?.close();
    await emulator?.close();
    if (directory) rmSync(directory, { recursive: true, force: true });
    db = emulator = directory = undefined;
  });

  const plainDsn = (engine: Engine): string => {
    if (engine === 'postgres') return PG_URL;
    if (engine === 'mysql') return MYSQL_URL;
    directory = mkdtempSync(path.join(tmpdir(), 'dbmodule-orm-'));
    return `sqlite:${path.join(directory, 'app.db')}`;
  };

  for (const engine of orm.engines) {
    describe(`${orm.name} on ${engine}`, () => {
      it('creates, inserts, runs concurrent queries within the pool limit, commits and rolls back; destroy() leaves the pool to db.close()', async () => {
        db = await createDatabase({ connections: { app: { driver: engine, dsn: plainDsn(engine), max_open_connections: MAX_OPEN } } }, { logger: captureLogger().logger });
        await everyStep(orm, db.connection(), engine);
      });

      it('connection.pool and the ORM share one database: rows written through either are read through the other', async () => {
        db = await createDatabase({ connections: { app: { driver: engine, dsn: engine === 'sqlite' ? 'sqlite::memory:' : plainDsn(engine) } } }, { logger: captureLogger().logger });
        const connection = db.connection();
        const client = await orm.open(connection);
        const table = uniqueName(`orm_${orm.name}`);
        try {
          await client.createTable(table);
          await connection.query(`INSERT INTO ${table} (id, name) VALUES (7, 'from dbmodule')`);
          await client.insert(table, 8, 'from the orm');
          expect(await client.ids(table)).toEqual([7, 8]);
          expect((await connection.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((row) => Number(row.id))).toEqual([7, 8]);
        } finally {
          await client.destroy();
          await connection.query(`DROP TABLE ${table}`);
        }
      });
    });
  }

  for (const engine of orm.engines.filter((e): e is 'postgres' | 'mysql' => e !== 'sqlite')) {
    describe(`${orm.name} on ${engine} through IAM (emulator)`, () => {
      /** One clock for the pool, the token cache and the emulator, so tokens really expire at RDS. */
      async function openIam(clock: FakeClock): Promise<{ connection: Connection; rds: Emulator; source: CredentialsSource }> {
        const rds = (emulator = await startRdsEmulator({ clock }));
        const source = credentialsSource(rds, clock);
        // sessions live 4 minutes: after a step of 5 the next statement needs a new physical session
        const settings = iamConnection(rds, engine, { pool: { max_open_connections: MAX_OPEN, connection_max_lifetime: '4m' } });
        db = await createDatabase({ connections: { app: settings } }, { clock, credentials: source.provider, logger: captureLogger().logger });
        return { connection: db.connection(), rds, source };
      }

      it('creates, inserts, runs concurrent queries, commits and rolls back with IAM tokens', async () => {
        const { connection, rds } = await openIam(clockFromNow());
        await everyStep(orm, connection, engine);
        expect(rds.authLog.entries().filter((attempt) => attempt.decision === 'allow').length).toBeGreaterThanOrEqual(1);
        expect(rds.authLog.entries().filter((attempt) => attempt.decision !== 'allow')).toEqual([]);
      });

      it('past 15 minutes, the sessions the ORM gets next log in with a fresh token', async () => {
        const clock = clockFromNow();
        const { connection, rds } = await openIam(clock);
        const client = await orm.open(connection);
        const table = uniqueName(`orm_${orm.name}`);
        try {
          await client.createTable(table);
          await client.insert(table, 1, 'before');
          const before = await client.sessionId();
          expect(connection.tokenState()?.signCount).toBe(1);
          clock.advance(16 * MINUTE);
          const logged = rds.authLog.entries().length;
          await client.insert(table, 2, 'after');
          expect(await client.ids(table)).toEqual([1, 2]);
          expect(await client.sessionId()).not.toBe(before);
          expect(connection.tokenState()).toMatchObject({ status: 'valid', signCount: 2 });
          const attempts = rds.authLog.entries().slice(logged);
          expect(attempts.length).toBeGreaterThanOrEqual(1);
          expect(attempts.map((attempt) => attempt.decision)).toEqual(attempts.map(() => 'allow'));
        } finally {
          await client.destroy();
          await connection.query(`DROP TABLE ${table}`);
        }
      });

      it('a revoked key followed by new credentials: the next session the ORM gets recovers, without a restart', async () => {
        const clock = clockFromNow();
        const { connection, rds, source } = await openIam(clock);
        const client = await orm.open(connection);
        const table = uniqueName(`orm_${orm.name}`);
        try {
          await client.createTable(table);
          await client.insert(table, 1, 'before');
          const oldKey = source.current.accessKeyId;
          rds.revoke(oldKey);
          const newKey = source.rotate().accessKeyId;
          clock.advance(5 * MINUTE);
          const logged = rds.authLog.entries().length;
          await client.insert(table, 2, 'after');
          expect(await client.ids(table)).toEqual([1, 2]);
          const attempts = rds.authLog.entries().slice(logged).map((attempt) => [attempt.decision, attempt.reason, attempt.accessKeyId]);
          expect(attempts[0]).toEqual(['deny', 'KEY_REVOKED', oldKey]);
          expect(attempts.slice(1)).toEqual(attempts.slice(1).map(() => ['allow', 'OK', newKey]));
          expect(attempts.length).toBeGreaterThanOrEqual(2);
        } finally {
          await client.destroy();
          await connection.query(`DROP TABLE ${table}`);
        }
      });
    });
  }
}

/** The ordinary life of an ORM on the connection, checked against what the server holds. */
async function everyStep(orm: OrmUnderTest, connection: Connection, engine: Engine): Promise<void> {
  const client = await orm.open(connection);
  const table = uniqueName(`orm_${orm.name}`);
  try {
    await client.createTable(table);
    await client.insert(table, 1, 'one');
    expect(await client.ids(table)).toEqual([1]);

    // more callers than sessions: they queue for dbmodule's sessions, never more than max_open
    const reads = await Promise.all(Array.from({ length: 4 * MAX_OPEN }, () => client.ids(table)));
    expect(reads).toEqual(reads.map(() => [1]));
    if (engine !== 'sqlite') {
      const sessions = new Set(await Promise.all(Array.from({ length: 4 * MAX_OPEN }, () => client.sessionId())));
      expect(sessions.size).toBeGreaterThanOrEqual(1);
      expect(sessions.size).toBeLessThanOrEqual(MAX_OPEN);
      expect(connection.stats().total).toBeLessThanOrEqual(MAX_OPEN);
    }

    await client.transaction(table, [2, 3]);
    const failure = new Error('rolled back on purpose');
    await expect(client.transaction(table, [4, 5], failure)).rejects.toBe(failure);
    expect(await client.ids(table)).toEqual([1, 2, 3]);
  } finally {
    await client.destroy();
  }
  // the ORM is gone; the pool serves on and still sees its rows
  const { rows } = await connection.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`);
  expect(Number(rows[0]?.n)).toBe(3);
  await connection.query(`DROP TABLE ${table}`);
}
