// What the integrations do alike with mysql2 sessions an ORM holds.
import { createRequire } from 'node:module';
import type { Connection, ConnectionOptions, PoolConnection } from 'mysql2';

const require = createRequire(import.meta.url);

/**
 * A control connection (for `KILL QUERY` / `KILL CONNECTION`) from a copy of a session's config:
 * its server, user, TLS and a password valid now (dbmodule keeps an IAM session's
 * `config.password` current), on mysql2 as dbmodule's pools loaded it: the same copy.
 */
export function mysqlControlConnection(config: object | string): Connection {
  const mysql = require('mysql2') as typeof import('mysql2');
  return typeof config === 'string' ? mysql.createConnection(config) : mysql.createConnection(config);
}

/** `session.config` as a control connection takes it: without what mysql2 warns about (and may one day reject) when passed back in. */
export function controlConfigOf(session: PoolConnection): ConnectionOptions {
  const { clientFlags: _flags, maxPacketSize: _packet, ...config } = session.config as ConnectionOptions & { clientFlags?: unknown; maxPacketSize?: unknown };
  return config;
}

/**
 * The connection options mysql2 also honours on one statement (`query({ sql, ...options })`):
 * what an ORM set for the connection it thinks it opened, carried by each of its statements on
 * a session of dbmodule's pool.
 */
const PER_STATEMENT = ['supportBigNumbers', 'bigNumberStrings', 'dateStrings', 'typeCast', 'timezone'] as const;

/** Those of `options` that are set. */
export function perStatementOptions(options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of PER_STATEMENT) if (options[key] !== undefined) picked[key] = options[key];
  return picked;
}
