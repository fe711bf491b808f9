import type BetterSqlite3 from 'better-sqlite3';
import { DbModuleError } from '../../errors.js';

/** The better-sqlite3 constructor (`new Database(filename, options)`). */
export type SqliteDatabaseConstructor = typeof BetterSqlite3;

type Importer = () => Promise<{ default: SqliteDatabaseConstructor }>;

const importBetterSqlite3: Importer = () => import('better-sqlite3');

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * Loads better-sqlite3 on first use, so applications without SQLite never pay for it.
 * `importer` exists for tests that need a module which is really absent.
 * @throws DbModuleError `DRIVER_NOT_INSTALLED` naming the install command.
 */
export async function loadBetterSqlite3(importer: Importer = importBetterSqlite3): Promise<SqliteDatabaseConstructor> {
  try {
    return (await importer()).default;
  } catch (error) {
    if (!isModuleNotFound(error)) throw error;
    throw new DbModuleError('DRIVER_NOT_INSTALLED', 'the SQLite driver better-sqlite3 is not installed: run `npm install better-sqlite3`', {
      possibleCauses: ['better-sqlite3 is an optional peer dependency of dbmodule and is not in node_modules'],
      solutions: ['npm install better-sqlite3'],
      cause: error,
    });
  }
}
