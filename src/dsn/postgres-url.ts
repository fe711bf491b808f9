import { type DsnContext, dsnError } from './errors.js';
import { checkHost, parsePort, takeParam } from './parts.js';
import type { ParsedDsn } from './types.js';
import { parseUrlParts } from './url.js';

/**
 * `postgres://` / `postgresql://` URLs. As in libpq, `host`, `port`, `user`, `password`
 * and `dbname` may also be query parameters, and then win over the URL's own parts
 * (`postgres:///db?host=/var/run/postgresql` reaches a Unix socket).
 */
export function parsePostgresUrl(dsn: string, context: DsnContext): ParsedDsn {
  const url = parseUrlParts(dsn, context);
  const params = { ...url.params };
  const hostParam = takeParam(params, 'host');
  const portParam = takeParam(params, 'port');
  const user = takeParam(params, 'user') ?? url.user;
  const password = takeParam(params, 'password') ?? url.password;
  const database = takeParam(params, 'dbname') ?? url.database;
  const host = hostParam === undefined || hostParam === '' ? url.host : checkHost(hostParam, context, 'host parameter');
  const port = portParam === undefined || portParam === '' ? url.port : parsePort(portParam, context, 'port parameter');
  if (host === undefined) {
    throw dsnError(context, 'the host is missing (expected postgres://user:password@host:5432/database)');
  }
  return {
    family: 'postgres-url',
    driver: 'postgres',
    ...(user === undefined || user === '' ? {} : { user }),
    ...(password === undefined || password === '' ? {} : { password }),
    host,
    ...(port === undefined ? {} : { port }),
    ...(database === undefined || database === '' ? {} : { database }),
    params,
  };
}
