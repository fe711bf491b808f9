import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { Knex } from 'knex';
import type { Pool as MysqlPool, PoolConnection } from 'mysql2';
import type { Client as PgClient, ClientConfig, Pool as PgPool, PoolClient } from 'pg';
import { controlConfigOf, mysqlControlConnection } from './mysql-session.js';
import type { PeerSource } from './peer-source.js';

export type { PeerSource } from './peer-source.js';

const require = createRequire(import.meta.url);

/**
 * A Knex configuration on a dbmodule connection (or its `reader()`): every session Knex runs a
 * statement on is checked out of dbmodule's pool, with its limits, IAM tokens and login retry,
 * and given back when Knex is done with it. Knex opens no connection of its own (its `pool`,
 * `acquireConnectionTimeout` and `searchPath` options do nothing here: the connection's settings
 * apply), and `knex.destroy()` waits for the sessions Knex holds to come back, never ending the
 * pool (`db.close()` does).
 *
 * `.timeout(ms, { cancel: true })` cancels on the server of the session (`pg_cancel_backend`,
 * `KILL QUERY`) over a control connection opened from that session's settings, with a valid
 * IAM token when the connection uses IAM. On SQLite, Knex's statements take turns on the one
 * lent Database, so a Knex transaction has it to itself.
 *
 * Knex's other options can be spread in: `knex({ ...knexConfig(db.connection()), debug: true })`.
 *
 * ```ts
 * import knex from 'knex';
 * import { knexConfig } from 'dbmodule/knex';
 *
 * const db = knex(knexConfig(database.connection()));
 * const reads = knex(knexConfig(database.connection().reader()));
 * await db('users').insert({ id: 1, name: 'Ada' });
 * await db.destroy(); // Knex's use ends; the pool closes with database.close()
 * ```
 * @public
 */
export function knexConfig(source: PeerSource): Knex.Config {
  switch (source.driver) {
    case 'postgres':
      return { client: clientOn(dialect('postgres'), postgresSessions(source.pool)) };
    case 'mysql':
      return { client: clientOn(dialect('mysql2'), mysqlSessions(source.pool)) };
    case 'sqlite':
      // SQLite has no DEFAULT in a multi-row VALUES list: what Knex itself recommends there
      return { client: clientOn(dialect('better-sqlite3'), sqliteSessions(source.pool)), useNullAsDefault: true };
  }
}

/** Knex's own client for a dialect (knex 3 has no export map: its CommonJS modules load by path). */
function dialect(name: 'postgres' | 'mysql2' | 'better-sqlite3'): typeof Knex.Client {
  return require(`knex/lib/dialects/${name}/index.js`) as typeof Knex.Client;
}

/** A session as Knex marks it: `__knex__disposed` after a timeout it could not (or did not) cancel. */
type KnexSession = object & { __knex__disposed?: unknown; __knexUid?: string };

/** How one driver lends sessions to Knex. */
interface Sessions<S extends KnexSession> {
  checkout(): Promise<S>;
  /** `broken`: Knex gave up on what runs on it; the pool must not hand it out again. */
  giveBack(session: S, broken: boolean): void;
  /** Stops the statement `session` runs now, from another connection. */
  cancel?(session: S): Promise<void>;
  database?(): string | undefined;
}

/** The sessions one Knex instance holds, so destroy() can wait for them. */
class Holdings {
  readonly held = new Set<KnexSession>();
  open = true;
  #drained: { promise: Promise<void>; resolve: () => void } | undefined;

  release(session: KnexSession): boolean {
    const had = this.held.delete(session);
    if (this.held.size === 0 && this.#drained) {
      this.#drained.resolve();
      this.#drained = undefined;
    }
    return had;
  }

  drained(): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    if (!this.#drained) {
      let resolve!: () => void;
      const promise = new Promise<void>((settle) => (resolve = settle));
      this.#drained = { promise, resolve };
    }
    return this.#drained.promise;
  }
}

let uid = 0;

/**
 * Knex's dialect client with its connection pool replaced by dbmodule's: acquire/release check
 * sessions out of the driver's pool and back. Its state is an own property, not a #field: Knex
 * runs statements on objects made with Object.create() from the client (transactions, SQLite's
 * strict client), and what those call (cancelQuery, database) reads only the closure.
 */
function clientOn<S extends KnexSession>(Dialect: typeof Knex.Client, sessions: Sessions<S>): typeof Knex.Client {
  return class DbmoduleClient extends Dialect {
    readonly dbmodule = new Holdings();

    override async acquireConnection(): Promise<S> {
      const holdings = this.dbmodule;
      if (!holdings.open) throw new Error('Unable to acquire a connection: knex.destroy() was called');
      const session = await sessions.checkout();
      if (!holdings.open) {
        sessions.giveBack(session, false);
        throw new Error('Unable to acquire a connection: knex.destroy() was called');
      }
      session.__knexUid ??= `__knexUid${++uid}`;
      holdings.held.add(session);
      return session;
    }

    override releaseConnection(session: S): Promise<void> {
      if (this.dbmodule.release(session)) sessions.giveBack(session, Boolean(session.__knex__disposed));
      return Promise.resolve();
    }

    override async destroy(callback?: (error?: unknown) => void): Promise<void> {
      this.dbmodule.open = false;
      await this.dbmodule.drained();
      callback?.();
    }

    /** knex.initialize() after destroy(): serves again. */
    override initializePool(): void {
      this.dbmodule.open = true;
    }

    override async cancelQuery(session?: S): Promise<void> {
      if (!sessions.cancel || !session) return super.cancelQuery();
      await sessions.cancel(session);
    }

    override database(): string | undefined {
      return sessions.database?.();
    }
  };
}

/** pg: a PoolClient per checkout; one released as broken is closed by pg-pool. */
function postgresSessions(pool: PgPool): Sessions<PoolClient> {
  return {
    checkout: () => pool.connect(),
    giveBack: (client, broken) => client.release(broken || undefined),
    async cancel(client) {
      // the pool's own client class and settings: the same server, TLS, password function and
      // login retry (read from `options`, where pg-pool keeps both); a routing (cluster) pool has none
      const options = pool.options as PgPool['options'] | undefined;
      const Client = options?.Client as (new (config: ClientConfig) => PgClient) | undefined;
      if (!options || !Client) throw new Error('cannot cancel: this pool has no settings to open a control connection with');
      // pg-pool keeps `password` (a token function with IAM) out of enumeration
      const control = new Client({ ...options, password: options.password });
      await control.connect();
      try {
        await control.query('SELECT pg_cancel_backend($1)', [(client as PoolClient & { processID?: number }).processID]);
      } finally {
        await control.end().catch(() => {});
      }
    },
  };
}

/** mysql2: a PoolConnection per checkout; one given back as broken leaves the pool. */
function mysqlSessions(pool: MysqlPool): Sessions<PoolConnection> {
  return {
    checkout: () => new Promise((resolve, reject) => pool.getConnection((error, session) => (error ? reject(error) : resolve(session)))),
    giveBack: (session, broken) => (broken ? session.destroy() : session.release()),
    cancel: (session) => killQuery(session),
    // what Knex binds in columnInfo() and foreign-key lookups; mysql2 keeps it in connectionConfig
    database: () => (pool.config as { connectionConfig?: { database?: string } }).connectionConfig?.database,
  };
}

/** `KILL QUERY` over a control connection from a copy of the session's config (see mysqlControlConnection). */
function killQuery(session: PoolConnection): Promise<void> {
  const control = mysqlControlConnection(controlConfigOf(session));
  return new Promise<void>((resolve, reject) => {
    control.connect((connectError) => {
      if (connectError) return reject(connectError);
      control.query(`KILL QUERY ${Number(session.threadId)}`, (error) => (error ? reject(error) : resolve()));
    });
  }).finally(() => control.destroy());
}

/** Turns on each lent Database, shared by every Knex instance on it. */
const turns = new WeakMap<BetterSqlite3.Database, Array<() => void>>();

/**
 * SQLite: the one lent Database, to one holder at a time, as Knex's own pool of one would: a
 * transaction's BEGIN..COMMIT must not take in another caller's statements.
 */
function sqliteSessions(db: BetterSqlite3.Database): Sessions<BetterSqlite3.Database> {
  return {
    checkout() {
      const queue = turns.get(db);
      if (!queue) {
        turns.set(db, []);
        return Promise.resolve(db);
      }
      return new Promise((resolve) => queue.push(() => resolve(db)));
    },
    giveBack() {
      const next = turns.get(db)?.shift();
      if (next) next();
      else turns.delete(db);
    },
  };
}
