import { EventEmitter } from 'node:events';
import type { Pool, PoolConnection } from 'mysql2';

type Callback = (error: Error | null, connection?: PoolConnection) => void;

/**
 * A mysql2 `Pool`-shaped object for ORMs (Kysely's MysqlDialect, Drizzle) whose every checkout
 * and query goes to the pool `choose` returns at that moment: a reader's, or the writer's as
 * `read_from` allows. `end()` does not close anything: the pools belong to the connection and
 * close with it. `promise()` gives mysql2's own PromisePool over it.
 */
export function createMysqlRoutingPool(choose: () => Pool): Pool {
  class RoutingPool extends EventEmitter {
    /** mysql2's PromisePool reads `config.connectionConfig.trace` on every query. */
    get config(): Pool['config'] {
      return choose().config;
    }

    getConnection(callback: Callback): void {
      let pool: Pool;
      try {
        pool = choose();
      } catch (error) {
        return callback(error as Error);
      }
      pool.getConnection(callback as Parameters<Pool['getConnection']>[0]);
    }

    query(...args: unknown[]): unknown {
      return (choose().query as (...queryArgs: unknown[]) => unknown)(...args);
    }

    execute(...args: unknown[]): unknown {
      return (choose().execute as (...executeArgs: unknown[]) => unknown)(...args);
    }

    end(callback?: (error: Error | null) => void): void {
      callback?.(null);
    }

    promise(): unknown {
      const PromisePool = choose().promise().constructor as new (pool: unknown, promise: PromiseConstructor) => unknown;
      return new PromisePool(this, Promise);
    }
  }
  return new RoutingPool() as unknown as Pool;
}
