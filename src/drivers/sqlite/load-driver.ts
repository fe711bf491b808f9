import type BetterSqlite3 from 'better-sqlite3';
import { createDriverLoader } from '../load-driver.js';

/** The better-sqlite3 constructor (`new Database(filename, options)`). */
export type SqliteDatabaseConstructor = typeof BetterSqlite3;

/** Loads better-sqlite3 on first use; `DRIVER_NOT_INSTALLED` with `npm install better-sqlite3` when it is missing. */
export const loadBetterSqlite3: (importer?: () => Promise<SqliteDatabaseConstructor>) => Promise<SqliteDatabaseConstructor> = createDriverLoader('better-sqlite3', 'SQLite', async () => (await import('better-sqlite3')).default);
