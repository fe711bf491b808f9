// Prisma 7 on connection.pool: PrismaPg takes the pg.Pool as an external pool, so Prisma's
// queries and interactive transactions run on dbmodule's sessions (limits, IAM tokens, login
// retry), and $disconnect() ends Prisma's use, never the pool. The client is generated here, offline.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Connection, type Database } from '../../src/index.js';
import { PG_URL, uniqueName } from '../support/databases.js';
import { describeOrm, type OrmClient } from '../support/integrations/orm-suite.js';
import { captureLogger } from '../support/logger.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Gitignored; one directory per run, so parallel runs never share a generated client. */
const GENERATED = path.join(ROOT, '.prisma-test', uniqueName('client'));
/** The table the generated model maps to, fixed when the client is generated. */
const NOTES = uniqueName('prisma_notes');

// What a test touches of the generated client (its own types are generated, so not here for tsc).
interface Note {
  id: number;
  body: string;
}
interface RawClient {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}
interface GeneratedClient extends RawClient {
  $transaction<R>(run: (tx: RawClient) => Promise<R>): Promise<R>;
  $disconnect(): Promise<void>;
  note: {
    create(args: { data: Note }): Promise<Note>;
    findMany(args?: { orderBy?: { id: 'asc' | 'desc' }; where?: { body?: { startsWith: string } } }): Promise<Note[]>;
  };
}
type PrismaClientClass = new (options: { adapter: PrismaPg }) => GeneratedClient;

const SCHEMA = `
generator client {
  provider = "prisma-client"
  output   = "./client"
}

datasource db {
  provider = "postgresql"
}

model Note {
  id   Int    @id
  body String @db.VarChar(80)

  @@map("${NOTES}")
}
`;

let PrismaClient: PrismaClientClass;

beforeAll(async () => {
  mkdirSync(GENERATED, { recursive: true });
  writeFileSync(path.join(GENERATED, 'schema.prisma'), SCHEMA);
  // generate needs no datasource url; the config keeps Prisma from looking for one elsewhere
  writeFileSync(path.join(GENERATED, 'prisma.config.ts'), `import { defineConfig } from 'prisma/config';\nexport default defineConfig({ schema: 'schema.prisma' });\n`);
  // the schema engine cannot be downloaded here, and generate does not use it
  await promisify(execFile)(path.join(ROOT, 'node_modules/.bin/prisma'), ['generate'], {
    cwd: GENERATED,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
  const generated = (await import(pathToFileURL(path.join(GENERATED, 'client/client.ts')).href)) as { PrismaClient?: unknown };
  if (typeof generated.PrismaClient !== 'function') throw new Error(`no PrismaClient in the client generated in ${GENERATED}`);
  PrismaClient = generated.PrismaClient as PrismaClientClass;
}, 120_000);

afterAll(() => rmSync(GENERATED, { recursive: true, force: true }));

function prismaOn(connection: Connection): GeneratedClient {
  if (connection.driver !== 'postgres') throw new Error(`Prisma's pg adapter takes a PostgreSQL connection, not ${connection.driver}`);
  // narrowing on driver types the pool as pg.Pool: no cast
  return new PrismaClient({ adapter: new PrismaPg(connection.pool) });
}

describeOrm({
  name: 'prisma',
  engines: ['postgres'],
  open(connection): OrmClient {
    const prisma = prismaOn(connection);
    const insert = (client: RawClient, table: string, id: number, name: string) => client.$executeRawUnsafe(`INSERT INTO ${table} (id, name) VALUES ($1, $2)`, id, name);
    return {
      createTable: async (table) => void (await prisma.$executeRawUnsafe(`CREATE TABLE ${table} (id integer PRIMARY KEY, name varchar(40) NOT NULL)`)),
      insert: async (table, id, name) => void (await insert(prisma, table, id, name)),
      ids: async (table) => (await prisma.$queryRawUnsafe<Array<{ id: number }>>(`SELECT id FROM ${table} ORDER BY id`)).map((row) => Number(row.id)),
      transaction: (table, ids, failure) =>
        prisma.$transaction(async (tx) => {
          for (const id of ids) await insert(tx, table, id, `row ${id}`);
          if (failure) throw failure;
        }),
      sessionId: async () => Number((await prisma.$queryRawUnsafe<Array<{ id: number }>>('SELECT pg_backend_pid() AS id'))[0]?.id),
      destroy: () => prisma.$disconnect(),
    };
  },
});

describe('prisma: the generated model API on connection.pool', () => {
  let db: Database | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  it('create and findMany on the mapped table run on the pool PrismaPg was given; $disconnect() leaves it serving', async () => {
    db = await createDatabase({ connections: { app: { driver: 'postgres', dsn: PG_URL, max_open_connections: 2 } } }, { logger: captureLogger().logger });
    const connection = db.connection();
    if (connection.driver !== 'postgres') throw new Error('a PostgreSQL connection was configured');
    // PrismaPg uses a pool as its own only when it is an instance of the pg.Pool it imports
    expect(connection.pool).toBeInstanceOf(pg.Pool);
    await connection.query(`CREATE TABLE ${NOTES} (id integer PRIMARY KEY, body varchar(80) NOT NULL)`);
    const listeners = connection.pool.listenerCount('error');
    const prisma = prismaOn(connection);
    try {
      await expect(prisma.note.create({ data: { id: 2, body: 'second, through Prisma' } })).resolves.toEqual({ id: 2, body: 'second, through Prisma' });
      // the adapter listens for idle-session errors on the pool it was given: dbmodule's
      expect(connection.pool.listenerCount('error')).toBe(listeners + 1);
      await connection.query(`INSERT INTO ${NOTES} (id, body) VALUES (1, 'first, through dbmodule')`);
      await prisma.note.create({ data: { id: 3, body: 'third, through Prisma' } });
      expect(await prisma.note.findMany({ orderBy: { id: 'asc' } })).toEqual([
        { id: 1, body: 'first, through dbmodule' },
        { id: 2, body: 'second, through Prisma' },
        { id: 3, body: 'third, through Prisma' },
      ]);
      expect(await prisma.note.findMany({ where: { body: { startsWith: 'third' } } })).toEqual([{ id: 3, body: 'third, through Prisma' }]);
      // several model reads at once share dbmodule's two sessions
      const reads = await Promise.all(Array.from({ length: 6 }, () => prisma.note.findMany({ orderBy: { id: 'desc' } })));
      expect(reads.map((notes) => notes.map((note) => note.id))).toEqual(reads.map(() => [3, 2, 1]));
      expect(connection.stats().total).toBeLessThanOrEqual(2);
      expect(connection.stats().total).toBeGreaterThanOrEqual(1);
    } finally {
      await prisma.$disconnect();
    }
    expect(connection.pool.listenerCount('error')).toBe(listeners);
    expect(connection.pool.ended).toBe(false);
    const { rows } = await connection.query<{ id: number; body: string }>(`SELECT id, body FROM ${NOTES} ORDER BY id`);
    expect(rows.map((row) => row.id)).toEqual([1, 2, 3]);
    await connection.query(`DROP TABLE ${NOTES}`);
  });
});
