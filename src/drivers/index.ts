import type { DriverName } from '../driver-name.js';
import type { Dialect, DriverPoolFactory } from './types.js';

interface DriverModule {
  createPool: DriverPoolFactory;
  dialect: Dialect;
}

/** Each driver folder is loaded only when a connection uses it. */
const loaders: Record<DriverName, () => Promise<DriverModule>> = {
  postgres: async () => {
    const m = await import('./postgres/index.js');
    return { createPool: m.createPostgresPool, dialect: m.postgresDialect };
  },
  mysql: async () => {
    const m = await import('./mysql/index.js');
    return { createPool: m.createMysqlPool, dialect: m.mysqlDialect };
  },
  sqlite: async () => {
    const m = await import('./sqlite/index.js');
    return { createPool: m.createSqlitePool, dialect: m.sqliteDialect };
  },
};

export function loadDriver(driver: DriverName): Promise<DriverModule> {
  return loaders[driver]();
}
