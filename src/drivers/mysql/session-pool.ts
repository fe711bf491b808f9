import type { Pool, PoolConnection } from 'mysql2';
import { ConnectionError, type DbModuleError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { AuthRetryPolicy } from '../auth-retry.js';
import { driverError } from '../driver-error.js';
import { SessionLifetime } from '../lifetime.js';
import { SessionHandover, type HandoverTarget } from '../session-handover.js';
import type { AuthFailure, AuthFailureDecision, Clock, PoolStats, SessionLogin, SessionObserver } from '../types.js';
import { DeadlineTimer } from './deadline-timer.js';
import { type ConnectionCallback, type PoolInternals, connectionInternals, internalsOf } from './internals.js';
import { type OpeningSlots, openReserved } from './opening.js';

/** What the session pool enforces on a mysql2 pool that mysql2 itself does not. */
export interface MysqlSessionPoolSettings {
  readonly connection: string;
  /** Longest wait for a free session when the pool is full; 0 = unbounded. */
  readonly acquireTimeoutMs: number;
  /** Budget of the password function (mysql2's connectTimeout bounds the rest of the connect) and of auth retries. */
  readonly connectTimeoutMs: number;
  /** Sessions older than this (+ up to 10% jitter) are closed instead of reused; 0 = no limit. */
  readonly lifetimeMs: number;
  /** check_idle_sessions: wait for the sockets to be polled before handing out a session that sat idle (see SessionHandover). */
  readonly checkIdleSessions: boolean;
  /** Called for every new physical connection; its answer becomes that connection's password. */
  readonly password?: (() => Promise<string>) | undefined;
  /** Each session's user and password instead of the plan's (see DriverPoolOptions.login). */
  readonly login?: (() => SessionLogin) | undefined;
  /** With `password`: one valid now, if known; what each session's `config.password` reads (see followCurrentPassword). */
  readonly currentPassword?: (() => string | undefined) | undefined;
  /** Asked whether to open a session again after it failed with AUTH_FAILED; see openWithAuthRetry. */
  readonly onAuthFailure?: ((failure: AuthFailure) => Promise<AuthFailureDecision>) | undefined;
  /** Classifies a mysql2 connect error into the DbModuleError DriverPool callers get. */
  readonly classify: (error: unknown) => DbModuleError;
  readonly clock: Clock;
  readonly logger: Logger;
}

const CHECKOUT = Symbol('dbmodule.checkout');

/**
 * What telemetry puts around a pool's statements and checkouts (see `traceStatements`). `call`
 * is what the session's `query` or `execute` is on mysql2's prototype at the time of the call
 * (a driver instrumentation's wrapper of it included).
 */
export interface MysqlStatementTracing {
  /** Runs `connection.query(...args)` (`call` applied to `connection`) in a statement span. */
  query(call: (...args: unknown[]) => unknown, connection: PoolConnection, args: unknown[]): unknown;
  /** Runs `connection.execute(...args)` in a statement span. */
  execute(call: (...args: unknown[]) => unknown, connection: PoolConnection, args: unknown[]): unknown;
  /** Runs a checkout, `connect`, handing it `callback` (or what stands for it). */
  checkout<F extends (...args: never[]) => unknown, R>(connect: (callback: F | undefined) => R, callback: F | undefined): R;
}

/** The session pool of each mysql2 pool it was made for (telemetry finds it from `DriverPool.native`). */
const sessionPools = new WeakMap<Pool, MysqlSessionPool>();

/** The {@link MysqlSessionPool} enforcing its rules on `pool`, if any. */
export function mysqlSessionPoolOf(pool: Pool): MysqlSessionPool | undefined {
  return sessionPools.get(pool);
}

/** What mysql2 queues for a checkout: a callback that knows its checkout. */
type CheckoutCallback = ConnectionCallback & { [CHECKOUT]?: Checkout };

/**
 * One caller's request for a session, from acquire() until it is served or fails. mysql2
 * queues `callback`; a request that comes back to acquire() (served a dead session, queued
 * again, its opening fell back) is found through it, so it keeps its place and budget.
 * One object per request, none per turn it takes: a full pool queues one per query.
 */
class Checkout {
  readonly callback: CheckoutCallback;
  /** `Date.now()` time at which waiting for a session fails; set when it first waits. */
  deadline = Number.POSITIVE_INFINITY;
  settled = false;

  constructor(
    readonly deliver: ConnectionCallback,
    /** The pool's own work (a KILL of a timed-out session), served even after terminate(). */
    readonly internal: boolean,
    served: (checkout: Checkout, error: NodeJS.ErrnoException | null, connection?: PoolConnection) => void,
    /** When it asked (performance.now()), for the pool's observer; undefined when nothing observes. */
    readonly askedAt: number | undefined,
  ) {
    const callback: CheckoutCallback = (error, connection) => served(this, error, connection);
    callback[CHECKOUT] = this;
    this.callback = callback;
  }
}

/**
 * Enforces, on the native mysql2 pool object itself (so ORMs given the pool are covered):
 * an acquire timeout with no leaked waiter, a maximum session lifetime with jitter, a fresh
 * password for every new physical connection, and an 'error' listener on every session.
 * mysql2's own getConnection/releaseConnection are wrapped on the instance; see internals.ts
 * for the private fields this relies on.
 */
export class MysqlSessionPool {
  readonly #pool: PoolInternals;
  readonly #settings: MysqlSessionPoolSettings;
  readonly #nativeGet: (callback: ConnectionCallback) => void;
  readonly #nativeRelease: (connection: PoolConnection) => void;
  readonly #lifetime: SessionLifetime;
  readonly #authRetry: AuthRetryPolicy;
  /** When each session retires (set only when connection_max_lifetime is). */
  readonly #retireAt = new WeakMap<PoolConnection, number>();
  readonly #waiterTimer = new DeadlineTimer<Checkout>((checkout) => this.#onWaiterExpired(checkout));
  /** Sessions handed to a caller at least once. */
  readonly #handedOut = new WeakSet<PoolConnection>();
  /** Set by traceStatements (telemetry on): what every session's query and execute run in. */
  #tracing: MysqlStatementTracing | undefined;
  /** Set by observeSessions (telemetry on): told of every checkout and release. */
  #observer: SessionObserver | undefined;
  /** With an observer: when each session in use was handed out. */
  readonly #handedAt = new WeakMap<PoolConnection, number>();
  /** Set by terminate(): what callers other than the pool's own (see acquireInternal) get from then on. */
  #terminated: (() => Error) | undefined;
  /** Openings between connects (password function running, auth-failure hook deciding): slots mysql2 cannot see. */
  #opening = 0;
  #onIdle: (() => void) | undefined;
  #idle: Promise<void> | undefined;
  readonly #slots: OpeningSlots = {
    reserve: () => {
      this.#opening++;
    },
    connect: (password, user, connectTimeoutMs, onOpened, fallback) => this.#openReserved(password, user, connectTimeoutMs, onOpened, fallback),
    staticPassword: () => this.#pool.config.connectionConfig.password,
    abandon: () => {
      this.#opening--;
      this.#serveNextWaiter();
      if (this.#onIdle) this.#checkIdle();
    },
    closed: () => this.#pool._closed,
  };

  constructor(pool: Pool, settings: MysqlSessionPoolSettings) {
    const internals = internalsOf(pool);
    this.#pool = internals;
    this.#settings = settings;
    this.#lifetime = new SessionLifetime(settings.lifetimeMs, settings.clock);
    this.#handover = this.#newHandover(settings.checkIdleSessions);
    this.#authRetry = {
      connection: settings.connection,
      timeoutMs: settings.connectTimeoutMs,
      classify: settings.classify,
      onAuthFailure: settings.onAuthFailure,
      keepDriverError: false,
      logger: settings.logger,
    };
    this.#nativeGet = internals.getConnection.bind(internals);
    this.#nativeRelease = internals.releaseConnection.bind(internals);
    const mutable = internals as { getConnection: PoolInternals['getConnection']; releaseConnection: PoolInternals['releaseConnection'] };
    mutable.getConnection = (callback) => this.acquire(callback);
    mutable.releaseConnection = (connection) => this.#release(connection);
    sessionPools.set(pool, this);
    const { config } = internals;
    // mysql2 starts its idle reaper only when maxIdle < connectionLimit; idle time needs it too.
    if (config.maxIdle >= config.connectionLimit && Number.isFinite(config.idleTimeout)) internals._removeIdleTimeoutConnections();
  }

  /** mysql2's getConnection with the session pool's rules; also what the pool's own query/execute use. */
  acquire(callback: ConnectionCallback): void {
    this.#acquire((callback as CheckoutCallback)[CHECKOUT] ?? new Checkout(callback, false, this.#served, this.#observer && performance.now()));
  }

  /** Reports every checkout to `observer` from now on (see DriverPool.observeSessions). */
  observeSessions(observer: SessionObserver): void {
    this.#observer = observer;
  }

  /**
   * Puts `tracing` around every statement of the pool's sessions (`query` and `execute`, whoever
   * calls them: mysql2's `pool.query`, an ORM holding a session from `pool.getConnection`, dbmodule)
   * and around every checkout. Called once, when telemetry is on; until then (and with telemetry
   * off, always) a session's `query` and `execute` are mysql2's own and `acquire` this class's,
   * with nothing in between. A second call changes nothing.
   */
  traceStatements(tracing: MysqlStatementTracing): void {
    if (this.#tracing) return;
    this.#tracing = tracing;
    const all = this.#pool._allConnections;
    for (let i = 0; i < all.length; i++) {
      const connection = all.get(i);
      if (connection) this.#trace(connection, tracing);
    }
    // an own property in front of the method: mysql2's getConnection (pool.query, pool.execute) and dbmodule come through it
    const acquire = MysqlSessionPool.prototype.acquire;
    Object.defineProperty(this, 'acquire', {
      configurable: true,
      writable: true,
      value: (callback: ConnectionCallback): void => {
        // a request coming back (served a dead session, queued again) keeps its callback: it carries its checkout
        if ((callback as CheckoutCallback)[CHECKOUT]) return acquire.call(this, callback);
        tracing.checkout((bound: ConnectionCallback | undefined) => acquire.call(this, bound ?? callback), callback);
      },
    });
  }

  /** A session's query and execute, traced: own properties in front of mysql2's (looked up on each call). */
  #trace(connection: PoolConnection, tracing: MysqlStatementTracing): void {
    const native = Object.getPrototypeOf(connection) as { query: (...args: unknown[]) => unknown; execute: (...args: unknown[]) => unknown };
    Object.defineProperty(connection, 'query', {
      configurable: true,
      writable: true,
      value: function query(this: PoolConnection, ...args: unknown[]): unknown {
        return tracing.query(native.query, this, args);
      },
    });
    Object.defineProperty(connection, 'execute', {
      configurable: true,
      writable: true,
      value: function execute(this: PoolConnection, ...args: unknown[]): unknown {
        return tracing.execute(native.execute, this, args);
      },
    });
  }

  /** acquire() for the pool's own work (a KILL of a timed-out session), served even after terminate(). */
  acquireInternal(callback: ConnectionCallback): void {
    this.#acquire(new Checkout(callback, true, this.#served, undefined));
  }

  #acquire(checkout: Checkout): void {
    // timed out while on its way back here (see #serveNextWaiter)
    if (checkout.settled) return;
    const pool = this.#pool;
    if (pool._closed) return this.#nativeGet(checkout.callback);
    if (this.#terminated && !checkout.internal) {
      const error = this.#terminated();
      return process.nextTick(() => this.#settle(checkout, error));
    }
    if (this.#lifetime.limited) this.#retireExpiredIdle();
    if (pool._freeConnections.length > 0) return this.#nativeGet(checkout.callback);

    const { connectionLimit, waitForConnections } = pool.config;
    const open = pool._allConnections.length;
    if (connectionLimit === 0 || open + this.#opening < connectionLimit) {
      // opening a session: mysql2's connectTimeout bounds that part
      this.#waiterTimer.delete(checkout);
      if (!this.#settings.password && !this.#settings.onAuthFailure) return this.#open(checkout.callback);
      this.#opening++;
      return openReserved(this.#settings, this.#slots, this.#authRetry, checkout.callback);
    }
    if (!waitForConnections) return this.#nativeGet(checkout.callback);
    this.#wait(checkout);
    if (open < connectionLimit) {
      // The free slots belong to sessions awaiting the password function: queue here, or
      // mysql2 would open a session with the previous (possibly expired) password.
      pool._connectionQueue.push(checkout.callback);
      pool.emit('enqueue');
      return;
    }
    this.#nativeGet(checkout.callback);
  }

  /** (Re)starts the wait with what is left of the checkout's budget (all of it the first time). */
  #wait(checkout: Checkout): void {
    const timeoutMs = this.#settings.acquireTimeoutMs;
    if (timeoutMs <= 0) return;
    if (checkout.deadline === Number.POSITIVE_INFINITY) checkout.deadline = Date.now() + timeoutMs;
    this.#waiterTimer.add(checkout);
  }

  /**
   * Where mysql2 (or an opening) delivers to a checkout. A session that sat idle is handed over
   * only once it proved alive; one found dead is dropped and the caller served again (see
   * SessionHandover).
   */
  readonly #served = (checkout: Checkout, error: NodeJS.ErrnoException | null, connection?: PoolConnection): void => {
    if (checkout.settled) {
      // handed over (or opened) after the caller already got POOL_TIMEOUT
      connection?.release();
      return;
    }
    this.#waiterTimer.delete(checkout);
    if (error || !connection) return this.#settle(checkout, error ?? new Error('mysql2 gave neither a connection nor an error'));
    if (this.#terminated && !checkout.internal) {
      // opened (or freed) after close() ended the sessions in use: nobody may start work on it
      destroySession(connection);
      return this.#settle(checkout, this.#terminated());
    }
    this.#handover.handOver(connection, checkout);
  };

  readonly #handover: SessionHandover<PoolConnection, Checkout>;

  /** The hand-over of sessions to checkouts; `waitForPoll`: check_idle_sessions. */
  #newHandover(waitForPoll: boolean): SessionHandover<PoolConnection, Checkout> {
    const target: HandoverTarget<PoolConnection, Checkout> = {
      firstCheckout: (connection) => {
        if (this.#handedOut.has(connection)) return false;
        this.#handedOut.add(connection);
        return true;
      },
      isAlive,
      deliver: (connection, checkout, opened) => {
        if (checkout.askedAt !== undefined && this.#observer) {
          const handedAt = performance.now();
          this.#handedAt.set(connection, handedAt);
          this.#observer.acquired(handedAt - checkout.askedAt, opened);
        }
        this.#settle(checkout, null, connection);
      },
      replace: (connection, checkout) => this.#replaceDead(connection, checkout),
    };
    return new SessionHandover(target, waitForPoll);
  }

  #settle(checkout: Checkout, error: Error | null, connection?: PoolConnection): void {
    checkout.settled = true;
    checkout.deliver(error, connection);
  }

  #replaceDead(connection: PoolConnection, checkout: Checkout): void {
    this.#settings.logger.debug('MySQL session was dead when handed over; serving the caller another', {
      connection: this.#settings.connection,
      threadId: connection.threadId ?? undefined,
    });
    destroySession(connection);
    // a new wait gets the full budget again
    checkout.deadline = Number.POSITIVE_INFINITY;
    this.#acquire(checkout);
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
      const checkout = (callback as CheckoutCallback)[CHECKOUT];
      if (!checkout) callback(waitingError());
      else if (!checkout.settled) {
        this.#waiterTimer.delete(checkout);
        this.#settle(checkout, waitingError());
      }
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
    const handedAt = this.#observer && this.#handedAt.get(connection);
    if (handedAt !== undefined) {
      this.#handedAt.delete(connection);
      this.#observer?.released(performance.now() - handedAt);
    }
    if (this.#lifetime.limited && connectionInternals(connection)._pool != null && this.#isExpired(connection)) {
      // end() takes it out of the pool, which calls releaseConnection again (with _pool null) to serve a waiter.
      this.#retire(connection);
    } else {
      this.#nativeRelease(connection);
    }
    if (this.#onIdle) this.#checkIdle();
  }

  #onWaiterExpired(checkout: Checkout): void {
    const queue = this.#pool._connectionQueue;
    for (let i = 0; i < queue.length; i++) {
      if (queue.get(i) === checkout.callback) {
        queue.removeOne(i);
        break;
      }
    }
    const { connectionLimit } = this.#pool.config;
    this.#settle(
      checkout,
      driverError(
        ConnectionError,
        'POOL_TIMEOUT',
        `no session became free within ${this.#settings.acquireTimeoutMs} ms (all ${connectionLimit} sessions allowed by max_open_connections are in use)`,
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
  #openReserved(password: string | undefined, user: string | undefined, connectTimeoutMs: number | undefined, onOpened: ConnectionCallback, fallback: ConnectionCallback): void {
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
    if (this.#settings.password || this.#settings.login) config.password = password;
    if (user !== undefined) config.user = user;
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
    if (this.#tracing) this.#trace(connection, this.#tracing);
    if (this.#lifetime.limited) this.#retireAt.set(connection, this.#lifetime.retireAt());
    if (this.#settings.currentPassword) followCurrentPassword(connection.config, this.#settings.currentPassword);
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
    const retireAt = this.#retireAt.get(connection);
    return retireAt !== undefined && this.#lifetime.isDue(retireAt);
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

/**
 * A session's `config.password` reads the password valid now (an IAM token refreshed in the
 * background) and falls back to the one the session opened with; a copy of the config (Kysely's
 * control connection spreads it) logs in with a valid token however old the session. A password
 * assigned later (mysql2's changeUser) is kept as it is.
 */
function followCurrentPassword(config: { password?: string | undefined }, current: () => string | undefined): void {
  let own = config.password;
  let follow = true;
  Object.defineProperty(config, 'password', {
    configurable: true,
    enumerable: true,
    get: () => (follow ? (current() ?? own) : own),
    set: (value: string | undefined) => {
      own = value;
      follow = false;
    },
  });
}
