import { loadConfig, selectConnection, type ConnectionConfig, type DatabaseConfig } from '../../index.js';
import type { CliIo } from '../io.js';

/** Loads the configuration the way every command does: --config, else $DBMODULE_CONFIG, else env, else the default. */
export function loadCliConfig(values: Record<string, string | boolean | undefined>, io: CliIo): Promise<DatabaseConfig> {
  const file = typeof values.config === 'string' ? values.config : undefined;
  return loadConfig({ ...(file ? { file } : {}), env: io.env, cwd: io.cwd });
}

/** True when nothing configured a connection and the embedded SQLite default is in use. */
export function usesEmbeddedDefault(config: DatabaseConfig): boolean {
  return Object.values(config.sources).every((source) => source === 'default');
}

export const pointAtYourDatabase = `This is dbmodule's embedded default (a local SQLite database). Point it at yours:
  dbmodule check --config config.yaml          (a file with database.connections.<name>.dsn ...)
  DB_MAIN_DSN=postgres://user:pass@host:5432/db dbmodule check
  DB_MAIN_DSN=mysql://user:pass@host:3306/db dbmodule check
`;

/** The named connection (default: the configured default), or CONNECTION_NOT_FOUND listing the known names. */
export function findConnection(config: DatabaseConfig, name: string | undefined): ConnectionConfig {
  const selected = selectConnection(config, name);
  return selected.connections[selected.default]!;
}
