import type { ConnectionPlan } from '../config/plan.js';
import type { ConnectionConfig, DriverName, ReadFrom, ReaderSelection } from '../config/types.js';
import type { NativePools } from '../drivers/native-pools.js';
import type { DriverPool, QueryResult } from '../drivers/types.js';
import { DbModuleError } from '../errors.js';
import type { Queryable, TransactionOptions } from '../transaction.js';
import type { InstancePool } from './instance-pools.js';

/** How a connection runs work on a pool of its own, with its events and its in-flight count. */
export interface PoolRunner {
  queryOn<T>(pool: DriverPool, sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  transactionOn<T>(pool: DriverPool, fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

/**
 * What `connection.reader()` gives: statements and transactions on readers, and `pool`, a
 * native-pool-shaped object (pg.Pool, mysql2 Pool) routing each checkout the same way, for ORMs.
 * @public
 */
export interface Reader<D extends DriverName = DriverName> extends Queryable {
  readonly driver: D;
  readonly pool: NativePools[D];
  /** The connection's settings and plan (its readers share them). */
  readonly config: ConnectionConfig;
  readonly plan: ConnectionPlan;
}

/** A reader the router may choose, with the lag its topology reports. */
export interface ReaderCandidate {
  readonly pool: InstancePool;
  readonly lagMs?: number;
}

export interface ReaderRouterOptions {
  /** The connection's plan. */
  readonly plan: ConnectionPlan;
  readonly readFrom: ReadFrom;
  readonly selection: ReaderSelection;
  /** The readers eligible now: healthy and within max_replica_lag. */
  readonly candidates: () => readonly ReaderCandidate[];
  readonly writer: Queryable;
  /** The writer's native pool now, for `pool` checkouts that go to the writer. */
  readonly writerNative: () => unknown;
  /** Builds the driver's routing native pool over a chooser. */
  readonly routingPool: (choose: () => unknown) => unknown;
  readonly runner: PoolRunner;
  /** A reader could not be reached: skip it until it answers again. */
  readonly markUnhealthy: (pool: InstancePool, error: DbModuleError) => void;
  readonly random?: () => number;
}

/** Failures that mean the reader was not reached, so the work never started there and may go elsewhere. */
const MOVABLE: ReadonlySet<string> = new Set(['CONNECT_FAILED', 'CONNECT_TIMEOUT', 'CONNECTION_LOST', 'TLS_FAILED']);

/** At most this many readers are tried for one statement before the last failure is thrown. */
const MAX_READERS_TRIED = 3;

/**
 * `connection.reader()`: statements and transactions on a reader chosen by `reader_selection`
 * among the healthy ones within `max_replica_lag`, or on the writer as `read_from` allows. A
 * reader that cannot be reached is skipped and the work, not yet started, goes to another.
 */
export class ReaderRouter implements Reader {
  readonly #options: ReaderRouterOptions;
  readonly driver: DriverName;
  readonly pool: NativePools[DriverName];
  readonly config: ConnectionConfig;
  readonly plan: ConnectionPlan;

  constructor(options: ReaderRouterOptions) {
    this.#options = options;
    this.plan = options.plan;
    this.config = options.plan.settings;
    this.driver = options.plan.driver;
    this.pool = options.routingPool(() => this.#chooseNative()) as NativePools[DriverName];
  }

  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    return this.#route(
      (pool) => this.#options.runner.queryOn<T>(pool, sql, params),
      () => this.#options.writer.query<T>(sql, params),
      (error) => MOVABLE.has(error.code) && error.retryable,
    );
  }

  /** The transaction runs on one session of one reader; it moves only if that session could not be opened. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    let started = false;
    const body = (tx: Queryable): Promise<T> => {
      started = true;
      return fn(tx);
    };
    return this.#route(
      (pool) => this.#options.runner.transactionOn(pool, body, options),
      () => this.#options.writer.transaction(fn, options),
      (error) => !started && MOVABLE.has(error.code),
    );
  }

  async #route<R>(onReader: (pool: DriverPool) => Promise<R>, onWriter: () => Promise<R>, movable: (error: DbModuleError) => boolean): Promise<R> {
    const { readFrom } = this.#options;
    if (readFrom === 'writer') return onWriter();
    let tried: Set<InstancePool> | undefined;
    let lastError: DbModuleError | undefined;
    for (let attempt = 0; attempt < MAX_READERS_TRIED; attempt++) {
      const chosen = this.#choose(tried);
      if (!chosen) break;
      chosen.inFlight++;
      try {
        const { pool } = chosen.ready ?? (await chosen.opened);
        return await onReader(pool);
      } catch (error) {
        if (!(error instanceof DbModuleError) || !movable(error)) throw error;
        lastError = error;
        (tried ??= new Set()).add(chosen);
        this.#options.markUnhealthy(chosen, error);
      } finally {
        chosen.inFlight--;
      }
    }
    if (readFrom === 'readers-or-writer') return onWriter();
    throw this.#noReader(lastError);
  }

  #noReader(lastError: DbModuleError | undefined): DbModuleError {
    return new DbModuleError(
      'CONNECT_FAILED',
      `connection "${this.plan.name}": no reader is available (read_from: readers)${lastError ? `; the last one tried failed: ${lastError.message}` : ': none is healthy and within max_replica_lag'}`,
      {
        connection: this.plan.name,
        retryable: true,
        ...(lastError ? { cause: lastError } : {}),
        solutions: ['Set cluster.read_from: readers-or-writer to read from the writer when no reader is available', 'Or raise cluster.max_replica_lag'],
      },
    );
  }

  /** For the routing native pool: a reader whose pool is open now, else the writer's as `read_from` allows. */
  #chooseNative(): unknown {
    const { readFrom } = this.#options;
    if (readFrom === 'writer') return this.#options.writerNative();
    const chosen = this.#pick(this.#options.candidates().filter((candidate) => candidate.pool.ready !== undefined));
    if (chosen?.ready) return chosen.ready.pool.native;
    if (readFrom === 'readers-or-writer') return this.#options.writerNative();
    throw this.#noReader(undefined);
  }

  #choose(tried: ReadonlySet<InstancePool> | undefined): InstancePool | undefined {
    const candidates = this.#options.candidates();
    return this.#pick(tried ? candidates.filter((candidate) => !tried.has(candidate.pool)) : candidates);
  }

  #pick(candidates: readonly ReaderCandidate[]): InstancePool | undefined {
    if (candidates.length === 0) return undefined;
    const random = this.#options.random ?? Math.random;
    switch (this.#options.selection) {
      case 'least-connections':
        return lowest(candidates, (candidate) => candidate.pool.inFlight, random).pool;
      case 'lowest-lag':
        return lowest(candidates, (candidate) => candidate.lagMs ?? 0, random).pool;
      default:
        return (candidates[Math.floor(random() * candidates.length)] ?? candidates[0])!.pool;
    }
  }
}

/** The candidate with the lowest `score`, ties broken at random (so equal readers share the load). */
function lowest<C>(candidates: readonly C[], score: (candidate: C) => number, random: () => number): C {
  const best = Math.min(...candidates.map(score));
  const tied = candidates.filter((candidate) => score(candidate) === best);
  return tied[Math.floor(random() * tied.length)] ?? tied[0]!;
}
