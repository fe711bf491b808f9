// dbmodule/typeorm: data-source options for every connection, run through the shared ORM steps.
import { DataSource, EntitySchema, Table, type Repository } from 'typeorm';
import { typeormOptions } from '../../src/integrations/typeorm.js';
import { describeOrm } from '../support/integrations/orm-suite.js';

interface Row {
  id: number;
  name: string;
}

/** The entity of one table: an app lists its entities up front; the harness names the table in createTable. */
function rowEntity(table: string): EntitySchema<Row> {
  return new EntitySchema<Row>({
    name: table,
    tableName: table,
    columns: { id: { type: Number, primary: true }, name: { type: String, length: 40, nullable: false } },
  });
}

describeOrm({
  name: 'typeorm',
  engines: ['postgres', 'mysql', 'sqlite'],
  open(connection) {
    const sessionSql = connection.driver === 'postgres' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id';
    let dataSource: DataSource | undefined;
    let entity: EntitySchema<Row> | undefined;
    const opened = (): DataSource => {
      if (!dataSource) throw new Error('createTable() opens the data source');
      return dataSource;
    };
    const rows = (table: string): Repository<Row> => {
      if (entity?.options.tableName !== table) throw new Error(`no entity for ${table}`);
      return opened().getRepository(entity);
    };
    return {
      async createTable(table) {
        entity = rowEntity(table);
        dataSource = await new DataSource({ ...typeormOptions(connection), entities: [entity] }).initialize();
        const runner = dataSource.createQueryRunner();
        try {
          await runner.createTable(
            new Table({
              name: table,
              columns: [
                { name: 'id', type: 'integer', isPrimary: true },
                { name: 'name', type: 'varchar', length: '40', isNullable: false },
              ],
            }),
          );
        } finally {
          await runner.release();
        }
      },
      insert: async (table, id, name) => {
        await rows(table).save({ id, name });
      },
      ids: async (table) => (await rows(table).find({ select: { id: true }, order: { id: 'ASC' } })).map((row) => Number(row.id)),
      transaction: (table, ids, failure) =>
        opened().transaction(async (manager) => {
          const repository = manager.getRepository(rows(table).target);
          for (const id of ids) await repository.save({ id, name: `row ${id}` });
          if (failure) throw failure;
        }),
      sessionId: async () => Number(((await opened().query(sessionSql)) as Array<{ id: number | string }>)[0]?.id),
      destroy: async () => {
        if (dataSource?.isInitialized) await dataSource.destroy();
      },
    };
  },
});
