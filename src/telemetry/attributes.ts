import type { ConnectionPlan } from '../config/plan.js';
import type { DriverName } from '../driver-name.js';
import { DbModuleError, QueryError } from '../errors.js';

/** The stable database semantic conventions' names (semantic-conventions `docs/db/`), and dbmodule's own. */
export const ATTR = {
  systemName: 'db.system.name',
  namespace: 'db.namespace',
  operationName: 'db.operation.name',
  collectionName: 'db.collection.name',
  queryText: 'db.query.text',
  querySummary: 'db.query.summary',
  responseStatusCode: 'db.response.status_code',
  errorType: 'error.type',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  connectionName: 'dbmodule.connection.name',
  transactionDepth: 'dbmodule.transaction.depth',
  transactionIsolation: 'dbmodule.transaction.isolation',
  transactionOutcome: 'dbmodule.transaction.outcome',
} as const;

/** `db.system.name` of each driver; a MySQL connection says `mariadb` once its server has said so. */
export type DatabaseSystem = 'postgresql' | 'mysql' | 'mariadb' | 'sqlite';

export function systemOf(driver: DriverName): DatabaseSystem {
  return driver === 'postgres' ? 'postgresql' : driver === 'mysql' ? 'mysql' : 'sqlite';
}

/** What a MySQL-protocol server's `VERSION()` says it is: `10.11.6-MariaDB-1:10.11.6+maria~ubu2204` is MariaDB. */
export function mysqlFlavour(version: unknown): 'mysql' | 'mariadb' {
  return typeof version === 'string' && /mariadb/i.test(version) ? 'mariadb' : 'mysql';
}

/** The attributes every span and measurement of one endpoint (a connection's server, or one instance of its cluster) carries. */
export interface EndpointAttributes {
  readonly [ATTR.systemName]: DatabaseSystem;
  readonly [ATTR.namespace]?: string;
  readonly [ATTR.serverAddress]?: string;
  readonly [ATTR.serverPort]?: number;
}

/**
 * Where a plan goes, by the conventions: the endpoint's name (not the address a tunnel dials for
 * it), its port, and the database (SQLite: the file, or `:memory:`).
 */
export function endpointAttributes(plan: ConnectionPlan, system: DatabaseSystem): EndpointAttributes {
  const host = plan.endpoint?.host ?? plan.host;
  const port = plan.endpoint?.port ?? plan.port;
  const namespace = plan.driver === 'sqlite' ? plan.dsn.path : plan.database;
  return {
    [ATTR.systemName]: system,
    ...(namespace === undefined || namespace === '' ? {} : { [ATTR.namespace]: namespace }),
    ...(host === undefined ? {} : { [ATTR.serverAddress]: host }),
    ...(port === undefined ? {} : { [ATTR.serverPort]: port }),
  };
}

/** `error.type`: the DbModuleError code; another Error its name; anything else `_OTHER` (the conventions' fallback). */
export function errorType(error: unknown): string {
  if (error instanceof DbModuleError) return error.code;
  return error instanceof Error && error.name !== '' ? error.name : '_OTHER';
}

/**
 * `db.response.status_code`: what the server answered, never a client-side code. PostgreSQL:
 * the SQLSTATE of the server's error; MySQL/MariaDB: the server's errno; SQLite: the result
 * code (`SQLITE_CONSTRAINT_UNIQUE`). Undefined when the server said nothing (a lost socket, a timeout).
 */
export function responseStatusCode(error: unknown, system: DatabaseSystem): string | undefined {
  if (system === 'sqlite') {
    const code = error instanceof QueryError ? error.driverCode : undefined;
    return code?.startsWith('SQLITE_') ? code : undefined;
  }
  for (let cause: unknown = error, depth = 0; typeof cause === 'object' && cause !== null && depth < 8; cause = (cause as { cause?: unknown }).cause, depth++) {
    const fields = cause as { code?: unknown; severity?: unknown; errno?: unknown; sqlState?: unknown };
    if (system === 'postgresql') {
      // pg's DatabaseError: the server's SQLSTATE and severity
      if (typeof fields.code === 'string' && /^[0-9A-Z]{5}$/.test(fields.code) && typeof fields.severity === 'string') return fields.code;
    } else if (typeof fields.errno === 'number' && fields.errno > 0 && typeof fields.sqlState === 'string') {
      // mysql2's error for a server ERR packet (a Node socket error's errno is negative and has no sqlState)
      return String(fields.errno);
    }
  }
  return undefined;
}

/** The names of dbmodule's INTERNAL spans. */
export const SPAN = {
  tokenSign: 'iam.token.sign',
  credentialsResolve: 'aws.credentials.resolve',
  authRefused: 'iam.auth.refused',
  topologyRefresh: 'topology.refresh',
  failover: 'writer.failover',
  poolWait: 'pool.wait',
  secretFetch: 'secret.fetch',
} as const;
