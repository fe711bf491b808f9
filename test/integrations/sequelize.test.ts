// dbmodule/sequelize: options for PostgreSQL and MySQL connections, run through the shared ORM steps.
// SQLite is left out: Sequelize's sqlite dialect opens sqlite3 handles of its own (see sequelizeOptions).
import { DataTypes, Model, QueryTypes, Sequelize, type ModelStatic } from 'sequelize';
import { describe, expect, it } from 'vitest';
import { createDatabase } from '../../src/index.js';
import { sequelizeOptions } from '../../src/integrations/sequelize.js';
import { describeOrm } from '../support/integrations/orm-suite.js';
import { captureLogger } from '../support/logger.js';

interface Row {
  id: number;
  name: string;
}

describeOrm({
  name: 'sequelize',
  engines: ['postgres', 'mysql'],
  open(connection) {
    const sequelize = new Sequelize({ ...sequelizeOptions(connection), logging: false });
    const sessionSql = connection.driver === 'postgres' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id';
    const models = new Map<string, ModelStatic<Model<Row>>>();
    const rows = (table: string): ModelStatic<Model<Row>> => {
      const model = models.get(table);
      if (!model) throw new Error(`no model for ${table}`);
      return model;
    };
    return {
      async createTable(table) {
        const model = sequelize.define<Model<Row>>(
          table,
          { id: { type: DataTypes.INTEGER, primaryKey: true }, name: { type: DataTypes.STRING(40), allowNull: false } },
          { tableName: table, timestamps: false },
        );
        models.set(table, model);
        await model.sync();
      },
      insert: async (table, id, name) => {
        await rows(table).create({ id, name });
      },
      ids: async (table) => (await rows(table).findAll({ attributes: ['id'], order: [['id', 'ASC']] })).map((row) => Number(row.get('id'))),
      transaction: (table, ids, failure) =>
        sequelize.transaction(async (transaction) => {
          for (const id of ids) await rows(table).create({ id, name: `row ${id}` }, { transaction });
          if (failure) throw failure;
        }),
      sessionId: async () => Number((await sequelize.query<{ id: number | string }>(sessionSql, { type: QueryTypes.SELECT }))[0]?.id),
      destroy: () => sequelize.close(),
    };
  },
});

describe('sequelizeOptions on SQLite', () => {
  it('refuses with CONFIG_INVALID: Sequelize would open sqlite3 handles of its own', async () => {
    const db = await createDatabase({ connections: { app: { driver: 'sqlite', dsn: 'sqlite::memory:' } } }, { logger: captureLogger().logger });
    try {
      expect(() => sequelizeOptions(db.connection())).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', connection: 'app' }));
    } finally {
      await db.close();
    }
  });
});
