export { createSqlitePool } from './pool.js';
export { toSqliteError, sqliteCodeOf, type SqliteErrorContext } from './errors.js';
export { sqliteDialect } from './dialect.js';
export { SqliteHandlePool, type SqliteHandlePoolSettings, type PendingHandle } from './handle-pool.js';
export { loadBetterSqlite3, type SqliteDatabaseConstructor } from './load-driver.js';
