import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { Pool as MysqlPool, PoolConnection, PoolOptions, SqlValue } from 'mysql2';
import type { Pool as PgPool } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { perStatementOptions } from './mysql-session.js';
import type { PeerSource } from './peer-source.js';

export type { PeerSource } from './peer-source.js';

const require = createRequire(import.meta.url);
/** Where a statement span finds the text as written when the values were inlined (src/telemetry/native-pool.ts). */
const STATEMENT_TEXT = Symbol.for('dbmodule.statement.text');

/** TypeORM's options for a PostgreSQL data source. @public */
export type TypeormPostgresOptions = Extract<DataSourceOptions, { type: 'postgres' }>;
/** TypeORM's options for a MySQL or MariaDB data source. @public */
export type TypeormMysqlOptions = Extract<DataSourceOptions, { type: 'mysql' | 'mariadb' }>;
/** TypeORM's options for a better-sqlite3 data source. @public */
export type TypeormSqliteOptions = Extract<DataSourceOptions, { type: 'better-sqlite3' }>;
/** What {@link typeormOptions} returns: spread it into `new DataSource({ ... })`. @public */
export type TypeormOptions = TypeormPostgresOptions | TypeormMysqlOptions | TypeormSqliteOptions;

/**
 * TypeORM data-source options on a dbmodule connection (or its `reader()`): every session
 * TypeORM takes comes from dbmodule's pool, with its limits, IAM tokens (a fresh one for each
 * new physical session) and login retry. `dataSource.destroy()` ends TypeORM's use, never the
 * pool (`db.close()` does).
 *
 * TypeORM's drivers take the driver module as `driver`; the one given here builds no pool of
 * its own: `new Pool(...)` (pg) and `createPool(...)` (mysql2) hand back `connection.pool`,
 * and better-sqlite3's `new Database(...)` the Database the connection lends. TypeORM's pool
 * and login settings (`poolSize`, `connectTimeoutMS`, credentials, TLS, `replication`, pg's
 * `extra`) therefore have no effect: the connection's own apply (for reads, a second
 * DataSource on `reader()`). On MySQL, TypeORM's per-statement options still hold: `?` values
 * are escaped with `stringifyObjects`, and `supportBigNumbers`, `bigNumberStrings` (BIGINT
 * as strings), `dateStrings`, `timezone` and an `extra.typeCast` apply to every statement.
 * The type is `mysql`; spread `type: 'mariadb'` after it for MariaDB-only features. On
 * SQLite, TypeORM runs `PRAGMA foreign_keys = ON` (and `prepareDatabase`, `enableWAL`, `key`)
 * on the lent Database, which the connection's other ORMs share.
 *
 * ```ts
 * const dataSource = new DataSource({ ...typeormOptions(db.connection()), entities: [User] });
 * await dataSource.initialize();
 * const reads = new DataSource({ ...typeormOptions(db.connection().reader()), entities: [User] });
 * ```
 * @public
 */
export function typeormOptions(source: PeerSource): TypeormOptions {
  switch (source.driver) {
    case 'postgres':
      return { type: 'postgres', driver: pgDriver(source.pool) };
    case 'mysql':
      return { type: 'mysql', driver: mysqlDriver(source.pool) };
    case 'sqlite':
      return { type: 'better-sqlite3', database: source.pool.name, driver: sqliteDriver(source.pool) };
  }
}

/** The `pg` module as PostgresDriver uses it: `new Pool(options)`, and `defaults` for `parseInt8`. */
function pgDriver(pool: PgPool): object {
  return {
    Pool: class {
      constructor() {
        return lentPool(pool);
      }
    },
    // TypeORM sets pg's process-wide `defaults.parseInt8` when asked, as it does with its own pool
    get defaults(): unknown {
      return (require('pg') as typeof import('pg')).defaults;
    },
  };
}

/** The `mysql2` module as MysqlDriver uses it: `createPool(options)`; its sessions keep TypeORM's statement options. */
function mysqlDriver(pool: MysqlPool): object {
  return {
    createPool: (options: PoolOptions): MysqlPool => {
      const statement = statementOptions(options);
      return lentPool(pool, {
        getConnection: (callback: (error: NodeJS.ErrnoException | null, session: PoolConnection) => void): void =>
          pool.getConnection((error, session) => callback(error, error ? session : typeormSession(session, statement))),
      });
    },
    createPoolCluster: (): never => {
      throw new Error('dbmodule/typeorm: `replication` is not supported; open a second DataSource on typeormOptions(connection.reader())');
    },
  };
}

/** better-sqlite3's `Database` as BetterSqlite3Driver uses it: `new Database(file, options)` gives the lent one. */
function sqliteDriver(database: BetterSqlite3.Database): object {
  return class {
    constructor() {
      return database;
    }
  };
}

type Listener = (...args: unknown[]) => void;
interface Emitter {
  on(event: string | symbol, listener: Listener): unknown;
  removeListener(event: string | symbol, listener: Listener): unknown;
  end(callback?: (error?: Error | null) => void): unknown;
}

/**
 * `pool` as one DataSource holds it: what TypeORM adds to it (its pool `error` listener) is
 * taken off again at `end()`, which ends nothing else: a DataSource initialised and destroyed
 * again and again leaves no listener behind on the connection's pool.
 */
function lentPool<P extends object>(pool: P, overrides: Readonly<Record<string, unknown>> = {}): P {
  const emitter = pool as P & Emitter;
  const added: Array<[string | symbol, Listener]> = [];
  const view: P = new Proxy(pool, {
    get(target, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as string];
      if (key === 'on' || key === 'addListener') {
        return (event: string | symbol, listener: Listener): P => {
          added.push([event, listener]);
          emitter.on(event, listener);
          return view;
        };
      }
      if (key === 'end') {
        return (callback?: (error?: Error | null) => void): unknown => {
          for (const [event, listener] of added.splice(0)) emitter.removeListener(event, listener);
          return emitter.end(callback);
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as Listener).bind(target) : value;
    },
  });
  return view;
}

/** The per-statement options TypeORM gives its own mysql2 pool; mysql2 honours them on each `query()` too. */
interface StatementOptions {
  readonly read: Readonly<Record<string, unknown>>;
  readonly stringifyObjects: boolean;
  readonly timezone: string | undefined;
}

function statementOptions(options: PoolOptions): StatementOptions {
  return { read: perStatementOptions(options as Readonly<Record<string, unknown>>), stringifyObjects: options.stringifyObjects === true, timezone: options.timezone };
}

type QueryCallback = (...args: unknown[]) => void;

/**
 * A session of the connection's pool for TypeORM: `query()` escapes `?` values as TypeORM's
 * own pool would (`stringifyObjects`: an object is a string, never `key = value` pairs; the
 * session's own config may say otherwise) and reads with TypeORM's options; everything else,
 * `release()` included, is the session's own. `promise()` wraps this view, not the session:
 * TypeORM queries through it.
 */
function typeormSession(session: PoolConnection, statement: StatementOptions): PoolConnection {
  const format = (require('mysql2') as typeof import('mysql2')).format;
  const query = (sql: unknown, values?: unknown, callback?: unknown): unknown => {
    const options: Record<string, unknown> = typeof sql === 'object' && sql !== null ? { ...(sql as Record<string, unknown>) } : { sql };
    let params = options['values'];
    let done = callback;
    if (typeof values === 'function') done = values;
    else if (values !== undefined) params = values;
    const text = String(options['sql']);
    const formatted = params === undefined ? text : format(text, params as SqlValue | SqlValue[], statement.stringifyObjects, statement.timezone ?? session.config.timezone);
    // the text as written, with its placeholders, is what a statement span records (never the values)
    const send = { ...statement.read, ...options, sql: formatted, values: undefined, [STATEMENT_TEXT]: text };
    const native = session.query as unknown as (options: object, callback?: QueryCallback) => unknown;
    return native.call(session, send, done as QueryCallback | undefined);
  };
  const view: PoolConnection = new Proxy(session, {
    get(target, key) {
      if (key === 'query') return query;
      if (key === 'promise') return (promiseImpl?: PromiseConstructor): unknown => target.promise.call(view, promiseImpl);
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as Listener).bind(target) : value;
    },
  });
  return view;
}
