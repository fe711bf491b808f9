export { createSqlitePool } from './pool.js';
export { toSqliteError, sqliteCodeOf, type SqliteErrorContext } from './errors.js';
export { sqliteDialect } from './dialect.js';
export { SqliteSessionPool, type SqliteSessionPoolSettings, type PendingHandle } from './session-pool.js';
export { loadBetterSqlite3, type SqliteDatabaseConstructor } from './load-driver.js';
