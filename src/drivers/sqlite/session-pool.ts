import type BetterSqlite3 from 'better-sqlite3';
import { Pool } from 'tarn';
import type { Logger } from '../../logging.js';
import { SessionLifetime } from '../lifetime.js';
import type { Clock, PoolStats, SessionObserver } from '../types.js';

type Handle = BetterSqlite3.Database;
/** What `acquire()` returns: `.promise` resolves to a handle. */
export type PendingHandle = ReturnType<Pool<Handle>['acquire']>;

/** Settings of a {@link SqliteSessionPool}. Durations in milliseconds; 0 means no limit. */
export interface SqliteSessionPoolSettings {
  /** Opens and configures one handle; rejects with a classified error. */
  readonly open: () => Promise<Handle>;
  readonly connection: string;
  readonly maxOpen: number;
  readonly maxIdle: number;
  readonly lifetimeMs: number;
  readonly idleTimeMs: number;
  /** Bounds both waiting for a free handle and opening one (`open` must give up by then itself). */
  readonly acquireTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

const CREATE_BACKSTOP_MS = 1_000;
const MAX_TIMER_MS = 2_147_483_647;
// tarn treats 0 as "use the default" (30s); this disables idle reaping instead.
const NEVER = Number.MAX_SAFE_INTEGER;

function reapIntervalMs(settings: SqliteSessionPoolSettings): number {
  const limits = [settings.idleTimeMs, settings.lifetimeMs].filter((ms) => ms > 0);
  if (limits.length === 0) return 1000;
  return Math.max(10, Math.min(1000, Math.floor(Math.min(...limits) / 4)));
}

/** Per-handle bookkeeping that tarn's callbacks need before the pool object exists. */
class HandleLifecycle {
  readonly #settings: SqliteSessionPoolSettings;
  readonly #lifetime: SessionLifetime;
  /** When each open handle retires (`Infinity` without connection_max_lifetime); only handles of this pool are in it. */
  readonly #retireAt = new WeakMap<Handle, number>();
  readonly #nativeClose = new WeakMap<Handle, () => void>();
  /** Set by the pool: what `close()` on a leased handle does. */
  release: (db: Handle) => void = () => {};

  constructor(settings: SqliteSessionPoolSettings) {
    this.#settings = settings;
    this.#lifetime = new SessionLifetime(settings.lifetimeMs, settings.clock);
  }

  async open(): Promise<Handle> {
    const db = await this.#settings.open();
    this.#retireAt.set(db, this.#lifetime.retireAt());
    const nativeClose = db.close.bind(db);
    this.#nativeClose.set(db, () => void nativeClose());
    // Like a pooled JDBC connection: an ORM that "closes" the handle it was lent (Kysely's
    // destroy() does) gives it back instead of leaving the pool waiting for it forever.
    Object.defineProperty(db, 'close', {
      configurable: true,
      value: () => {
        if (this.#retireAt.has(db)) this.release(db);
        else nativeClose();
        return db;
      },
    });
    return db;
  }

  /** Open, known, and younger than its lifetime (by the injected clock). */
  usable(db: Handle): boolean {
    const retireAt = this.#retireAt.get(db);
    return retireAt !== undefined && db.open && !this.#lifetime.isDue(retireAt);
  }

  close(db: Handle, reason: string): void {
    const close = this.#nativeClose.get(db);
    if (!this.#retireAt.delete(db) || close === undefined) return;
    try {
      close();
      this.#settings.logger.debug('Closed SQLite handle', { connection: this.#settings.connection, reason });
    } catch (error) {
      this.#settings.logger.warn('Closing an SQLite handle failed', { connection: this.#settings.connection, error });
    }
  }
}

/**
 * The pool behind an SQLite connection, and what `connection.pool` is: a tarn pool
 * (knex's) of better-sqlite3 `Database` handles. SQLite has no server and no standard
 * pool, so this is the native object an ORM is given. Every setting holds here, also for
 * code that calls it directly:
 *
 * ```ts
 * const db = await pool.acquire().promise;   // waits at most connection_timeout
 * try { db.prepare('SELECT 1').get(); } finally { pool.release(db); }
 * // Kysely takes one handle: new SqliteDialect({ database: () => pool.acquire().promise })
 * // (its destroy() calls db.close(), which gives the handle back to this pool).
 * ```
 *
 * - never more than `maxOpen` handles (`acquire` waits, then rejects with tarn's TimeoutError);
 * - a released handle is closed instead of kept when it is past its lifetime (plus jitter),
 *   closed, or when more than `maxIdle` handles would be idle; one left in a transaction is
 *   rolled back first;
 * - idle handles are closed after `idleTimeMs`, and expired ones are never handed out.
 */
export class SqliteSessionPool extends Pool<Handle> {
  readonly maxOpen: number;
  readonly maxIdle: number;
  readonly #lifecycle: HandleLifecycle;
  readonly #reaps: boolean;
  readonly #settings: SqliteSessionPoolSettings;
  /** Set by observeSessions (telemetry on): told of every checkout and release. */
  #observer: SessionObserver | undefined;
  /** With an observer: when each handle in use was handed out. */
  readonly #handedAt = new WeakMap<Handle, number>();
  /** With an observer: the handles handed out at least once. */
  readonly #lent = new WeakSet<Handle>();

  constructor(settings: SqliteSessionPoolSettings) {
    const lifecycle = new HandleLifecycle(settings);
    super({
      create: () => lifecycle.open(),
      destroy: (db: Handle) => lifecycle.close(db, 'destroyed'),
      validate: (db: Handle) => lifecycle.usable(db),
      min: 0,
      max: settings.maxOpen,
      acquireTimeoutMillis: settings.acquireTimeoutMs,
      // `open` gives up by itself at acquireTimeoutMs with a precise error; tarn's own create
      // timeout is only a backstop, later, so its anonymous TimeoutError never wins the race.
      createTimeoutMillis: Math.min(settings.acquireTimeoutMs + CREATE_BACKSTOP_MS, MAX_TIMER_MS),
      idleTimeoutMillis: settings.idleTimeMs > 0 ? settings.idleTimeMs : NEVER,
      reapIntervalMillis: reapIntervalMs(settings),
      // Open errors (a bad path) reach the caller at once instead of being retried until the timeout.
      propagateCreateError: true,
      log: (message: string) => settings.logger.warn(message, { connection: settings.connection }),
    });
    this.maxOpen = settings.maxOpen;
    this.maxIdle = settings.maxIdle;
    this.#settings = settings;
    this.#lifecycle = lifecycle;
    this.#reaps = settings.idleTimeMs > 0 || settings.lifetimeMs > 0;
    lifecycle.release = (db) => void this.release(db);
  }

  /** Reports every checkout to `observer` from now on (see DriverPool.observeSessions). */
  observeSessions(observer: SessionObserver): void {
    this.#observer = observer;
  }

  /** tarn's acquire, timed for the observer when there is one (its reaction runs before the caller's). */
  override acquire(): PendingHandle {
    const pending = super.acquire();
    const observer = this.#observer;
    if (observer === undefined) return pending;
    const asked = performance.now();
    pending.promise.then(
      (db) => {
        const handedAt = performance.now();
        this.#handedAt.set(db, handedAt);
        const opened = !this.#lent.has(db);
        this.#lent.add(db);
        observer.acquired(handedAt - asked, opened);
      },
      () => {},
    );
    return pending;
  }

  /**
   * Gives a handle back. It is closed instead when it is expired or closed, or when
   * `maxIdle` handles are already idle. Returns false when the handle was not lent out.
   */
  override release(db: Handle): boolean {
    const index = this.#indexInUse(db);
    if (index < 0) return false;
    this.#released(db);
    if (db.open && db.inTransaction) this.#rollBack(db);
    if (!this.#lifecycle.usable(db)) return this.#discardAt(index, 'expired');
    super.release(db);
    while (this.free.length > this.maxIdle) {
      const oldest = this.free.shift();
      if (oldest === undefined) break;
      oldest.settle();
      void this.#destroy(oldest.resource, 'max_idle_connections');
    }
    return true;
  }

  /** Closes a lent handle instead of giving it back (it is broken, or its state must not be reused). */
  discard(db: Handle): boolean {
    const index = this.#indexInUse(db);
    if (index < 0) return false;
    this.#released(db);
    return this.#discardAt(index, 'discarded');
  }

  #released(db: Handle): void {
    const handedAt = this.#handedAt.get(db);
    if (handedAt === undefined) return;
    this.#handedAt.delete(db);
    this.#observer?.released(performance.now() - handedAt);
  }

  /** For `close()` out of time: closes every lent handle (what still runs on it then fails). Returns how many. */
  terminateInUse(): number {
    let ended = 0;
    while (this.used.length > 0 && this.#discardAt(0, 'close() ran out of time')) ended++;
    return ended;
  }

  /** Withdraws a queued `acquire()`; false when a handle is already on its way to it (release that). */
  cancel(pending: PendingHandle): boolean {
    const index = this.pendingAcquires.indexOf(pending);
    if (index < 0) return false;
    this.pendingAcquires.splice(index, 1);
    pending.abort();
    return true;
  }

  /** Counters in dbmodule's shape; `total` includes handles being opened. */
  stats(): PoolStats {
    const inUse = this.numUsed();
    const idle = this.numFree();
    return { total: inUse + idle + this.numPendingCreates(), idle, inUse, waiting: this.numPendingAcquires(), maxOpen: this.maxOpen, maxIdle: this.maxIdle };
  }

  // Closing synchronously here (tarn closes a microtask later) means a replacement handle
  // can never be opened while the old one is still open, so maxOpen holds at every instant.
  override _destroy(db: Handle): Promise<void | Handle> {
    return this.#destroy(db, this.#lifecycle.usable(db) ? 'connection_max_idle_time' : 'expired');
  }

  /** tarn's reaping pass (idle time), plus closing idle handles past their lifetime. */
  override check(): void {
    if (this.#settings.lifetimeMs > 0) {
      const keep = this.free.filter((idle) => this.#lifecycle.usable(idle.resource));
      if (keep.length !== this.free.length) {
        for (const idle of this.free) {
          if (keep.includes(idle)) continue;
          idle.settle();
          void this.#destroy(idle.resource, 'connection_max_lifetime');
        }
        this.free = keep;
      }
    }
    super.check();
  }

  // The reaper must not keep the process alive: an SQLite pool holds no socket that would.
  override _startReaping(): void {
    if (!this.#reaps) return;
    super._startReaping();
    this.interval?.unref();
  }

  #destroy(db: Handle, reason: string): Promise<void | Handle> {
    this.#lifecycle.close(db, reason);
    return super._destroy(db);
  }

  #indexInUse(db: Handle): number {
    const used = this.used;
    for (let i = 0; i < used.length; i++) if (used[i]?.resource === db) return i;
    return -1;
  }

  #discardAt(index: number, reason: string): boolean {
    const [lent] = this.used.splice(index, 1);
    if (lent === undefined) return false;
    lent.resolve(); // tarn's destroy() waits on this for lent handles
    void this.#destroy(lent.resource, reason);
    this._tryAcquireOrCreate();
    return true;
  }

  #rollBack(db: Handle): void {
    this.#settings.logger.warn('SQLite handle released inside a transaction; rolling it back', { connection: this.#settings.connection });
    try {
      db.exec('ROLLBACK');
    } catch {
      // release() sees the handle still in a transaction (or closed) and discards it.
      this.#lifecycle.close(db, 'rollback failed');
    }
  }
}
