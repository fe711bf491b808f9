import type { Dialect, DriverSession, IsolationLevel, QueryResult } from './drivers/types.js';
import { DbModuleError, QueryError, TransactionError, messageOf, type TransactionOutcome } from './errors.js';
import type { DatabaseEventEmitter } from './events.js';
import { diedBeforeRunning, markSessionBroken } from './drivers/session-health.js';
import type { EndpointTelemetry } from './telemetry/types.js';

/** @public */
export interface TransactionOptions {
  isolation?: IsolationLevel;
}

/** What a transaction callback receives: queries on the transaction's session, and nested transactions (savepoints). @public */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

interface TransactionContext {
  readonly connection: string;
  readonly session: DriverSession;
  readonly dialect: Dialect;
  readonly events: DatabaseEventEmitter;
  /** Spans and metrics of the session's endpoint, when telemetry is on. */
  readonly telemetry?: EndpointTelemetry | undefined;
}

/**
 * One transaction scope on one session: the outermost is BEGIN/COMMIT, nested ones are savepoints.
 * A scope in which a statement failed is never committed, on any driver: PostgreSQL would silently
 * turn the COMMIT into a ROLLBACK, and MySQL would commit the statements that happened to succeed.
 */
class TransactionScope implements Queryable {
  readonly #context: TransactionContext;
  readonly #depth: number;
  #failed: unknown;
  #finished = false;
  #children = 0;

  constructor(context: TransactionContext, depth: number) {
    this.#context = context;
    this.#depth = depth;
  }

  async query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    if (this.#finished) throw this.#finishedError();
    const { events, connection, session, telemetry } = this.#context;
    const started = performance.now();
    try {
      const result = await (telemetry === undefined ? session.query<T>(sql, params) : telemetry.query<T>(session, sql, params));
      if (events.has('query.executed')) {
        events.emit('query.executed', { connection, sql, durationMs: performance.now() - started, rowCount: result.rowCount, inTransaction: true });
      }
      return result;
    } catch (error) {
      this.#failed ??= error;
      if (events.has('query.error')) {
        const code = error instanceof DbModuleError ? error.code : 'QUERY_FAILED';
        events.emit('query.error', { connection, sql, durationMs: performance.now() - started, code, message: messageOf(error), inTransaction: true });
      }
      throw error;
    }
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (this.#finished) return Promise.reject(this.#finishedError());
    if (options.isolation) {
      return Promise.reject(
        new QueryError('TRANSACTION_FAILED', `connection "${this.#context.connection}": a nested transaction cannot set an isolation level (it is a savepoint of the outer one)`, {
          connection: this.#context.connection,
        }),
      );
    }
    const name = `dbmodule_sp_${this.#depth + 1}_${++this.#children}`;
    const { dialect, telemetry } = this.#context;
    const depth = this.#depth + 1;
    const run = () =>
      runScope(this.#context, depth, fn, {
        begin: [dialect.savepoint(name)],
        commit: dialect.releaseSavepoint(name),
        rollback: dialect.rollbackToSavepoint(name),
        isolation: 'savepoint',
      });
    return telemetry === undefined ? run() : telemetry.transaction(depth, 'savepoint', run);
  }

  /** Marks the scope done; returns the error that poisoned it, if any. */
  finish(): unknown {
    this.#finished = true;
    return this.#failed;
  }

  #finishedError(): DbModuleError {
    return new QueryError('TRANSACTION_FAILED', `connection "${this.#context.connection}": this transaction has already finished; use the connection instead`, {
      connection: this.#context.connection,
    });
  }
}

interface ScopeStatements {
  begin: string[];
  commit: string;
  rollback: string;
  isolation: string;
}

async function runScope<T>(context: TransactionContext, depth: number, fn: (tx: Queryable) => Promise<T>, statements: ScopeStatements): Promise<T> {
  const { events, connection } = context;
  const started = performance.now();
  for (const sql of statements.begin) await send(context, sql);
  events.emit('transaction.started', { connection, isolation: statements.isolation, depth });
  const scope = new TransactionScope(context, depth);
  const rolledBack = async (error: unknown): Promise<never> => {
    await rollback(context, statements.rollback, error);
    events.emit('transaction.rolled_back', { connection, durationMs: performance.now() - started, depth, reason: messageOf(error) });
    throw error;
  };

  let result: T;
  try {
    result = await fn(scope);
  } catch (error) {
    scope.finish();
    return rolledBack(depth === 0 ? lostBeforeCommit(connection, error) : error);
  }

  const poisoned = scope.finish();
  if (poisoned !== undefined) {
    const lost = isLost(poisoned);
    return rolledBack(
      new TransactionError(
        `connection "${connection}": the transaction was rolled back because a statement in it failed (${messageOf(poisoned)}); rethrow the error from the callback, or use a nested transaction to recover from it`,
        { connection, cause: poisoned, outcome: 'rolled-back', retryable: lost || (poisoned instanceof DbModuleError && poisoned.retryable) },
      ),
    );
  }

  try {
    await send(context, statements.commit);
  } catch (error) {
    return rolledBack(depth === 0 ? lostAtCommit(connection, error) : error);
  }
  events.emit('transaction.committed', { connection, durationMs: performance.now() - started, depth });
  return result;
}

/** BEGIN, COMMIT, ROLLBACK and savepoints: statements like any other, in spans when telemetry is on. */
function send(context: TransactionContext, sql: string): Promise<QueryResult<unknown>> {
  return context.telemetry === undefined ? context.session.query(sql) : context.telemetry.query(context.session, sql);
}

function isLost(error: unknown): error is DbModuleError {
  return error instanceof DbModuleError && error.code === 'CONNECTION_LOST';
}

/**
 * The session was lost while the callback ran: the server never got a COMMIT, so it rolled the
 * transaction back (MySQL's implicitly committing statements, DDL among them, excepted).
 */
function lostBeforeCommit(connection: string, error: unknown): unknown {
  return isLost(error) ? lostTransaction(connection, error, 'rolled-back') : error;
}

/**
 * The session was lost (or timed out) at COMMIT. Unless COMMIT provably never left the client,
 * it may have been applied: even PostgreSQL's "terminating connection" can follow a COMMIT that
 * committed locally while waiting for a synchronous standby.
 */
function lostAtCommit(connection: string, error: unknown): unknown {
  if (!(isLost(error) || (error instanceof DbModuleError && error.code === 'QUERY_TIMEOUT'))) return error;
  return lostTransaction(connection, error, diedBeforeRunning(error) ? 'rolled-back' : 'unknown');
}

function lostTransaction(connection: string, error: DbModuleError, outcome: TransactionOutcome): TransactionError {
  const what =
    outcome === 'unknown'
      ? `the session was lost while COMMIT was in flight (${error.message}): the transaction may or may not have been committed; check before running it again`
      : `the transaction's session was lost before COMMIT went out (${error.message}): nothing of it was committed, so it is safe to run again`;
  return markSessionBroken(new TransactionError(`connection "${connection}": ${what}`, { connection, cause: error, outcome, retryable: outcome === 'rolled-back' }));
}

/** Best-effort rollback: a failed ROLLBACK (dead session) must not hide the error that caused it. */
async function rollback(context: TransactionContext, sql: string, original: unknown): Promise<void> {
  try {
    await send(context, sql);
  } catch (rollbackError) {
    if (original instanceof Error && !('rollbackError' in original)) {
      Object.defineProperty(original, 'rollbackError', { value: rollbackError, enumerable: false });
    }
    // The session may still be inside the transaction: the pool must destroy it, not reuse it.
    markSessionBroken(original);
  }
}

/** Runs `fn` in a top-level transaction on `session`. */
export function runTransaction<T>(
  context: TransactionContext,
  fn: (tx: Queryable) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  return runScope(context, 0, fn, {
    begin: context.dialect.begin(options.isolation),
    commit: 'COMMIT',
    rollback: 'ROLLBACK',
    isolation: options.isolation ?? 'default',
  });
}
