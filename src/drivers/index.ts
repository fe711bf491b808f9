import type { DriverName } from '../driver-name.js';
import type { Dialect, DriverPoolFactory } from './types.js';

interface DriverModule {
  createPool: DriverPoolFactory;
  dialect: Dialect;
  /** A native-pool-shaped object whose checkouts go to the native pool `choose` returns then (reader routing for ORMs). */
  routingPool(choose: () => unknown): unknown;
}

/** Each driver folder is loaded only when a connection uses it. */
const loaders: Record<DriverName, () => Promise<DriverModule>> = {
  postgres: async () => {
    const m = await import('./postgres/index.js');
    return { createPool: m.createPostgresPool, dialect: m.postgresDialect, routingPool: (choose) => m.createPostgresRoutingPool(choose as never) };
  },
  mysql: async () => {
    const m = await import('./mysql/index.js');
    return { createPool: m.createMysqlPool, dialect: m.mysqlDialect, routingPool: (choose) => m.createMysqlRoutingPool(choose as never) };
  },
  sqlite: async () => {
    const m = await import('./sqlite/index.js');
    return { createPool: m.createSqlitePool, dialect: m.sqliteDialect, routingPool: (choose) => choose() };
  },
};

export function loadDriver(driver: DriverName): Promise<DriverModule> {
  return loaders[driver]();
}
