export { createPostgresPool } from './pool.js';
export { postgresDialect } from './dialect.js';
export { toPostgresError, type PostgresErrorContext } from './errors.js';
export { loadPg, type PgModule } from './load-driver.js';
export { createPostgresRoutingPool } from './routing-pool.js';
