// Drizzle takes connection.pool as it is (DESIGN §13), typed by the connection's driver.
import { asc, sql } from 'drizzle-orm';
import { drizzle as betterSqlite } from 'drizzle-orm/better-sqlite3';
import { int, mysqlTable, varchar as mysqlVarchar } from 'drizzle-orm/mysql-core';
import { drizzle as mysql2 } from 'drizzle-orm/mysql2';
import { drizzle as nodePostgres } from 'drizzle-orm/node-postgres';
import { integer, pgTable, varchar } from 'drizzle-orm/pg-core';
import { integer as sqliteInteger, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { Connection } from '../../src/index.js';
import { describeOrm, type OrmClient } from '../support/integrations/orm-suite.js';

const CREATE = (table: string) => sql.raw(`CREATE TABLE ${table} (id integer PRIMARY KEY, name varchar(40) NOT NULL)`);

function postgresClient(pool: Extract<Connection, { driver: 'postgres' }>['pool']): OrmClient {
  const db = nodePostgres(pool);
  const rows = (name: string) => pgTable(name, { id: integer('id').primaryKey(), name: varchar('name', { length: 40 }).notNull() });
  return {
    createTable: async (table) => void (await db.execute(CREATE(table))),
    insert: async (table, id, name) => void (await db.insert(rows(table)).values({ id, name })),
    ids: async (table) => (await db.select({ id: rows(table).id }).from(rows(table)).orderBy(asc(rows(table).id))).map((row) => row.id),
    transaction: (table, ids, failure) =>
      db.transaction(async (tx) => {
        for (const id of ids) await tx.insert(rows(table)).values({ id, name: `row ${id}` });
        if (failure) throw failure;
      }),
    sessionId: async () => Number((await db.execute<{ id: number }>(sql`SELECT pg_backend_pid() AS id`)).rows[0]?.id),
    destroy: () => db.$client.end(),
  };
}

function mysqlClient(pool: Extract<Connection, { driver: 'mysql' }>['pool']): OrmClient {
  const db = mysql2(pool);
  const rows = (name: string) => mysqlTable(name, { id: int('id').primaryKey(), name: mysqlVarchar('name', { length: 40 }).notNull() });
  return {
    createTable: async (table) => void (await db.execute(CREATE(table))),
    insert: async (table, id, name) => void (await db.insert(rows(table)).values({ id, name })),
    ids: async (table) => (await db.select({ id: rows(table).id }).from(rows(table)).orderBy(asc(rows(table).id))).map((row) => row.id),
    transaction: (table, ids, failure) =>
      db.transaction(async (tx) => {
        for (const id of ids) await tx.insert(rows(table)).values({ id, name: `row ${id}` });
        if (failure) throw failure;
      }),
    sessionId: async () => {
      const [result] = await db.execute(sql`SELECT CONNECTION_ID() AS id`);
      return Number((result as unknown as Array<{ id: number }>)[0]?.id);
    },
    destroy: () => new Promise<void>((resolve, reject) => pool.end((error) => (error ? reject(error) : resolve()))),
  };
}

function sqliteClient(database: Extract<Connection, { driver: 'sqlite' }>['pool']): OrmClient {
  const db = betterSqlite(database);
  const rows = (name: string) => sqliteTable(name, { id: sqliteInteger('id').primaryKey(), name: text('name').notNull() });
  return {
    createTable: async (table) => void db.run(CREATE(table)),
    insert: async (table, id, name) => void db.insert(rows(table)).values({ id, name }).run(),
    ids: async (table) => db.select({ id: rows(table).id }).from(rows(table)).orderBy(asc(rows(table).id)).all().map((row) => row.id),
    // better-sqlite3 transactions are synchronous: Drizzle runs the callback inside one
    transaction: async (table, ids, failure) =>
      db.transaction((tx) => {
        for (const id of ids) tx.insert(rows(table)).values({ id, name: `row ${id}` }).run();
        if (failure) throw failure;
      }),
    sessionId: async () => 0,
    destroy: async () => void database.close(),
  };
}

describeOrm({
  name: 'drizzle',
  engines: ['postgres', 'mysql', 'sqlite'],
  open(connection) {
    // narrowing on driver types the pool: no cast
    if (connection.driver === 'postgres') return postgresClient(connection.pool);
    if (connection.driver === 'mysql') return mysqlClient(connection.pool);
    return sqliteClient(connection.pool);
  },
});
