import { type DsnContext, dsnError } from './errors.js';
import { takeParam } from './parts.js';
import type { ParsedDsn } from './types.js';
import { parseUrlParts } from './url.js';

/**
 * `mysql://` / `mariadb://` URLs. `user` and `password` query parameters are taken out of
 * the params (so they never reach the driver as options) and used only when the URL has
 * no credentials of its own, as mysql2 does.
 */
export function parseMysqlUrl(dsn: string, context: DsnContext): ParsedDsn {
  const url = parseUrlParts(dsn, context);
  const params = { ...url.params };
  const userParam = takeParam(params, 'user');
  const passwordParam = takeParam(params, 'password');
  const user = url.user ?? userParam;
  const password = url.password ?? passwordParam;
  if (url.host === undefined) throw dsnError(context, 'the host is missing (expected mysql://user:password@host:3306/database)');
  return {
    family: 'mysql-url',
    driver: 'mysql',
    ...(user === undefined || user === '' ? {} : { user }),
    ...(password === undefined || password === '' ? {} : { password }),
    host: url.host,
    ...(url.port === undefined ? {} : { port: url.port }),
    ...(url.database === undefined ? {} : { database: url.database }),
    params,
  };
}
