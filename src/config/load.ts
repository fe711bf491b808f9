import { resolve } from 'node:path';
import type { DatabaseConfig } from './types.js';
import { embeddedDefault } from './defaults.js';
import { envDefinesConnection, type Env } from './env.js';
import { readConfigFile } from './file.js';
import { validateConfig } from './validate.js';

/** Options of {@link loadConfig}. @public */
export interface LoadConfigOptions {
  /** YAML or JSON file, relative to `cwd`. Default: `DBMODULE_CONFIG` from `env`, else none. */
  readonly file?: string;
  /** Environment read for `DB_*` overrides. Default: `process.env`. Empty values count as unset. */
  readonly env?: Env;
  /** Directory relative paths are resolved against. Default: `process.cwd()`. */
  readonly cwd?: string;
}

/**
 * Loads the database configuration: the file (either a top-level `database:` key or the
 * section itself), `DB_<NAME>_<KEY>` environment variables laid over it, validated and
 * frozen. With no file and no `DB_<NAME>_DSN` it is the embedded default: one SQLite
 * connection `default` at `<cwd>/.dbmodule/default.sqlite`.
 * @throws ConfigError `CONFIG_INVALID` listing every problem.
 * @public
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<DatabaseConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const named = env.DBMODULE_CONFIG === '' ? undefined : env.DBMODULE_CONFIG;
  const file = options.file ?? named;
  if (file !== undefined) {
    const path = resolve(cwd, file);
    const { raw, warnings } = await readConfigFile(path, options.file === undefined ? 'DBMODULE_CONFIG' : undefined);
    return validateConfig(raw, { source: `file ${path}`, env, warnings });
  }
  if (envDefinesConnection(env)) return validateConfig({}, { source: 'environment', env });
  return validateConfig(embeddedDefault(cwd), { source: 'default', env });
}
