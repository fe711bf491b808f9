import type { Pool, PoolConnection } from 'mysql2';
import { ConnectionError, type DbModuleError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { AuthFailure, AuthFailureDecision, Clock, PoolStats } from '../types.js';
import { type ConnectionCallback, type PoolInternals, connectionInternals, internalsOf } from './internals.js';
import { afterPendingIo } from '../pending-io.js';
import { DeadlineTimer } from './deadline-timer.js';
import { type OpeningSlots, SessionOpening } from './opening.js';

/** What the guard enforces on a mysql2 pool that mysql2 itself does not. */
export interface PoolGuardSettings {
  readonly connection: string;
  /** Longest wait for a free session when the pool is full; 0 = unbounded. */
  readonly acquireTimeoutMs: number;
  /** Budget of the password function (mysql2's connectTimeout bounds the rest of the connect) and of auth retries. */
  readonly connectTimeoutMs: number;
  /** Sessions older than this (+ up to 10% jitter) are closed instead of reused; 0 = no limit. */
  readonly lifetimeMs: number;
  /** Called for every new physical connection; its answer becomes that connection's password. */
  readonly password?: (() => Promise<string>) | undefined;
  /** Asked whether to open a session again after it failed with AUTH_FAILED; see {@link SessionOpening}. */
  readonly onAuthFailure?: ((failure: AuthFailure) => Promise<AuthFailureDecision>) | undefined;
  /** Classifies a mysql2 connect error into the DbModuleError DriverPool callers get. */
  readonly classify: (error: unknown) => DbModuleError;
  readonly clock: Clock;
  readonly logger: Logger;
}

const LIFETIME_JITTER = 0.1;

/**
 * A `getConnection` caller waiting in mysql2's `_connectionQueue`. mysql2 queues `callback`;
 * when the wait exceeds the acquire timeout the callback is taken out of the queue again, so
 * no waiter is left behind, and a session handed to it afterwards goes straight back.
 */
class Waiter {
  readonly callback: ConnectionCallback;
  readonly deadline: number;
  readonly #deliver: ConnectionCallback;
  readonly #timer: DeadlineTimer<Waiter>;
  #settled = false;

  constructor(deliver: ConnectionCallback, timeoutMs: number, timer: DeadlineTimer<Waiter>) {
    this.#deliver = deliver;
    this.#timer = timer;
    this.deadline = Date.now() + timeoutMs;
    this.callback = (error, connection) => {
      if (this.#settled) {
        // Handed over (or opened) after the caller already got POOL_TIMEOUT.
        connection?.release();
        return;
      }
      this.#settled = true;
      this.#timer.delete(this);
      this.#deliver(error, connection);
    };
  }

  /** (Re)starts waiting with what is left of the original budget. */
  wait(): void {
    if (!this.#settled) this.#timer.add(this);
  }

  /** The waiter left the queue to open a session: mysql2's connectTimeout bounds that part. */
  pause(): void {
    this.#timer.delete(this);
  }

  /** Settles with `error` unless something was delivered first; true when it did. */
  fail(error: Error): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#timer.delete(this);
    this.#deliver(error);
    return true;
  }
}

/**
 * Enforces, on the native mysql2 pool object itself (so ORMs given the pool are covered):
 * an acquire timeout with no leaked waiter, a maximum session lifetime with jitter, a fresh
 * password for every new physical connection, and an 'error' listener on every session.
 * mysql2's own getConnection/releaseConnection are wrapped on the instance; see internals.ts
 * for the private fields this relies on.
 */
export class PoolGuard {
  readonly #pool: PoolInternals;
  readonly #settings: PoolGuardSettings;
  readonly #nativeGet: (callback: ConnectionCallback) => void;
  readonly #nativeRelease: (connection: PoolConnection) => void;
  readonly #expiry = new WeakMap<PoolConnection, number>();
  readonly #waiters = new WeakMap<ConnectionCallback, Waiter>();
  readonly #waiterTimer = new DeadlineTimer<Waiter>((waiter) => this.#onWaiterExpired(waiter));
  /** Callbacks already wrapped by #unlessDead, and sessions handed to a caller at least once. */
  readonly #checked = new WeakSet<ConnectionCallback>();
  readonly #handedOut = new WeakSet<PoolConnection>();
  /** Set by terminate(): what callers other than the pool's own (see acquireInternal) get from then on. */
  #terminated: (() => Error) | undefined;
  readonly #internal = new WeakSet<ConnectionCallback>();
  /** Openings between connects (password function running, auth-failure hook deciding): slots mysql2 cannot see. */
  #opening = 0;
  #onIdle: (() => void) | undefined;
  #idle: Promise<void> | undefined;
  readonly #slots: OpeningSlots = {
    reserve: () => {
      this.#opening++;
    },
    connect: (password, connectTimeoutMs, onOpened, fallback) => this.#openReserved(password, connectTimeoutMs, onOpened, fallback),
    staticPassword: () => this.#pool.config.connectionConfig.password,
    abandon: () => {
      this.#opening--;
      this.#serveNextWaiter();
      if (this.#onIdle) this.#checkIdle();
    },
    closed: () => this.#pool._closed,
  };

  constructor(pool: Pool, settings: PoolGuardSettings) {
    const internals = internalsOf(pool);
    this.#pool = internals;
    this.#settings = settings;
    this.#nativeGet = internals.getConnection.bind(internals);
    this.#nativeRelease = internals.releaseConnection.bind(internals);
    const mutable = internals as { getConnection: PoolInternals['getConnection']; releaseConnection: PoolInternals['releaseConnection'] };
    mutable.getConnection = (callback) => this.acquire(callback);
    mutable.releaseConnection = (connection) => this.#release(connection);
    const { config } = internals;
    // mysql2 starts its idle reaper only when maxIdle < connectionLimit; idle time needs it too.
    if (config.maxIdle >= config.connectionLimit && Number.isFinite(config.idleTimeout)) internals._removeIdleTimeoutConnections();
  }

  /** mysql2's getConnection with the guard's rules; also what the pool's own query/execute use. */
  acquire(callback: ConnectionCallback): void {
    const pool = this.#pool;
    if (pool._closed) return this.#nativeGet(callback);
    if (this.#terminated && !this.#internal.has(callback)) {
      const error = this.#terminated();
      return process.nextTick(() => callback(error));
    }
    if (this.#settings.lifetimeMs > 0) this.#retireExpiredIdle();
    if (!this.#checked.has(callback)) return this.acquire(this.#unlessDead(callback));
    if (pool._freeConnections.length > 0) return this.#nativeGet(callback);

    const waiter = this.#waiters.get(callback);
    const { connectionLimit, waitForConnections } = pool.config;
    const open = pool._allConnections.length;
    if (connectionLimit === 0 || open + this.#opening < connectionLimit) {
      waiter?.pause();
      if (!this.#settings.password && !this.#settings.onAuthFailure) return this.#open(callback);
      this.#opening++;
      return new SessionOpening(this.#settings, this.#slots, callback).start();
    }
    if (!waitForConnections) return this.#nativeGet(callback);
    const queued = waiter ?? this.#newWaiter(callback);
    const entry = queued ? queued.callback : callback;
    queued?.wait();
    if (open < connectionLimit) {
      // The free slots belong to sessions awaiting the password function: queue here, or
      // mysql2 would open a session with the previous (possibly expired) password.
      pool._connectionQueue.push(entry);
      pool.emit('enqueue');
      return;
    }
    this.#nativeGet(entry);
  }

  /**
   * A peer's FIN or RST that reached the kernel while a session sat idle (or came with its last
   * answer) is only seen by mysql2 once the event loop has polled the socket again: a used session
   * is handed over after that (see afterPendingIo), and one found dead is dropped and the caller
   * served again.
   */
  #unlessDead(callback: ConnectionCallback): ConnectionCallback {
    const checked: ConnectionCallback = (error, connection) => {
      if (error || !connection) return callback(error, connection);
      if (this.#terminated && !this.#internal.has(checked)) {
        // opened (or freed) after close() ended the sessions in use: nobody may start work on it
        destroySession(connection);
        return callback(this.#terminated());
      }
      // a session opened for this caller has just proved alive
      if (!this.#handedOut.has(connection)) {
        this.#handedOut.add(connection);
        return callback(null, connection);
      }
      // known dead already: no need to wait to find out
      if (!isAlive(connection)) return this.#replaceDead(connection, checked);
      afterPendingIo(() => (isAlive(connection) ? callback(null, connection) : this.#replaceDead(connection, checked)));
    };
    this.#checked.add(checked);
    if (this.#internal.has(callback)) this.#internal.add(checked);
    return checked;
  }

  #replaceDead(connection: PoolConnection, checked: ConnectionCallback): void {
    this.#settings.logger.debug('MySQL session was dead when handed over; serving the caller another', {
      connection: this.#settings.connection,
      threadId: connection.threadId ?? undefined,
    });
    destroySession(connection);
    // a waiter that timed out meanwhile already got POOL_TIMEOUT; a new wait gets the full budget again
    this.acquire(checked);
  }

  /** acquire() for the pool's own work (a KILL of a timed-out session), served even after terminate(). */
  acquireInternal(callback: ConnectionCallback): void {
    this.#internal.add(callback);
    this.acquire(callback);
  }

  /**
   * For `close()` out of time: fails every queued caller with `waitingError()` and returns the
   * sessions in use, for the pool to end. Sessions being opened finish on their own (bounded
   * by connection_timeout).
   */
  terminate(waitingError: () => Error): PoolConnection[] {
    this.#terminated = waitingError;
    const pool = this.#pool;
    for (let callback = pool._connectionQueue.shift(); callback !== undefined; callback = pool._connectionQueue.shift()) {
      const waiter = this.#waiters.get(callback);
      if (waiter) waiter.fail(waitingError());
      else callback(waitingError());
    }
    const inUse: PoolConnection[] = [];
    for (let i = 0; i < pool._allConnections.length; i++) {
      const connection = pool._allConnections.get(i);
      if (connection && !connectionInternals(connection)._released) inUse.push(connection);
    }
    if (this.#onIdle) this.#checkIdle();
    return inUse;
  }

  stats(): Omit<PoolStats, 'maxOpen' | 'maxIdle'> {
    const pool = this.#pool;
    const total = pool._allConnections.length + this.#opening;
    const idle = pool._freeConnections.length;
    return { total, idle, inUse: total - idle, waiting: pool._connectionQueue.length };
  }

  /** Resolves once no session is in use, being opened or waited for. */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    this.#idle ??= new Promise((resolve) => {
      this.#onIdle = resolve;
    });
    return this.#idle;
  }

  #isIdle(): boolean {
    const pool = this.#pool;
    return this.#opening === 0 && pool._connectionQueue.length === 0 && pool._allConnections.length === pool._freeConnections.length;
  }

  #checkIdle(): void {
    if (this.#onIdle && this.#isIdle()) {
      const resolve = this.#onIdle;
      this.#onIdle = undefined;
      this.#idle = undefined;
      resolve();
    }
  }

  #release(connection: PoolConnection): void {
    if (this.#settings.lifetimeMs > 0 && connectionInternals(connection)._pool != null && this.#isExpired(connection)) {
      // end() takes it out of the pool, which calls releaseConnection again (with _pool null) to serve a waiter.
      this.#retire(connection);
    } else {
      this.#nativeRelease(connection);
    }
    if (this.#onIdle) this.#checkIdle();
  }

  #newWaiter(callback: ConnectionCallback): Waiter | undefined {
    const timeoutMs = this.#settings.acquireTimeoutMs;
    if (timeoutMs <= 0) return undefined;
    const waiter = new Waiter(callback, timeoutMs, this.#waiterTimer);
    this.#waiters.set(waiter.callback, waiter);
    // it delivers to `callback`, already checked: served again later, it must be found as this waiter, not wrapped anew
    this.#checked.add(waiter.callback);
    if (this.#internal.has(callback)) this.#internal.add(waiter.callback);
    return waiter;
  }

  #onWaiterExpired(waiter: Waiter): void {
    const queue = this.#pool._connectionQueue;
    for (let i = 0; i < queue.length; i++) {
      if (queue.get(i) === waiter.callback) {
        queue.removeOne(i);
        break;
      }
    }
    const { connectionLimit } = this.#pool.config;
    waiter.fail(
      new ConnectionError(
        'POOL_TIMEOUT',
        `connection "${this.#settings.connection}": no session became free within ${this.#settings.acquireTimeoutMs} ms (all ${connectionLimit} sessions allowed by max_open_connections are in use)`,
        {
          connection: this.#settings.connection,
          retryable: true,
          possibleCauses: ['sessions are held for long (slow queries, long transactions, a session not released by the application)', 'max_open_connections is too small for the load'],
          solutions: ['release sessions promptly (withSession/transaction do it for you)', 'raise max_open_connections or connection_timeout'],
        },
      ),
    );
    if (this.#onIdle) this.#checkIdle();
  }

  /** Lets mysql2 open a session; watches the new connection for errors and stamps its expiry. */
  #open(callback: ConnectionCallback): void {
    const all = this.#pool._allConnections;
    const before = all.length;
    this.#nativeGet(callback);
    if (all.length > before) {
      const connection = all.get(all.length - 1);
      if (connection) this.#adopt(connection);
    }
  }

  /** Opens a mysql2 connection in the slot an opening reserved (see OpeningSlots.connect). */
  #openReserved(password: string | undefined, connectTimeoutMs: number | undefined, onOpened: ConnectionCallback, fallback: ConnectionCallback): void {
    this.#opening--;
    const pool = this.#pool;
    if (pool._closed) {
      this.#nativeGet(fallback);
      if (this.#onIdle) this.#checkIdle();
      return;
    }
    if (pool._freeConnections.length === 0 && pool.config.connectionLimit !== 0 && pool._allConnections.length >= pool.config.connectionLimit) {
      return this.acquire(fallback);
    }
    // mysql2 copies connectionConfig (own property descriptors) into the connection it creates next, synchronously.
    const config = pool.config.connectionConfig;
    if (this.#settings.password) Object.defineProperty(config, 'password', { value: password, writable: true, enumerable: false, configurable: true });
    const poolTimeout = config.connectTimeout;
    if (connectTimeoutMs !== undefined) config.connectTimeout = connectTimeoutMs;
    try {
      this.#open(onOpened);
    } finally {
      config.connectTimeout = poolTimeout;
    }
  }

  /** A reserved slot was given back: let the first waiter try to open a session in it. */
  #serveNextWaiter(): void {
    const pool = this.#pool;
    if (pool._connectionQueue.length === 0 || pool._closed) return;
    const next = pool._connectionQueue.shift();
    if (next) process.nextTick(() => this.acquire(next));
  }

  #adopt(connection: PoolConnection): void {
    connection.on('error', (error: NodeJS.ErrnoException) => this.#onSessionError(connection, error));
    const lifetime = this.#settings.lifetimeMs;
    if (lifetime > 0) this.#expiry.set(connection, this.#settings.clock.now() + lifetime + Math.random() * LIFETIME_JITTER * lifetime);
  }

  #onSessionError(connection: PoolConnection, error: NodeJS.ErrnoException): void {
    // mysql2 has already taken the session out of the pool; this listener keeps a second 'error' from crashing the process.
    const idle = connectionInternals(connection)._released;
    this.#settings.logger[idle ? 'warn' : 'debug']('MySQL session failed and was removed from the pool', {
      connection: this.#settings.connection,
      code: error.code,
      message: error.message,
      idle,
      threadId: connection.threadId ?? undefined,
    });
  }

  #isExpired(connection: PoolConnection): boolean {
    const expiry = this.#expiry.get(connection);
    return expiry !== undefined && this.#settings.clock.now() >= expiry;
  }

  #retireExpiredIdle(): void {
    const free = this.#pool._freeConnections;
    for (let top = free.get(free.length - 1); top !== undefined && this.#isExpired(top); top = free.get(free.length - 1)) {
      this.#retire(top);
    }
  }

  #retire(connection: PoolConnection): void {
    this.#settings.logger.debug('Closing a MySQL session that reached connection_max_lifetime', {
      connection: this.#settings.connection,
      threadId: connection.threadId ?? undefined,
    });
    // gracefulEnd (set on the pool) makes end() leave the pool and send COM_QUIT.
    connection.end();
    if (connectionInternals(connection)._pool != null) connection.destroy();
  }
}

/** False once mysql2 saw the session fail, end or close (it may not have left the pool's lists yet). */
function isAlive(connection: PoolConnection): boolean {
  const state = connectionInternals(connection);
  return state._pool != null && !state._fatalError && !state._protocolError && !state._closing && state.stream?.destroyed !== true;
}

/**
 * Takes a session out of the pool and closes its socket at once. mysql2's destroy() only
 * half-closes (sends a FIN and waits for the server's): on a silent network that never comes,
 * and the socket would stay open.
 */
export function destroySession(connection: PoolConnection): void {
  connection.destroy();
  connectionInternals(connection).stream?.destroy();
}
