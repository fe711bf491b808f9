/**
 * The mysql2 3.x internals this driver relies on (lib/base/pool.js, lib/pool_connection.js,
 * lib/ring_queue.js). mysql2's pool has no public counters, acquire timeout, lifetime or
 * per-connection password hook, so these are read and wrapped on the pool instance itself.
 * Kept in one place so a mysql2 upgrade has one file to check.
 */
import type { Pool, PoolConnection } from 'mysql2';

/** mysql2's RingQueue (a deque). */
export interface RingQueue<T> {
  readonly length: number;
  get(index: number): T | undefined;
  push(item: T): number;
  shift(): T | undefined;
  removeOne(index: number): T | undefined;
}

/** The callback mysql2 keeps in `_connectionQueue` for a waiting `getConnection`. */
export type ConnectionCallback = (error: NodeJS.ErrnoException | null, connection?: PoolConnection) => void;

/** `pool.config` at runtime is a PoolConfig, not the PoolOptions the typings claim. */
export interface PoolConfigInternals {
  readonly connectionLimit: number;
  readonly maxIdle: number;
  readonly idleTimeout: number;
  readonly waitForConnections: boolean;
  readonly queueLimit: number;
  /** Copied (own property descriptors) into every new connection by `_createConnectionConfig`. */
  readonly connectionConfig: { user?: string; password?: string; connectTimeout?: number };
}

/** The fields of mysql2's BasePool read or wrapped by this driver. */
export interface PoolInternals {
  readonly config: PoolConfigInternals;
  readonly _allConnections: RingQueue<PoolConnection>;
  readonly _freeConnections: RingQueue<PoolConnection>;
  readonly _connectionQueue: RingQueue<ConnectionCallback>;
  readonly _closed: boolean;
  getConnection(callback: ConnectionCallback): void;
  releaseConnection(connection: PoolConnection): void;
  /** Starts mysql2's 1 s idle reaper (idleTimeout / maxIdle); it only starts it itself when maxIdle < connectionLimit. */
  _removeIdleTimeoutConnections(): void;
  emit(event: string, ...args: unknown[]): boolean;
}

/**
 * PoolConnection fields used: `_pool` is null once the connection left the pool; `_released` is true while idle;
 * `_fatalError` / `_protocolError` / `_closing` are set once the session failed or was closed.
 */
export interface PoolConnectionInternals {
  readonly _pool: unknown;
  readonly _released: boolean;
  readonly _fatalError: unknown;
  readonly _protocolError: unknown;
  readonly _closing: boolean;
  readonly stream: { readonly destroyed?: boolean; destroy(): void } | undefined;
  readonly config: { gracefulEnd?: boolean; password?: string };
}

/** The pool seen with the internals above (a cast: mysql2 keeps them on the instance). */
export function internalsOf(pool: Pool): PoolInternals {
  return pool as unknown as PoolInternals;
}

/** A pooled connection seen with its pool bookkeeping fields. */
export function connectionInternals(connection: PoolConnection): PoolConnectionInternals {
  return connection as unknown as PoolConnectionInternals;
}
