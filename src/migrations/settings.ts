import { migrationsConfig } from '../config/connection.js';
import type { DatabaseConfig, MigrationsConfig } from '../config/types.js';

/**
 * The migration settings of connection `name` (default: the default connection): its `migrations`
 * block, or the defaults, the directory `migrations` beside the file that defined the connection
 * (the working directory when it came from the environment or an object).
 * @public
 */
export function migrationSettings(config: DatabaseConfig, name: string = config.default): MigrationsConfig {
  return config.connections[name]?.migrations ?? migrationsConfig(undefined, config.sources[`connections.${name}.dsn`]);
}
