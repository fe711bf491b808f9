import { EventEmitter } from 'node:events';
import type { Pool, PoolClient, QueryResult } from 'pg';

type Callback = (error: Error | undefined, client?: PoolClient, done?: (release?: unknown) => void) => void;

/**
 * A `pg.Pool`-shaped object for ORMs (Kysely's PostgresDialect, Drizzle) whose every checkout and
 * query goes to the pool `choose` returns at that moment: a reader's, or the writer's as
 * `read_from` allows. `end()` does not close anything: the pools belong to the connection and
 * close with it (an ORM's `destroy()` must not end them for everyone else).
 */
export function createPostgresRoutingPool(choose: () => Pool): Pool {
  class RoutingPool extends EventEmitter {
    connect(callback?: Callback): Promise<PoolClient> | undefined {
      let pool: Pool;
      try {
        pool = choose();
      } catch (error) {
        if (callback) return void callback(error as Error);
        return Promise.reject(error as Error);
      }
      if (callback) return void pool.connect(callback as Parameters<Pool['connect']>[0]);
      return pool.connect();
    }

    query(...args: unknown[]): Promise<QueryResult> | undefined {
      const callback = typeof args.at(-1) === 'function' ? (args.at(-1) as (error: Error) => void) : undefined;
      let pool: Pool;
      try {
        pool = choose();
      } catch (error) {
        if (callback) return void callback(error as Error);
        return Promise.reject(error as Error);
      }
      return (pool.query as (...queryArgs: unknown[]) => Promise<QueryResult> | undefined)(...args);
    }

    end(callback?: () => void): Promise<void> {
      callback?.();
      return Promise.resolve();
    }

    get totalCount(): number {
      return 0;
    }

    get idleCount(): number {
      return 0;
    }

    get waitingCount(): number {
      return 0;
    }

    get ending(): boolean {
      return false;
    }

    get ended(): boolean {
      return false;
    }
  }
  return new RoutingPool() as unknown as Pool;
}
