// dbmodule/kysely: one dialect for every connection, run through the shared ORM steps.
import { Kysely, sql } from 'kysely';
import { kyselyDialect } from '../../src/integrations/kysely.js';
import { describeOrm } from '../support/integrations/orm-suite.js';

interface Row {
  id: number;
  name: string;
}
type Schema = Record<string, Row>;

describeOrm({
  name: 'kysely',
  engines: ['postgres', 'mysql', 'sqlite'],
  open(connection) {
    const kysely = new Kysely<Schema>({ dialect: kyselyDialect(connection) });
    const sessionSql = connection.driver === 'postgres' ? sql<{ id: number }>`SELECT pg_backend_pid() AS id` : sql<{ id: number }>`SELECT CONNECTION_ID() AS id`;
    return {
      createTable: (table) => kysely.schema.createTable(table).addColumn('id', 'integer', (column) => column.primaryKey()).addColumn('name', 'varchar(40)', (column) => column.notNull()).execute().then(() => undefined),
      insert: (table, id, name) => kysely.insertInto(table).values({ id, name }).execute().then(() => undefined),
      ids: async (table) => (await kysely.selectFrom(table).select('id').orderBy('id').execute()).map((row) => Number(row.id)),
      transaction: (table, ids, failure) =>
        kysely.transaction().execute(async (trx) => {
          for (const id of ids) await trx.insertInto(table).values({ id, name: `row ${id}` }).execute();
          if (failure) throw failure;
        }),
      sessionId: async () => Number((await sessionSql.execute(kysely)).rows[0]?.id),
      destroy: () => kysely.destroy(),
    };
  },
});
