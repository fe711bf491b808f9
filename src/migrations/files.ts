import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, messageOf } from '../errors.js';
import type { Queryable } from '../transaction.js';

/** One direction of a migration: SQL text, or a module's function. */
export type MigrationStep = { readonly kind: 'sql'; readonly file: string; readonly sql: string } | { readonly kind: 'module'; readonly file: string; readonly run: (q: Queryable) => Promise<unknown> };

/** A migration as found on disk. @public */
export interface MigrationFile {
  /** The version's digits as written (`0001`, `20240101120000`); ordered by value. */
  readonly version: bigint;
  readonly name: string;
  readonly up: MigrationStep;
  readonly down?: MigrationStep;
  /** sha256 of the up file, line endings normalised (a checkout with CRLF is the same file). */
  readonly checksum: string;
  /** `-- dbmodule:no-transaction` in the file, or `export const transaction = false`. */
  readonly transactional: boolean;
}

const SQL_FILE = /^(\d+)_(.+)\.(up|down)\.sql$/;
const MODULE_FILE = /^(\d+)_(.+)\.(js|mjs|cjs|ts|mts)$/;
const NO_TRANSACTION = /^\s*--\s*dbmodule:no-transaction\b/m;

/**
 * Reads `directory`: `<version>_<name>.up.sql` / `.down.sql` (golang-migrate's layout) and
 * `<version>_<name>.js|.ts` modules exporting `up(q)` / `down(q)`, in version order. Other files
 * (a README, editor backups) are ignored.
 * @throws ConfigError `CONFIG_INVALID` for a missing directory, two files for one version, a down without an up.
 */
export async function readMigrations(directory: string): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = (await readdir(directory)).sort();
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', `migrations.directory: cannot read ${directory}: ${messageOf(error)}`, { cause: error, solutions: ['Create the directory, or set migrations.directory (relative to the config file)'] });
  }
  const found = new Map<bigint, { name: string; up?: MigrationStep; down?: MigrationStep; text?: string; transactional: boolean; files: string[] }>();
  const entry = (version: bigint, name: string, file: string) => {
    const existing = found.get(version);
    if (existing && existing.name !== name) {
      throw new ConfigError('CONFIG_INVALID', `migrations: version ${version} is used twice (${existing.files[0]} and ${file}); every migration needs its own version`);
    }
    const created = existing ?? { name, transactional: true, files: [] };
    created.files.push(file);
    found.set(version, created);
    return created;
  };
  for (const file of names) {
    const path = join(directory, file);
    const sql = SQL_FILE.exec(file);
    if (sql) {
      const [, digits, name, direction] = sql as unknown as [string, string, string, 'up' | 'down'];
      const migration = entry(BigInt(digits), name, file);
      const text = await readFile(path, 'utf8');
      if (migration[direction]) throw new ConfigError('CONFIG_INVALID', `migrations: two ${direction} files for version ${digits} (${file})`);
      migration[direction] = { kind: 'sql', file, sql: text };
      if (direction === 'up') {
        migration.text = text;
        migration.transactional = !NO_TRANSACTION.test(text);
      }
      continue;
    }
    const module = MODULE_FILE.exec(file);
    if (!module || file.endsWith('.d.ts')) continue;
    const [, digits, name] = module as unknown as [string, string, string];
    const migration = entry(BigInt(digits), name, file);
    if (migration.up) throw new ConfigError('CONFIG_INVALID', `migrations: version ${digits} has both SQL files and a module (${file})`);
    const loaded = await loadModule(path);
    migration.up = { kind: 'module', file, run: loaded.up };
    if (loaded.down) migration.down = { kind: 'module', file, run: loaded.down };
    migration.text = await readFile(path, 'utf8');
    migration.transactional = loaded.transactional;
  }
  const migrations: MigrationFile[] = [];
  for (const [version, migration] of found) {
    if (!migration.up || migration.text === undefined) throw new ConfigError('CONFIG_INVALID', `migrations: version ${version} (${migration.files.join(', ')}) has no up migration`);
    migrations.push({
      version,
      name: migration.name,
      up: migration.up,
      ...(migration.down ? { down: migration.down } : {}),
      checksum: checksumOf(migration.text),
      transactional: migration.transactional,
    });
  }
  return migrations.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

function checksumOf(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');
}

/** A module migration: `up` required, `down` optional, `transaction = false` to run outside one. */
async function loadModule(path: string): Promise<{ up: (q: Queryable) => Promise<unknown>; down?: (q: Queryable) => Promise<unknown>; transactional: boolean }> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError('CONFIG_INVALID', `migrations: cannot load ${path}: ${messageOf(error)}`, {
      cause: error,
      solutions: path.endsWith('ts') ? ['TypeScript migrations need a runtime that loads .ts (tsx, ts-node, vitest); or compile them to .js'] : [],
    });
  }
  const up = loaded.up;
  const down = loaded.down;
  if (typeof up !== 'function') throw new ConfigError('CONFIG_INVALID', `migrations: ${path} exports no up(q) function`);
  if (down !== undefined && typeof down !== 'function') throw new ConfigError('CONFIG_INVALID', `migrations: ${path}: down must be a function`);
  return {
    up: up as (q: Queryable) => Promise<unknown>,
    ...(typeof down === 'function' ? { down: down as (q: Queryable) => Promise<unknown> } : {}),
    transactional: loaded.transaction !== false,
  };
}
