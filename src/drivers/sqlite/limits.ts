import type { ConnectionConfig } from '../../config/types.js';
import type { Logger } from '../../logging.js';
import type { SqliteTarget } from './target.js';

// setTimeout's ceiling; a larger value would fire at once.
const MAX_TIMER_MS = 2_147_483_647;

/** The pool settings actually applied to one SQLite connection (milliseconds; 0 = no limit). */
export interface SqlitePoolLimits {
  readonly maxOpen: number;
  readonly maxIdle: number;
  readonly lifetimeMs: number;
  readonly idleTimeMs: number;
  /** connection_timeout: bounds opening a handle and waiting for a free one. */
  readonly timeoutMs: number;
}

/**
 * Applies the connection's pool settings to SQLite. An in-memory database lives and dies
 * with its one handle: a second handle would be a second, empty database, and recycling
 * the handle would drop every table. So `:memory:` gets exactly one handle, never recycled
 * (debug log when max_open_connections asked for more, warn when recycling was asked for).
 */
export function sqlitePoolLimits(config: ConnectionConfig, target: SqliteTarget, logger: Logger): SqlitePoolLimits {
  const timeoutMs = config.connection_timeout > 0 ? Math.min(config.connection_timeout, MAX_TIMER_MS) : MAX_TIMER_MS;
  const connection = config.name;
  if (!target.memory) {
    const maxOpen = Math.max(1, config.max_open_connections);
    return {
      maxOpen,
      maxIdle: Math.max(0, Math.min(config.max_idle_connections, maxOpen)),
      lifetimeMs: Math.max(0, config.connection_max_lifetime),
      idleTimeMs: Math.max(0, config.connection_max_idle_time),
      timeoutMs,
    };
  }
  if (config.max_open_connections > 1) {
    logger.debug('SQLite in-memory database: max_open_connections forced to 1 (each handle is a separate database)', {
      connection,
      configured: config.max_open_connections,
    });
  }
  if (config.connection_max_lifetime > 0 || config.connection_max_idle_time > 0 || config.max_idle_connections < 1) {
    logger.warn(
      'SQLite in-memory database: connection_max_lifetime, connection_max_idle_time and max_idle_connections=0 are ignored (closing the handle would drop the database)',
      { connection },
    );
  }
  return { maxOpen: 1, maxIdle: 1, lifetimeMs: 0, idleTimeMs: 0, timeoutMs };
}
