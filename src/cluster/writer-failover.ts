import type { DriverPool, QueryResult } from '../drivers/types.js';
import { DbModuleError, messageOf } from '../errors.js';
import type { DatabaseEventEmitter, FailoverReason } from '../events.js';
import type { Logger } from '../logging.js';
import type { ClusterTelemetry } from '../telemetry/types.js';
import type { Queryable, TransactionOptions } from '../transaction.js';
import { failoverReasonOf, provablyNotRun } from './failover-signals.js';
import type { OpenedPool } from './instance-pools.js';
import type { TopologyMonitor } from './monitor.js';
import type { InstanceInfo, TopologySnapshot } from './types.js';
import type { PoolRunner } from './reader-router.js';

/** The writer sessions go to: an instance, its pool, and how to let that pool go. */
interface WriterPool {
  readonly id: string;
  readonly pool: DriverPool;
  close(): Promise<void>;
}

export interface WriterFailoverOptions {
  readonly connection: string;
  /** The connection's own pool and the instance the topology names as its writer. */
  readonly initial: { readonly id: string; readonly pool: DriverPool };
  readonly monitor: TopologyMonitor;
  /** Opens a pool to `instance` by its instance endpoint (never through the cluster's DNS name). */
  readonly openWriter: (instance: InstanceInfo) => Promise<OpenedPool>;
  /** True when a session of `pool` answers as a writer (not in recovery, not read only). */
  readonly answersAsWriter: (pool: DriverPool) => Promise<boolean>;
  readonly runner: PoolRunner;
  /** `cluster.failover_refresh`: how often the topology is read while the writer is sought. */
  readonly refreshMs: number;
  /** `cluster.failover_timeout`. */
  readonly timeoutMs: number;
  readonly events: DatabaseEventEmitter;
  readonly logger: Logger;
  /** Telemetry on: each failover in a `writer.failover` span. */
  readonly telemetry?: ClusterTelemetry | undefined;
}

/** A statement is tried on at most this many writers (the old one, the new one, one more). */
const MAX_WRITER_ATTEMPTS = 3;

/**
 * Where writes go, and how they get there again after a failover (DESIGN §9). A network error on
 * the writer has it asked once whether it still answers as one; a read-only error on a write, or
 * a topology naming another writer, starts a failover at once. While one runs the topology is
 * read every `failover_refresh` until the writer it names answers as a writer by its instance
 * endpoint; then that pool takes the writes, the old one closes (idle sessions now, those in use
 * when released) and nothing is handed out to the old writer again.
 *
 * Work waits while a failover runs. A statement that provably never ran (no session, a dead
 * session, a read-only refusal) runs again on the new writer; one that was in flight fails as it
 * did; a transaction runs again only if it never started.
 */
export class WriterFailover implements Queryable {
  readonly #options: WriterFailoverOptions;
  #current: WriterPool;
  /** A check or a failover under way: resolves to its failure, undefined when writes can go on. */
  #pending: Promise<DbModuleError | undefined> | undefined;
  #closed = false;
  readonly #unsubscribe: () => void;

  constructor(options: WriterFailoverOptions) {
    this.#options = options;
    const { pool } = options.initial;
    this.#current = {
      id: options.initial.id,
      pool,
      close: () => {
        // the connection's own pool, left by a failover (or closing with the connection): its metrics stop
        options.telemetry?.poolClosed(pool);
        return pool.close();
      },
    };
    this.#unsubscribe = options.monitor.subscribe((snapshot) => this.#onTopology(snapshot));
  }

  /** The writer's pool now. */
  get pool(): DriverPool {
    return this.#current.pool;
  }

  /** The writer's instance id now. */
  get writerId(): string {
    return this.#current.id;
  }

  /** True while the writer is being checked or sought. */
  get inProgress(): boolean {
    return this.#pending !== undefined;
  }

  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    return this.#query(sql, params, 1);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await this.#settled();
      const pool = this.#current.pool;
      let started = false;
      try {
        return await this.#options.runner.transactionOn(
          pool,
          (tx) => {
            started = true;
            return fn(tx);
          },
          options,
        );
      } catch (error) {
        this.#suspect(error, pool);
        if (started || !this.#runsAgain(error, pool, attempt)) throw error;
      }
    }
  }

  /** Resolves once no check or failover is under way; rejects with its failure (`FAILOVER_FAILED`). */
  async #settled(): Promise<void> {
    const failure = await this.#pending;
    if (failure) throw failure;
  }

  #query<T>(sql: string, params: readonly unknown[] | undefined, attempt: number): Promise<QueryResult<T>> {
    // the steady state: no await, no extra promise
    if (this.#pending) return this.#settled().then(() => this.#queryNow<T>(sql, params, attempt));
    return this.#queryNow<T>(sql, params, attempt);
  }

  #queryNow<T>(sql: string, params: readonly unknown[] | undefined, attempt: number): Promise<QueryResult<T>> {
    const pool = this.#current.pool;
    return this.#options.runner.queryOn<T>(pool, sql, params).catch((error: unknown) => {
      this.#suspect(error, pool);
      if (!this.#runsAgain(error, pool, attempt)) throw error;
      return this.#query<T>(sql, params, attempt + 1);
    });
  }

  /** The work failed without running and a writer is being sought (or was found): it may run there. */
  #runsAgain(error: unknown, pool: DriverPool, attempt: number): boolean {
    if (this.#closed || attempt >= MAX_WRITER_ATTEMPTS) return false;
    const moved = pool !== this.#current.pool;
    // the old writer's pool closed under it: it never ran there
    if (moved && error instanceof DbModuleError && error.code === 'DATABASE_CLOSED') return true;
    return (moved || this.#pending !== undefined) && provablyNotRun(error);
  }

  /** An error from the writer's pool: a read-only error starts a failover, a network error a check. */
  #suspect(error: unknown, pool: DriverPool): void {
    if (this.#pending || this.#closed || pool !== this.#current.pool) return;
    const reason = failoverReasonOf(error);
    if (reason === undefined) return;
    const code = error instanceof DbModuleError ? error.code : undefined;
    this.#begin(async () => {
      // one session that died is not a failover: the writer is asked first
      if (reason === 'network' && (await this.#answers(this.#current.pool))) return undefined;
      return this.#failover(reason, code);
    });
  }

  #onTopology(snapshot: TopologySnapshot): void {
    if (this.#pending || this.#closed) return;
    const writer = snapshot.instances.find((instance) => instance.role === 'writer');
    if (writer && writer.id !== this.#current.id) this.#begin(() => this.#failover('topology', undefined));
  }

  #begin(run: () => Promise<DbModuleError | undefined>): void {
    const pending = run()
      .catch((error: unknown) => new DbModuleError('FAILOVER_FAILED', `connection "${this.#options.connection}": the failover failed: ${messageOf(error)}`, { connection: this.#options.connection, cause: error, retryable: true }))
      .finally(() => {
        if (this.#pending === pending) this.#pending = undefined;
      });
    this.#pending = pending;
  }

  #failover(reason: FailoverReason, code: string | undefined): Promise<DbModuleError | undefined> {
    const telemetry = this.#options.telemetry;
    if (!telemetry) return this.#seekWriter(reason, code);
    return telemetry.failover({ from: this.#current.id, reason, code }, () => this.#seekWriter(reason, code), () => this.#current.id);
  }

  /** Reads the topology every `failover_refresh` until the writer it names answers as one, or `failover_timeout` passes. */
  async #seekWriter(reason: FailoverReason, code: string | undefined): Promise<DbModuleError | undefined> {
    const { connection, events, logger, monitor, refreshMs, timeoutMs } = this.#options;
    const from = this.#current.id;
    const started = performance.now();
    events.emit('failover.started', { connection, from, reason, ...(code ? { code } : {}) });
    logger.warn('Writer failover started: writes wait for the new writer', { connection, from, reason, ...(code ? { code } : {}) });
    const candidates = new Map<string, Promise<OpenedPool>>();
    let chosen: WriterPool | undefined;
    try {
      while (!this.#closed && performance.now() - started < timeoutMs) {
        const snapshot = await monitor.refresh().catch(() => monitor.snapshot);
        const writer = snapshot?.instances.find((instance) => instance.role === 'writer');
        if (writer) chosen = await this.#confirm(writer, candidates);
        if (chosen) break;
        await delay(Math.min(refreshMs, Math.max(0, timeoutMs - (performance.now() - started))));
      }
    } finally {
      for (const [id, opened] of candidates) {
        if (id !== chosen?.id) void opened.then((pool) => pool.close(), () => {});
      }
    }
    const durationMs = performance.now() - started;
    if (!chosen) {
      if (this.#closed) return new DbModuleError('DATABASE_CLOSED', `connection "${connection}" closed during a failover`, { connection });
      const message = `connection "${connection}": no instance answered as the writer within failover_timeout (${timeoutMs} ms) after ${from} failed (${reason})`;
      events.emit('failover.failed', { connection, from, durationMs, message });
      logger.error('Writer failover failed', { connection, from, reason, duration_ms: Math.round(durationMs) });
      return new DbModuleError('FAILOVER_FAILED', message, {
        connection,
        retryable: true,
        solutions: ['Check the cluster in the RDS console: is a writer available?', 'Raise cluster.failover_timeout if failovers take longer here'],
      });
    }
    if (chosen !== this.#current) {
      const old = this.#current;
      this.#current = chosen;
      // idle sessions close now, those in use when released; the pool hands out nothing more
      void old.close().catch((error: unknown) => logger.debug('Closing the old writer pool failed', { connection, from, error: messageOf(error) }));
    }
    events.emit('failover.completed', { connection, from, to: chosen.id, durationMs });
    logger.info('Writer failover completed', { connection, from, to: chosen.id, duration_ms: Math.round(durationMs) });
    return undefined;
  }

  /** The pool of `writer` when a session of it answers as the writer; undefined otherwise (asked again later). */
  async #confirm(writer: InstanceInfo, candidates: Map<string, Promise<OpenedPool>>): Promise<WriterPool | undefined> {
    if (writer.id === this.#current.id) return (await this.#answers(this.#current.pool)) ? this.#current : undefined;
    let opening = candidates.get(writer.id);
    if (!opening) {
      opening = this.#options.openWriter(writer);
      candidates.set(writer.id, opening);
    }
    const opened = await opening.catch(() => undefined);
    if (!opened || !(await this.#answers(opened.pool))) return undefined;
    return { id: writer.id, pool: opened.pool, close: () => opened.close() };
  }

  async #answers(pool: DriverPool): Promise<boolean> {
    try {
      return await this.#options.answersAsWriter(pool);
    } catch {
      return false;
    }
  }

  /** Stops following the writer (a failover under way ends); the writer's pool stays for {@link closeWriter}. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    await this.#pending;
  }

  /** Closes the writer's pool now (the connection's own, or the one a failover opened, with its IAM tokens). */
  closeWriter(): Promise<void> {
    return this.#current.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
