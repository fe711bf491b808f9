import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Pool as MysqlPool, PoolConnection } from 'mysql2';
import type { CustomTypesConfig, Pool as PgPool, PoolClient, QueryResult } from 'pg';
import type { Options } from 'sequelize';
import { DbModuleError } from '../errors.js';
import { perStatementOptions } from './mysql-session.js';
import type { PeerSource } from './peer-source.js';

export type { PeerSource } from './peer-source.js';

const require = createRequire(import.meta.url);

/**
 * What {@link sequelizeOptions} returns: spread it into `new Sequelize({ ... })`. It also sets
 * `keepDefaultTimezone`, an option Sequelize reads that its typings leave out.
 * @public
 */
export type SequelizeOptions = Options & { readonly keepDefaultTimezone: boolean };

/**
 * Sequelize options on a dbmodule PostgreSQL or MySQL connection (or its `reader()`): each
 * connection Sequelize uses is a session checked out from dbmodule's pool, with its limits,
 * IAM tokens (a fresh one for each new physical session) and login retry; no `beforeConnect`
 * hook is needed. `sequelize.close()` ends Sequelize's use, never the pool (`db.close()` does).
 *
 * Sequelize's pool is only a gate: `max` is the connection's `max_open_connections` and
 * `maxUses: 1`, so each acquire (a statement, or a whole transaction) borrows a session at
 * its first statement and gives it back to dbmodule at release. Sessions are reused, retired
 * and health-checked by dbmodule, and Sequelize never sits on idle ones that other callers
 * of the pool wait for. A failed login therefore surfaces on that first statement.
 *
 * Sequelize sets no session state (no `SET TIME ZONE` / `time_zone`, no `client_min_messages`)
 * that would outlive its use of a session: the server's session time zone stays as it is,
 * while Sequelize still reads and writes dates in its `timezone` (default `+00:00`).
 * Connection-level dialect options (TLS, `flags`, `charset`, `statement_timeout`, ...) come
 * from the connection's DSN; on MySQL, Sequelize's `typeCast`, `timezone` and big-number
 * options are applied to every statement. SQLite is not supported: Sequelize's sqlite dialect
 * opens its own `sqlite3` handles, one per transaction.
 *
 * ```ts
 * const sequelize = new Sequelize({ ...sequelizeOptions(db.connection()), logging: false });
 * const reads = new Sequelize(sequelizeOptions(db.connection().reader()));
 * ```
 * @throws DbModuleError `CONFIG_INVALID` for a SQLite connection.
 * @public
 */
export function sequelizeOptions(source: PeerSource): SequelizeOptions {
  const { database } = source.plan;
  // Sequelize's pool as a gate only, and no session state outliving Sequelize's use of a session
  const common = { pool: { max: source.config.max_open_connections, min: 0, maxUses: 1 }, keepDefaultTimezone: true, ...(database === undefined ? {} : { database }) };
  switch (source.driver) {
    case 'postgres':
      return { dialect: 'postgres', dialectModule: pgModule(source.pool), dialectOptions: { clientMinMessages: 'ignore' }, ...common };
    case 'mysql':
      return { dialect: 'mysql', dialectModule: mysqlModule(source.pool), ...common };
    case 'sqlite':
      throw new DbModuleError(
        'CONFIG_INVALID',
        `connection "${source.plan.name}" is SQLite: dbmodule/sequelize supports PostgreSQL and MySQL`,
        {
          connection: source.plan.name,
          possibleCauses: ["Sequelize's sqlite dialect opens its own sqlite3 handles, one per transaction; it cannot use the connection's better-sqlite3 Database"],
          solutions: ['use dbmodule/kysely, dbmodule/typeorm or Drizzle for SQLite, or open Sequelize on its own sqlite3 storage'],
        },
      );
  }
}

const ENDED = 'dbmodule/sequelize: this connection has ended';

/**
 * The session behind one Sequelize connection: checked out from the pool at its first
 * statement, not when Sequelize creates the connection, because Sequelize's pool may create
 * more connections than it has callers for and park the rest; a parked one holds no session.
 * `end()` gives the session back, also one still being checked out.
 */
class SessionLease<S> {
  readonly #checkout: (done: (error: Error | null, session?: S) => void) => void;
  readonly #giveBack: (session: S) => void;
  #session: S | undefined;
  #pending: Promise<S> | undefined;
  #ended = false;

  constructor(checkout: (done: (error: Error | null, session?: S) => void) => void, giveBack: (session: S) => void) {
    this.#checkout = checkout;
    this.#giveBack = giveBack;
  }

  /** The session, once checked out. */
  get current(): S | undefined {
    return this.#session;
  }

  get ended(): boolean {
    return this.#ended;
  }

  take(): Promise<S> {
    if (this.#ended) return Promise.reject(new Error(ENDED));
    this.#pending ??= new Promise<S>((resolve, reject) =>
      this.#checkout((error, session) => {
        if (error || session === undefined) {
          this.#pending = undefined;
          return reject(error ?? new Error('dbmodule/sequelize: the pool gave no session'));
        }
        if (this.#ended) {
          this.#giveBack(session);
          return reject(new Error(ENDED));
        }
        this.#session = session;
        resolve(session);
      }),
    );
    return this.#pending;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#session !== undefined) this.#giveBack(this.#session);
    this.#session = undefined;
  }
}

type PgCallback = (error: Error | null, result?: QueryResult) => void;

/** A server's ParameterStatus values Sequelize reads while a pg client logs in. */
type ServerParameters = Readonly<Record<'server_version' | 'standard_conforming_strings', string>>;

const SERVER_PARAMETERS = "SELECT current_setting('server_version') AS server_version, current_setting('standard_conforming_strings') AS standard_conforming_strings";

/** What a Sequelize (one `pgModule`) knows of its server: asked once, on the first session it borrows. */
class ServerFacts {
  #known: ServerParameters | undefined;
  #asking: Promise<ServerParameters> | undefined;

  get known(): ServerParameters | undefined {
    return this.#known;
  }

  ask(client: PoolClient): Promise<ServerParameters> {
    this.#asking ??= client.query<ServerParameters>(SERVER_PARAMETERS).then(
      (result) => {
        const row = result.rows[0];
        if (!row) throw new Error('dbmodule/sequelize: the server reported no settings');
        return (this.#known = row);
      },
      (error: unknown) => {
        this.#asking = undefined;
        throw error;
      },
    );
    return this.#asking;
  }
}

/** The `pg` module as Sequelize's postgres dialect uses it: `new Client(config)`, and `types` for its parsers. */
function pgModule(pool: PgPool): object {
  const server = new ServerFacts();
  return {
    Client: class extends LentPgClient {
      constructor(config: { types?: CustomTypesConfig }) {
        super(pool, server, config.types);
      }
    },
    get types(): unknown {
      return (require('pg') as typeof import('pg')).types;
    },
  };
}

interface PgLease {
  readonly client: PoolClient;
  readonly release: (release?: boolean) => void;
}

/**
 * A Sequelize postgres connection: one session of the connection's pool (see
 * {@link SessionLease}), discarded rather than given back once Sequelize marked it `_invalid`.
 * Sequelize's type parsers go with every statement, as they would with a client of its own.
 */
class LentPgClient extends EventEmitter {
  /** pg's protocol connection, where Sequelize listens for the login's ParameterStatus messages. */
  readonly connection = new EventEmitter();
  /** Set by Sequelize when the session failed. */
  _invalid = false;
  readonly #server: ServerFacts;
  readonly #types: CustomTypesConfig | undefined;
  readonly #lease: SessionLease<PgLease>;

  constructor(pool: PgPool, server: ServerFacts, types: CustomTypesConfig | undefined) {
    super();
    this.#server = server;
    this.#types = types;
    this.#lease = new SessionLease<PgLease>(
      (done) =>
        pool.connect((error, client, release) => {
          if (error || !client) return done(error ?? null);
          client.on('error', this.#forwardError);
          done(null, { client, release });
        }),
      ({ client, release }) => {
        client.removeListener('error', this.#forwardError);
        release(this._invalid || undefined);
      },
    );
  }

  /** Sequelize's validate() reads it. */
  get _ending(): boolean {
    return this.#lease.ended;
  }

  /** Logs in as far as Sequelize can tell: the server's parameters, asked on a borrowed session the first time. */
  connect(callback: (error: Error | null) => void): void {
    const known = this.#server.known;
    if (known) return this.#loggedIn(known, callback);
    this.#lease
      .take()
      .then(({ client }) => this.#server.ask(client))
      .then(
        (parameters) => this.#loggedIn(parameters, callback),
        (error: Error) => {
          this._invalid = true;
          this.#lease.end();
          callback(error);
        },
      );
  }

  query(text: string, values?: unknown[] | PgCallback, callback?: PgCallback): Promise<QueryResult> | undefined {
    const done = typeof values === 'function' ? values : callback;
    const config = { text, values: typeof values === 'function' ? undefined : values, types: this.#types };
    const result = this.#lease.take().then(({ client }) => client.query(config));
    if (!done) return result;
    result.then(
      (answer) => done(null, answer),
      (error: Error) => done(error),
    );
    return undefined;
  }

  end(callback?: () => void): void {
    this.#lease.end();
    callback?.();
  }

  #loggedIn(parameters: ServerParameters, callback: (error: Error | null) => void): void {
    for (const [parameterName, parameterValue] of Object.entries(parameters)) this.connection.emit('parameterStatus', { parameterName, parameterValue });
    callback(null);
  }

  readonly #forwardError = (error: Error): void => {
    // dbmodule's own listener is on the session already; Sequelize's comes with connect()
    if (this.listenerCount('error') > 0) this.emit('error', error);
  };
}

/** The `mysql2` module as Sequelize's mysql dialect uses it: `createConnection(config)`. */
function mysqlModule(pool: MysqlPool): object {
  return {
    createConnection: (config: Readonly<Record<string, unknown>>): LentMysqlConnection => new LentMysqlConnection(pool, perStatementOptions(config)),
  };
}

type MysqlCall = (options: object, ...rest: unknown[]) => unknown;

/**
 * A Sequelize mysql connection: one session of the connection's pool (see {@link SessionLease}).
 * Each statement carries Sequelize's `typeCast`, `timezone` and big-number options, as a
 * connection of its own would.
 */
class LentMysqlConnection extends EventEmitter {
  readonly #statement: Readonly<Record<string, unknown>>;
  readonly #lease: SessionLease<PoolConnection>;
  #fatal = false;

  constructor(pool: MysqlPool, statement: Readonly<Record<string, unknown>>) {
    super();
    this.#statement = statement;
    this.#lease = new SessionLease<PoolConnection>(
      (done) =>
        pool.getConnection((error, session) => {
          if (error) return done(error);
          session.on('error', this.#forwardError);
          done(null, session);
        }),
      (session) => {
        session.removeListener('error', this.#forwardError);
        // a session that failed is out of mysql2's pool already; release() is then a no-op
        session.release();
      },
    );
    // Sequelize listens for `connect` once createConnection() has returned
    process.nextTick(() => this.emit('connect'));
  }

  /** What Sequelize's validate() reads. */
  get _closing(): boolean {
    return this.#lease.ended;
  }

  get _fatalError(): boolean {
    return this.#fatal;
  }

  get _protocolError(): undefined {
    return undefined;
  }

  get stream(): { readonly destroyed: boolean } {
    return { destroyed: this.#fatal || this.#lease.ended };
  }

  query(sql: string | { readonly sql: string }, ...rest: unknown[]): unknown {
    return this.#send('query', { ...this.#statement, ...(typeof sql === 'string' ? { sql } : sql) }, rest);
  }

  execute(sql: string, ...rest: unknown[]): unknown {
    return this.#send('execute', { ...this.#statement, sql }, rest);
  }

  end(callback?: () => void): void {
    this.#lease.end();
    callback?.();
  }

  /**
   * Runs the statement on the session, checking it out for the first one. Until then mysql2's
   * command object does not exist: Sequelize only raises the listener limit of what this
   * returns, so a stand-in emitter takes its place.
   */
  #send(method: 'query' | 'execute', options: object, rest: unknown[]): unknown {
    const session = this.#lease.current;
    if (session) return (session[method] as unknown as MysqlCall).call(session, options, ...rest);
    this.#lease.take().then(
      (taken) => {
        // not returned: a promise would take mysql2's command for a thenable
        (taken[method] as unknown as MysqlCall).call(taken, options, ...rest);
      },
      (error: Error) => {
        const callback = rest.findLast((argument) => typeof argument === 'function') as ((error: Error) => void) | undefined;
        callback?.(error);
      },
    );
    return new EventEmitter();
  }

  readonly #forwardError = (error: Error & { fatal?: boolean }): void => {
    if (error.fatal) this.#fatal = true;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  };
}
