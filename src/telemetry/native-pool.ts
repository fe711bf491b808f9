/**
 * Statement spans for what runs through `connection.pool` (DESIGN §11, §13): Kysely, Drizzle,
 * Knex, TypeORM, Sequelize and Prisma all send their statements through the native pool dbmodule
 * lends, and each statement gets the CLIENT span `connection.query` gets, made by the same code
 * ({@link EndpointTelemetry.statement}, which shares its span building with `query`). This file
 * only finds, for each driver's call shapes, the statement text and the moment the statement
 * ended; the hooks it installs exist only with telemetry on.
 *
 * - PostgreSQL: `query` of the pool's own client class (`ManagedClient`, one class per pool) and
 *   the pool's `connect`, see `PostgresSessionPool.traceStatements`. Every statement of a client
 *   passes there: `pool.query`, `client.query` on a client from `pool.connect()`, and dbmodule's own.
 * - MySQL: `query` and `execute` of each session the session pool adopts, and its checkout, see
 *   `MysqlSessionPool.traceStatements`. Not mysql2's `diagnostics_channel` (`mysql2:query`,
 *   `mysql2:execute`): it is published from mysql2 3.20 on (dbmodule supports ^3.11), says
 *   nothing of which connection or pool a statement ran on (a subscriber would trace every mysql2
 *   pool of the process, Kysely's control connection included), and its `query` text is the one
 *   mysql2 formatted, parameter values interpolated.
 * - SQLite: `prepare` (its statements' `run`, `get`, `all`, `iterate`) and `exec` of the lent
 *   Database's view (`borrowedPool`), the one object ORMs are given; dbmodule's own statements
 *   use its pool's handles directly.
 *
 * No double spans: dbmodule's own statements run in their span with tracing suppressed (see
 * `OtelEndpointTelemetry.query`), and `statement()` starts nothing there. A driver instrumentation
 * (`@opentelemetry/instrumentation-pg`, `-mysql2`) runs beneath the span, suppressed too.
 *
 * Trace context: a statement's span is the child of the context its call was made in, and the
 * callbacks it is given run in that context (pg and mysql2 call them from socket events, in the
 * context the socket was opened in). Checkouts run with tracing suppressed and call back in the
 * caller's context: a waiter served by another caller's release is not run in the releaser's.
 */
import type { ClientBase } from 'pg';
import type { Pool, PoolConnection } from 'mysql2';
import type { DriverPool } from '../drivers/types.js';
import type { PostgresSessionPool, PostgresStatementTracing } from '../drivers/postgres/session-pool.js';
import { mysqlSessionPoolOf, type MysqlStatementTracing } from '../drivers/mysql/session-pool.js';
import { toPostgresError } from '../drivers/postgres/errors.js';
import { toMysqlError } from '../drivers/mysql/errors.js';
import { toSqliteError } from '../drivers/sqlite/errors.js';
import type { EndpointTelemetry, LentMethodWrapper, StatementSpan } from './types.js';

/**
 * Set on a statement's options object (`{ sql | text, [STATEMENT_TEXT]: text }`) by a caller that
 * sends text it formatted itself, values inlined (an integration emulating a driver's client-side
 * escaping): the parameterised text, which the span carries instead. A `Symbol.for` key, so the
 * caller needs no import of telemetry code.
 */
export const STATEMENT_TEXT = Symbol.for('dbmodule.statement.text');

type Call = (...args: unknown[]) => unknown;
type NodeCallback = (this: unknown, error: unknown, ...results: unknown[]) => unknown;
/** Classifies a driver's error as dbmodule's own statements' errors are (the span's `error.type`). */
type Classify = (error: unknown) => unknown;

/**
 * Traces what runs through `pool`'s native pool in `endpoint`'s spans: hooks on the native pool
 * (PostgreSQL, MySQL; undefined is returned), or the wrapper of the lent Database's view (SQLite).
 * A pool without dbmodule's session pool beneath it (a test's stand-in) is left as it is.
 */
export function traceNativePool(pool: DriverPool, endpoint: EndpointTelemetry, connection: string): LentMethodWrapper | undefined {
  switch (pool.driver) {
    case 'postgres': {
      const native = pool.native as Partial<PostgresSessionPool> | undefined;
      if (typeof native?.traceStatements === 'function') native.traceStatements(postgresTracing(endpoint, (error) => toPostgresError(error, { connection, phase: 'query' })));
      return undefined;
    }
    case 'mysql':
      mysqlSessionPoolOf(pool.native as Pool)?.traceStatements(mysqlTracing(endpoint, (error) => toMysqlError(error, { connection, phase: 'query' })));
      return undefined;
    case 'sqlite':
      return sqliteLentTracing(endpoint, (error) => toSqliteError(error, { connection, phase: 'query' }));
  }
}

/** A node-style callback that ends `span` (failed on an error), then runs `callback` in the caller's context. */
function settling(span: StatementSpan, classify: Classify, callback: NodeCallback): NodeCallback {
  const inCallerContext = span.bind(callback);
  return function (this: unknown, error: unknown, ...results: unknown[]): unknown {
    if (error) span.fail(classify(error));
    else span.end();
    return inCallerContext.call(this, error, ...results);
  };
}

/** Runs the driver call in `span`; a call that throws ends it failed. */
function running<T>(span: StatementSpan, classify: Classify, call: () => T): T {
  try {
    return span.run(call);
  } catch (error) {
    span.fail(classify(error));
    throw error;
  }
}

function isObject(value: unknown): value is Record<PropertyKey, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The text of a statement given as a string or as an options object with `field` (pg: `text`, mysql2: `sql`). */
function statementText(statement: unknown, field: 'text' | 'sql'): string | undefined {
  if (typeof statement === 'string') return statement;
  if (!isObject(statement)) return undefined;
  const declared = statement[STATEMENT_TEXT];
  if (typeof declared === 'string') return declared;
  const text = statement[field];
  return typeof text === 'string' ? text : undefined;
}

/** A copy of the options object `statement`: its prototype and every property. */
function copyOf(statement: Record<PropertyKey, unknown>): Record<PropertyKey, unknown> {
  return Object.defineProperties(Object.create(Object.getPrototypeOf(statement) as object | null) as Record<PropertyKey, unknown>, Object.getOwnPropertyDescriptors(statement));
}

/**
 * The call's arguments with the statement's text as `span` sends it (a sqlcommenter comment when
 * that is on): a text replaced, an options object copied (the caller's is left as it was). A
 * named prepared statement (pg's `name`) keeps its text; objects that run themselves (pg's
 * Submittables, mysql2's commands) are not copied.
 */
function commented(args: unknown[], field: 'text' | 'sql', span: StatementSpan): unknown[] {
  const statement = args[0];
  if (typeof statement === 'string') {
    const sent = span.sent(statement);
    return sent === statement ? args : [sent, ...args.slice(1)];
  }
  if (!isObject(statement) || typeof statement[field] !== 'string' || statement.name !== undefined || typeof statement.submit === 'function' || typeof statement.emit === 'function') return args;
  const text = statement[field] as string;
  const sent = span.sent(text);
  if (sent === text) return args;
  const copy = copyOf(statement);
  copy[field] = sent;
  return [copy, ...args.slice(1)];
}

// ---------------------------------------------------------------- PostgreSQL

/** What pg calls on a query it runs (pg's own Query, pg-cursor, pg-query-stream: pg's Submittable). */
interface Submitted {
  submit: Call;
  handleError: (this: unknown, error: unknown, ...rest: unknown[]) => unknown;
  handleReadyForQuery: (this: unknown, ...rest: unknown[]) => unknown;
}

function postgresTracing(endpoint: EndpointTelemetry, classify: Classify): PostgresStatementTracing {
  return {
    checkout: (connect, callback) => endpoint.checkout(connect, callback),
    query(query: Call, client: ClientBase, given: unknown[]): unknown {
      // pg's shapes: (text, values?, callback?), (config { text, values?, callback? }, values?, callback?), (submittable, callback?)
      const text = statementText(given[0], 'text');
      const span = text === undefined ? undefined : endpoint.statement(text);
      if (span === undefined) return query.apply(client, given);
      const args = commented(given, 'text', span);
      const config = args[0];

      if (isObject(config) && typeof config.submit === 'function') {
        const submitted = config as unknown as Submitted;
        if (typeof submitted.handleError !== 'function' || typeof submitted.handleReadyForQuery !== 'function') {
          span.end();
          return query.apply(client, args);
        }
        // pg ends every query with handleReadyForQuery, or handleError when the connection fails under it;
        // what they call back (pg.Query's callback, a cursor's) runs in the caller's context
        const handleError = span.bind(submitted.handleError);
        const handleReadyForQuery = span.bind(submitted.handleReadyForQuery);
        submitted.handleError = function (this: unknown, error: unknown, ...rest: unknown[]): unknown {
          span.fail(classify(error));
          return handleError.call(this, error, ...rest);
        };
        submitted.handleReadyForQuery = function (this: unknown, ...rest: unknown[]): unknown {
          span.end();
          return handleReadyForQuery.apply(this, rest);
        };
        return running(span, classify, () => query.apply(client, args));
      }

      const at = typeof args[2] === 'function' ? 2 : typeof args[1] === 'function' ? 1 : -1;
      if (at >= 0) {
        const traced = args.slice();
        traced[at] = settling(span, classify, args[at] as NodeCallback);
        return running(span, classify, () => query.apply(client, traced));
      }
      if (isObject(config) && typeof config.callback === 'function') {
        // a copy, as pg copies it: the caller's config object is left as it was
        const copy = copyOf(config);
        copy.callback = settling(span, classify, config.callback as NodeCallback);
        return running(span, classify, () => query.apply(client, [copy, ...args.slice(1)]));
      }
      // no callback: pg returns a promise; the one returned settles as it does, once the span has ended
      const result = running(span, classify, () => query.apply(client, args));
      if (!(result instanceof Promise)) {
        span.end();
        return result;
      }
      return result.then(
        (value: unknown) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          span.fail(classify(error));
          throw error;
        },
      );
    },
  };
}

// ---------------------------------------------------------------- MySQL

/** A mysql2 command (Query, Execute): an EventEmitter, with `onResult` when given a callback. */
interface Command {
  sql?: unknown;
  onResult?: unknown;
  emit: (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;
}

function isCommand(value: unknown): value is Command {
  return isObject(value) && typeof value.emit === 'function' && typeof value.once === 'function';
}

/**
 * Ends `span` when an event-mode command (no callback: rows as events, `stream()`) ends; its
 * events still reach their listeners, in the caller's context (not the socket's).
 */
function settleOnEnd(command: Command, span: StatementSpan, classify: Classify): void {
  const emit = span.bind(command.emit);
  let failure: unknown;
  command.emit = function (this: unknown, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'error') failure ??= args[0] ?? new Error('mysql2 command failed');
    else if (event === 'end') {
      if (failure === undefined) span.end();
      else span.fail(classify(failure));
    }
    return emit.call(this, event, ...args);
  };
}

function mysqlTracing(endpoint: EndpointTelemetry, classify: Classify): MysqlStatementTracing {
  // mysql2's shapes: (sql | options { sql, values? } | a Query command (pool.query's), values?, callback?)
  const traced = (call: Call, connection: PoolConnection, given: unknown[], prepared: boolean): unknown => {
    const text = statementText(given[0], 'sql');
    const span = text === undefined ? undefined : endpoint.statement(text);
    if (span === undefined) return call.apply(connection, given);
    // a prepared statement (execute) keeps its text: mysql2 caches one server statement per text
    const args = prepared ? given : commented(given, 'sql', span);
    const sql = args[0];

    if (isCommand(sql)) {
      if (!prepared && typeof sql.sql === 'string') sql.sql = span.sent(sql.sql);
      // pool.query hands the session its command: its callback is onResult (mysql2 formats sql later, in query)
      if (typeof sql.onResult === 'function') sql.onResult = settling(span, classify, sql.onResult as NodeCallback);
      else settleOnEnd(sql, span, classify);
      return running(span, classify, () => call.apply(connection, args));
    }
    const at = typeof args[1] === 'function' ? 1 : typeof args[2] === 'function' ? 2 : -1;
    if (at >= 0) {
      const withCallback = args.slice();
      withCallback[at] = settling(span, classify, args[at] as NodeCallback);
      return running(span, classify, () => call.apply(connection, withCallback));
    }
    const command = running(span, classify, () => call.apply(connection, args));
    if (isCommand(command)) settleOnEnd(command, span, classify);
    else span.end();
    return command;
  };
  return {
    checkout: (connect, callback) => endpoint.checkout(connect, callback),
    query: (call, connection, args) => traced(call, connection, args, false),
    execute: (call, connection, args) => traced(call, connection, args, true),
  };
}

// ---------------------------------------------------------------- SQLite

/** What of a better-sqlite3 Statement runs it. */
interface SqliteStatement {
  readonly source: string;
  run: Call;
  get: Call;
  all: Call;
  iterate: (...args: unknown[]) => Iterator<unknown> & Iterable<unknown>;
}

const RUNNING_METHODS = ['run', 'get', 'all'] as const;

function sqliteLentTracing(endpoint: EndpointTelemetry, classify: Classify): LentMethodWrapper {
  const traceStatement = (statement: SqliteStatement): void => {
    for (const name of RUNNING_METHODS) {
      const method = statement[name];
      // own properties of this one statement object (better-sqlite3 makes one per prepare)
      statement[name] = function (this: SqliteStatement, ...args: unknown[]): unknown {
        const span = endpoint.statement(this.source);
        if (span === undefined) return method.apply(this, args);
        const result = running(span, classify, () => method.apply(this, args));
        span.end();
        return result;
      };
    }
    const iterate = statement.iterate;
    statement.iterate = function (this: SqliteStatement, ...args: unknown[]): Iterator<unknown> & Iterable<unknown> {
      const span = endpoint.statement(this.source);
      if (span === undefined) return iterate.apply(this, args);
      return tracedRows(running(span, classify, () => iterate.apply(this, args)), span, classify);
    };
  };
  return (key, method) => {
    if (key === 'prepare') {
      return (...args: unknown[]): unknown => {
        let statement: unknown;
        try {
          statement = method(...args);
        } catch (error) {
          // SQLite refuses a statement when preparing it (no such table, a syntax error): that is its span, failed
          const span = typeof args[0] === 'string' ? endpoint.statement(args[0]) : undefined;
          span?.fail(classify(error));
          throw error;
        }
        if (isObject(statement) && typeof statement.source === 'string') traceStatement(statement as unknown as SqliteStatement);
        return statement;
      };
    }
    if (key === 'exec') {
      return (...args: unknown[]): unknown => {
        const span = typeof args[0] === 'string' ? endpoint.statement(args[0]) : undefined;
        if (span === undefined) return method(...args);
        const result = running(span, classify, () => method(...args));
        span.end();
        return result;
      };
    }
    return undefined;
  };
}

/** The rows of `iterate()`, the statement's span open until they are read to the end, the iteration is left, or it fails. */
function tracedRows(rows: Iterator<unknown> & Iterable<unknown>, span: StatementSpan, classify: Classify): Iterator<unknown> & Iterable<unknown> {
  const step = (next: () => IteratorResult<unknown>): IteratorResult<unknown> => {
    let result: IteratorResult<unknown>;
    try {
      result = span.run(next);
    } catch (error) {
      span.fail(classify(error));
      throw error;
    }
    if (result.done === true) span.end();
    return result;
  };
  const traced: Iterator<unknown> & Iterable<unknown> = {
    next: () => step(() => rows.next()),
    return: (value?: unknown) => {
      span.end();
      return rows.return ? rows.return(value) : { done: true, value };
    },
    [Symbol.iterator]: () => traced,
  };
  return traced;
}
