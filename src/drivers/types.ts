import type { ConnectionPlan } from '../config/plan.js';
import type { DriverName } from '../driver-name.js';
import type { DbModuleError } from '../errors.js';
import type { Logger } from '../logging.js';

/** @public */
export interface QueryResult<T = Record<string, unknown>> {
  rows: T[];
  /** Rows returned (SELECT) or affected (INSERT/UPDATE/DELETE). */
  rowCount: number;
}

/** Pool counters, the same shape on every driver. @public */
export interface PoolStats {
  /** Sessions open on the server (idle + in use + being opened). */
  total: number;
  idle: number;
  inUse: number;
  /** Callers waiting for a session. */
  waiting: number;
  maxOpen: number;
  maxIdle: number;
}

/** A source of wall-clock time; tests substitute a controllable one. @public */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** One server session held exclusively (a transaction runs on one). */
export interface DriverSession {
  query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
}

/** A login that is not the plan's: the user and password a new session logs in with. */
export interface SessionLogin {
  readonly user: string;
  readonly password: string;
}

/**
 * Everything a driver pool needs, already resolved: the driver reads the plan and decides nothing of its own.
 * `password` is the seam for IAM: called once for every new physical connection.
 */
export interface DriverPoolOptions {
  /** The connection resolved once: endpoint, login user, database, parameters, TLS, pool settings. */
  readonly plan: ConnectionPlan;
  /** Overrides the DSN password; called per physical connection. */
  readonly password?: () => Promise<string>;
  /**
   * With `password`: one valid now without waiting, if known. What a copy of a session's config
   * carries (a peer's control connection opened from it logs in with a valid token).
   */
  readonly currentPassword?: () => string | undefined;
  /**
   * Overrides the plan's user and the DSN's password (Secrets Manager, whose rotation may change
   * both): read synchronously as each physical session starts opening, and again before each
   * retry `onAuthFailure` asks for. Comes with `onAuthFailure`; never with `password`.
   */
  readonly login?: () => SessionLogin;
  /**
   * Called when opening a physical session failed with AUTH_FAILED (the IAM layer invalidates the
   * token there). Resolving `retry: true` makes the driver open the session again, calling `password`
   * again, as long as `connection_timeout` allows; otherwise the driver throws `error` (or the original).
   * It runs beneath the native pool, so ORMs using `native` are covered too.
   */
  readonly onAuthFailure?: (failure: AuthFailure) => Promise<AuthFailureDecision>;
  readonly logger: Logger;
  readonly clock: Clock;
}

export interface AuthFailure {
  readonly error: DbModuleError;
  /** 1 for the first failure of this session's opening, 2 for the failure of its first retry, ... */
  readonly attempt: number;
  /** The password (token) that was rejected, so the caller can invalidate exactly that one. */
  readonly password: string | undefined;
  /** What is left of `connection_timeout` for this opening. */
  readonly remainingMs: number;
}

export interface AuthFailureDecision {
  readonly retry: boolean;
  /** The error to throw instead of the driver's when not retrying (e.g. IAM_AUTH_FAILED with causes). */
  readonly error?: DbModuleError;
}

/**
 * What a pool tells its observer (telemetry's pool metrics) of every checkout, whoever made it
 * (`connection.query`, a transaction, an ORM on `connection.pool`), once
 * {@link DriverPool.observeSessions} was called. Until then nothing is timed. Milliseconds.
 */
export interface SessionObserver {
  /** A caller was handed a session `waitMs` after it asked; `opened`: the session was opened for it (its first checkout). */
  acquired(waitMs: number, opened: boolean): void;
  /** A session came back `useMs` after it was handed out. */
  released(useMs: number): void;
}

/** The driver-specific half of a connection; `Connection` adds events, timing and transactions on top. */
export interface DriverPool {
  readonly driver: DriverName;
  /** The driver's own pool (pg.Pool, mysql2 Pool, a SQLite session pool), with every pool setting enforced. */
  readonly native: unknown;
  /** What `connection.pool` lends ORMs when it is not `native` (SQLite: one better-sqlite3 Database). */
  peerHandle?(): object;
  query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Runs `fn` on one exclusively held session; the session is destroyed instead of reused if `fn` reports it broken. */
  withSession<T>(fn: (session: DriverSession) => Promise<T>): Promise<T>;
  /** Opens (or reuses) a session and runs the dialect's health query. */
  ping(): Promise<void>;
  stats(): PoolStats;
  /** Reports every checkout from now on to `observer` (one observer; a second call replaces it). */
  observeSessions(observer: SessionObserver): void;
  /** Waits for sessions in use to be released, then closes every session. */
  close(): Promise<void>;
}

/** SQL differences between dialects, as data. */
export interface Dialect {
  readonly healthCheckQuery: string;
  begin(isolation?: IsolationLevel): string[];
  savepoint(name: string): string;
  releaseSavepoint(name: string): string;
  rollbackToSavepoint(name: string): string;
}

/** @public */
export type IsolationLevel = 'read uncommitted' | 'read committed' | 'repeatable read' | 'serializable';

export type DriverPoolFactory = (options: DriverPoolOptions) => Promise<DriverPool>;
