export { mysqlDialect } from './dialect.js';
export { type MysqlErrorContext, toMysqlError } from './errors.js';
export { createMysqlPool } from './pool.js';
export { createMysqlRoutingPool } from './routing-pool.js';
