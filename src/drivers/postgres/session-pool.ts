import { EventEmitter } from 'node:events';
import type { ClientBase, ClientConfig, Pool, PoolClient, PoolConfig } from 'pg';
import { openWithAuthRetry, unwrapDecided, type AuthRetryPolicy, type OpeningAttempt, type SessionOpening } from '../auth-retry.js';
import { SessionLifetime } from '../lifetime.js';
import { SessionHandover } from '../session-handover.js';
import type { Clock, SessionLogin, SessionObserver } from '../types.js';
import { cancelBackend } from './cancel.js';
import type { PgModule } from './load-driver.js';

/** The pool settings pg-pool lacks, enforced by {@link createPostgresSessionPool}. */
export interface PostgresSessionPoolSettings {
  /** Idle sessions kept at most; a session released when this many are idle is closed. */
  readonly maxIdle: number;
  /** Sessions older than this (plus up to 10% jitter) are closed instead of reused; 0 = no limit. */
  readonly lifetimeMs: number;
  readonly clock: Clock;
  /** Bounds the socket of a cancel request. */
  readonly cancelTimeoutMs: number;
  /** An idle session failed and pg-pool already removed it. */
  onIdleError(error: Error): void;
  /** A session in use failed; its caller gets the error from the query. */
  onSessionError(error: Error): void;
  /** Set when authentication failures while opening a session go to a hook that may retry. */
  readonly authRetry?: AuthRetryPolicy;
  /** Each session's user and password, read as it starts opening (see DriverPoolOptions.login). */
  readonly login?: () => SessionLogin;
  /** check_idle_sessions: wait for the sockets to be polled before handing out a session that sat idle (see SessionHandover). */
  readonly checkIdleSessions: boolean;
}

type ConnectCallback = (err: Error | undefined, client: PoolClient | undefined, done: (release?: unknown) => void) => void;
type UsableCallback = (err: Error | undefined, client?: PoolClient) => void;
const NO_RELEASE = (): void => {};
type Release = (err?: Error | boolean) => void;
type ClientCallback = (err: Error | null, client?: ClientBase) => void;
type PasswordFunction = () => string | Promise<string>;

/** EventEmitter's own bookkeeping (listeners), which a client keeps across connection attempts. */
const EMITTER_FIELDS = new Set(Object.getOwnPropertyNames(new EventEmitter()));

/** Fields pg sets on every Client that its typings leave out. */
interface ClientWireState {
  readyForQuery?: boolean;
  _queryable?: boolean;
  _ending?: boolean;
  _ended?: boolean;
  processID?: number | null;
  secretKey?: number | Buffer | null;
  ssl?: boolean | object;
}

/**
 * What telemetry puts around a pool's statements and checkouts (see `traceStatements`). Its
 * functions get the pool's own: `query` is what `pg.Client.prototype.query` is at the time of the
 * call (a driver instrumentation's wrapper of it included).
 */
export interface PostgresStatementTracing {
  /** Runs `client.query(...args)` (`query` applied to `client`) in a statement span. */
  query(query: (...args: unknown[]) => unknown, client: ClientBase, args: unknown[]): unknown;
  /** Runs a checkout, `connect`, handing it `callback` (or what stands for it). */
  checkout<F extends (...args: never[]) => unknown, R>(connect: (callback: F | undefined) => R, callback: F | undefined): R;
}

/** The pg.Pool {@link createPostgresSessionPool} returns, with what `close()` needs when it runs out of time. */
export interface PostgresSessionPool extends Pool {
  /**
   * Fails the callers waiting for a client with `waitingError()`, cancels the statements of
   * the clients checked out and closes their sockets. Returns how many clients it ended.
   */
  terminateInUse(waitingError: () => Error): number;
  /**
   * Puts `tracing` around every statement of the pool's clients (`client.query`, whoever calls
   * it: pg-pool's `pool.query`, an ORM holding a client from `pool.connect()`, dbmodule) and
   * around every checkout (`pool.connect`). Called once, when telemetry is on; until then (and
   * with telemetry off, always) the clients' `query` is pg's own and `connect` the session
   * pool's, with nothing in between. A second call changes nothing.
   */
  traceStatements(tracing: PostgresStatementTracing): void;
  /** Reports every checkout to `observer` from now on (see DriverPool.observeSessions). */
  observeSessions(observer: SessionObserver): void;
}

/**
 * A real `pg.Pool` (Kysely's PostgresDialect and Drizzle's node-postgres adapter accept it)
 * that also enforces max_idle_connections and connection_max_lifetime, for our own queries
 * and for an ORM calling `pool.query` / `pool.connect` / `client.release` directly.
 *
 * pg-pool internals relied on: none private. It builds clients with `options.Client`, assigns
 * `client.release` on every checkout (documented), destroys a client released with a truthy
 * argument (documented), and exposes `idleCount` / `waitingCount`. From pg: the client fields
 * `readyForQuery`, `processID`, `secretKey`, `ssl`, `host`, `port`, and the `errorMessage` /
 * `readyForQuery` events of its `connection`. For an auth-failure retry (`policy.authRetry`):
 * that a Client keeps its state in own properties set by its constructor and talks through
 * `client.connection` (pg-pool's connect timer destroys `client.connection.stream`).
 */
export function createPostgresSessionPool(pg: PgModule, config: PoolConfig, policy: PostgresSessionPoolSettings): PostgresSessionPool {
  let pool: Pool;
  const checkedOut = new Set<ManagedClient>();
  const lifetime = new SessionLifetime(policy.lifetimeMs, policy.clock);
  let observer: SessionObserver | undefined;
  /** With an observer: when each client in use was handed out (performance.now()). */
  const handedAt = new WeakMap<ManagedClient, number>();

  class ManagedClient extends pg.Client {
    readonly #retireAt: number;
    readonly #clientConfig: ClientConfig;
    readonly #sent: { password: string | undefined };
    readonly #openingStarted = performance.now();
    #poolRelease: Release | undefined;
    #released = false;
    #terminated = false;
    #checkouts = 0;
    // set between a server error and the ReadyForQuery that follows it, so a client released
    // from its error callback is not mistaken for one still running a statement
    #errorAwaitingReady = false;
    readonly #release: Release = (err) => this.#releaseToPool(err);

    constructor(clientConfig: ClientConfig) {
      const sent = recordSentPassword(clientConfig);
      super(sent.config);
      this.#clientConfig = sent.config;
      this.#sent = sent.record;
      this.#retireAt = lifetime.retireAt();
      // without a listener, a server closing a checked-out session would crash the process
      this.on('error', (error: Error) => policy.onSessionError(error));
      this.#watchConnection();
    }

    override connect(): Promise<ManagedClient>;
    override connect(callback: ClientCallback): void;
    override connect(callback?: ClientCallback): Promise<ManagedClient> | void {
      const authRetry = policy.authRetry;
      if (!authRetry) {
        this.#logIn();
        return callback ? super.connect(callback) : super.connect().then(() => this);
      }
      const opening: SessionOpening<ManagedClient> = {
        startedAt: this.#openingStarted,
        attempt: (attempt) => this.#attempt(attempt),
        sentPassword: () => this.#sent.password,
        closing: () => pool.ending,
        prepareRetry: () => this.#prepareRetry(),
      };
      // pg-pool connects with a callback: no promise per opening on that path
      if (callback) return openWithAuthRetry(opening, authRetry, (error) => (error ? callback(error) : callback(null, this)));
      return new Promise((resolve, reject) => openWithAuthRetry(opening, authRetry, (error) => (error ? reject(error) : resolve(this))));
    }

    #attempt(attempt: OpeningAttempt<ManagedClient>): void {
      this.#logIn();
      this.#sent.password = typeof this.password === 'string' ? this.password : undefined;
      super.connect((error: Error | null) => attempt.finished(error, this));
    }

    /** With a login of its own (Secrets Manager): the user of the startup message and the password the server asks for. */
    #logIn(): void {
      const login = policy.login?.();
      if (login === undefined) return;
      const parameters = (this as unknown as { connectionParameters: { user: string; password: unknown } }).connectionParameters;
      this.user = parameters.user = login.user;
      this.password = parameters.password = login.password;
    }

    #watchConnection(): void {
      // optional: pg's native client (NODE_PG_FORCE_NATIVE) has no protocol connection
      this.connection?.on('errorMessage', () => (this.#errorAwaitingReady = true));
      this.connection?.on('readyForQuery', () => (this.#errorAwaitingReady = false));
    }

    /**
     * A pg Client connects once. For another attempt, the failed connection is discarded and the
     * client takes the state of a newly constructed one (new socket, password function restored),
     * keeping its listeners and its place in pg-pool, hence its max_open slot and pg-pool's timer.
     */
    #prepareRetry(): void {
      const failed = this.connection;
      // its late 'end' would otherwise reach the client and fail the next attempt
      failed.removeAllListeners();
      failed.on('error', () => {});
      failed.stream.destroy();
      const fresh = new pg.Client(this.#clientConfig);
      for (const key of Object.getOwnPropertyNames(fresh)) {
        if (EMITTER_FIELDS.has(key)) continue;
        Object.defineProperty(this, key, Object.getOwnPropertyDescriptor(fresh, key)!);
      }
      this.#watchConnection();
    }

    /** pg-pool's release for this checkout, behind the pool policy. */
    get release(): Release {
      return this.#release;
    }

    set release(poolRelease: Release) {
      this.#poolRelease = poolRelease;
      this.#released = false;
      this.#checkouts++;
      checkedOut.add(this);
    }

    /** Checked out before: it sat idle in the pool, where its socket may have died unnoticed. */
    get reused(): boolean {
      return this.#checkouts > 1;
    }

    /** False once the socket failed or the server ended it (pg itself reacts only to 'close', a turn later), or the client was ended. */
    get usable(): boolean {
      const state = this as unknown as ClientWireState;
      const stream = this.connection?.stream as { destroyed?: boolean; readableEnded?: boolean } | undefined;
      return state._queryable !== false && state._ending !== true && state._ended !== true && stream?.destroyed !== true && stream?.readableEnded !== true;
    }

    /** Past connection_max_lifetime (plus its jitter): closed instead of reused. */
    isExpired(): boolean {
      return lifetime.isDue(this.#retireAt);
    }

    #releaseToPool(err: Error | boolean | undefined): void {
      const poolRelease = this.#poolRelease;
      if (!poolRelease) throw new Error('Release called on a client that is not checked out of a pool');
      if (this.#terminated) return;
      // a second release goes straight to pg-pool, which throws its own double-release error
      if (this.#released) return poolRelease(err);
      this.#released = true;
      checkedOut.delete(this);
      const handed = handedAt.get(this);
      if (handed !== undefined) {
        handedAt.delete(this);
        observer?.released(performance.now() - handed);
      }
      const state = this as unknown as ClientWireState;
      if (state.readyForQuery === false && !this.#errorAwaitingReady) {
        // released while a statement still runs (query_timeout fired, or released too early):
        // the session can't be reused, and the server should stop working for nobody
        this.#cancel(state);
        return poolRelease(err || true);
      }
      if (err) return poolRelease(err);
      const retire = this.isExpired() || (pool.idleCount >= policy.maxIdle && pool.waitingCount === 0);
      return poolRelease(retire || undefined);
    }

    /**
     * Cancels the running statement (if any), closes the socket and gives the client back to
     * pg-pool as broken, so an ending pool need not wait for its holder; the holder's own
     * release later is ignored.
     */
    terminate(): void {
      const state = this as unknown as ClientWireState;
      if (state.readyForQuery === false && !this.#errorAwaitingReady) this.#cancel(state);
      this.connection?.stream?.destroy();
      if (this.#released) return;
      this.#released = true;
      this.#terminated = true;
      checkedOut.delete(this);
      this.#poolRelease?.(true);
    }

    #cancel(state: ClientWireState): void {
      if (typeof state.processID !== 'number' || state.secretKey == null) return;
      const ssl = typeof state.ssl === 'object' ? state.ssl : Boolean(state.ssl);
      cancelBackend(pg, { host: this.host, port: this.port, ssl, timeoutMs: policy.cancelTimeoutMs }, state.processID, state.secretKey);
    }
  }

  const isExpired = (client: PoolClient): boolean => lifetime.limited && client instanceof ManagedClient && client.isExpired();

  class ManagedPool extends pg.Pool implements PostgresSessionPool {
    #ended: Promise<void> | undefined;
    #terminated: (() => Error) | undefined;

    constructor() {
      super({ ...config, Client: ManagedClient as unknown as new () => ClientBase });
      // pg-pool emits 'error' for a failed idle client (already removed); unheard, it crashes the process
      this.on('error', (error: Error) => policy.onIdleError(error));
    }

    override connect(): Promise<PoolClient>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<PoolClient> | void {
      if (!callback) {
        return new Promise((resolve, reject) => this.#connectTimed((error, client) => (client ? resolve(client) : reject(error))));
      }
      // pool.query and our own query take this path: no promise per checkout
      this.#connectTimed((error, client) => (client ? callback(undefined, client, client.release as (release?: unknown) => void) : callback(error, undefined, NO_RELEASE)));
    }

    /** A checkout, timed for the observer when there is one. */
    #connectTimed(done: UsableCallback): void {
      if (observer === undefined) return this.#connectUsable(done);
      const asked = performance.now();
      this.#connectUsable((error, client) => {
        if (client instanceof ManagedClient) {
          const handed = performance.now();
          handedAt.set(client, handed);
          observer?.acquired(handed - asked, !client.reused);
        }
        done(error, client);
      });
    }

    observeSessions(next: SessionObserver): void {
      observer = next;
    }

    /** Idempotent, unlike pg-pool's: a second call (ours or an ORM's) returns the same promise. */
    override end(): Promise<void>;
    override end(callback: () => void): void;
    override end(callback?: () => void): Promise<void> | void {
      this.#ended ??= super.end();
      if (!callback) return this.#ended;
      this.#ended.then(callback, callback);
    }

    traceStatements(tracing: PostgresStatementTracing): void {
      if (Object.hasOwn(ManagedClient.prototype, 'query')) return;
      // installed on this pool's own client class and on the pool itself: no other pool (nor pg.Client) changes
      const pgClient = Object.getPrototypeOf(ManagedClient.prototype) as { query: (...args: unknown[]) => unknown };
      Object.defineProperty(ManagedClient.prototype, 'query', {
        configurable: true,
        writable: true,
        value: function query(this: ClientBase, ...args: unknown[]): unknown {
          return tracing.query(pgClient.query, this, args);
        },
      });
      // an own property in front of the method: pg-pool's pool.query and dbmodule come through it; bound to
      // this pool (the view connection.pool lends passes own properties on as they are, called on the view)
      const connect = ManagedPool.prototype.connect as (this: ManagedPool, callback?: ConnectCallback) => Promise<PoolClient> | void;
      Object.defineProperty(this, 'connect', {
        configurable: true,
        writable: true,
        value: (callback?: ConnectCallback): Promise<PoolClient> | void => tracing.checkout((bound) => connect.call(this, bound), callback),
      });
    }

    terminateInUse(waitingError: () => Error): number {
      this.#terminated = waitingError;
      // pg-pool's queue of waiting callers (a private field, the same in every pg-pool 3.x):
      // failed now, rather than when their connection_timeout runs out
      const queue = (this as unknown as { _pendingQueue?: Array<{ callback(error: Error): void }> })._pendingQueue ?? [];
      for (const waiting of queue.splice(0)) waiting.callback(waitingError());
      const ended = [...checkedOut];
      for (const client of ended) client.terminate();
      return ended.length;
    }

    /** A client from pg-pool that is neither expired nor dead; one found so is closed and another taken. */
    #connectUsable(done: UsableCallback): void {
      super.connect((error: Error | undefined, client: PoolClient | undefined) => {
        if (error || !client) return done(unwrapDecided(error ?? new Error('pg-pool gave neither a client nor an error')));
        if (this.#terminated) {
          // opened after close() ended the sessions in use: nobody may start work on it
          client.release(true);
          return done(this.#terminated());
        }
        if (isExpired(client)) return this.#replace(client, done);
        if (!(client instanceof ManagedClient)) return done(undefined, client);
        this.#handover.handOver(client, done);
      });
    }

    /** A client that sat idle is handed out only once it proved alive (see SessionHandover). */
    readonly #handover = new SessionHandover<ManagedClient, UsableCallback>(
      {
        firstCheckout: (client) => !client.reused,
        isAlive: (client) => client.usable,
        deliver: (client, done) => done(undefined, client),
        replace: (client, done) => this.#replace(client, done),
      },
      policy.checkIdleSessions,
    );

    #replace(client: PoolClient, done: UsableCallback): void {
      client.release(true);
      this.#connectUsable(done);
    }
  }

  const managed = new ManagedPool();
  pool = managed;
  return managed;
}

/**
 * The client config with a password function that records what it answered, so an auth
 * failure can be reported with the exact password (token) that was rejected.
 */
function recordSentPassword(config: ClientConfig): { config: ClientConfig; record: { password: string | undefined } } {
  const record: { password: string | undefined } = { password: undefined };
  const password = config.password as ClientConfig['password'] | PasswordFunction;
  if (typeof password !== 'function') return { config, record };
  const recording: PasswordFunction = async () => {
    const value = await password();
    record.password = typeof value === 'string' ? value : undefined;
    return value;
  };
  // pg-pool hides `password` from enumeration; the copy keeps it hidden
  const copy: ClientConfig = { ...config };
  Object.defineProperty(copy, 'password', { value: recording, enumerable: false, writable: true, configurable: true });
  return { config: copy, record };
}
