import { DbModuleError } from '../../errors.js';

/** The `pg` module as its ESM entry exports it (Pool, Client, Connection, DatabaseError, ...). */
export type PgModule = typeof import('pg')['default'];

type Importer = () => Promise<{ default: PgModule }>;

let cached: Promise<PgModule> | undefined;

/**
 * Loads `pg` on first use, so applications that never open a PostgreSQL connection
 * never need it installed. `importer` exists for tests; the default import is memoised.
 * @throws DbModuleError `DRIVER_NOT_INSTALLED` with the install command when `pg` is missing.
 */
export function loadPg(importer?: Importer): Promise<PgModule> {
  if (importer) return load(importer);
  cached ??= load(() => import('pg')).catch((error: unknown) => {
    // not memoised on failure: installing pg and retrying works without a restart
    cached = undefined;
    throw error;
  });
  return cached;
}

async function load(importer: Importer): Promise<PgModule> {
  try {
    return (await importer()).default;
  } catch (error) {
    if (!isModuleNotFound(error)) throw error;
    throw new DbModuleError('DRIVER_NOT_INSTALLED', 'the PostgreSQL driver "pg" is not installed; run: npm install pg', {
      possibleCauses: ['"pg" is an optional peer dependency of dbmodule and is not in node_modules'],
      solutions: ['npm install pg'],
      cause: error,
    });
  }
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
