import { type DsnContext, dsnError } from './errors.js';
import { tokenizeKeyValue } from './keyvalue-tokens.js';
import { checkHost, parsePort, takeParam } from './parts.js';
import type { ParsedDsn } from './types.js';

/**
 * libpq key/value DSNs: `host=db port=5432 user=app password='it''s \' quoted' dbname=app`.
 * Quoting and escapes follow libpq. `host` falls back to `hostaddr`; every key other than
 * host, port, user, password and dbname stays in `params` (hostaddr included). A missing
 * host is allowed, as in libpq (the driver's default applies).
 */
export function parsePostgresKeyValue(dsn: string, context: DsnContext): ParsedDsn {
  const params: Record<string, string> = {};
  let previous: string | undefined;
  for (const token of tokenizeKeyValue(dsn)) {
    if (token.problem === 'missing-equals') {
      // The word itself is never quoted: after an unquoted password it is part of the password.
      const where = previous === undefined ? 'the first word' : `the word after the value of "${previous}"`;
      throw dsnError(context, `${where} has no "=" (expected key=value; quote values with spaces: password='a b')`);
    }
    if (token.key === '') throw dsnError(context, 'a "=" has no key before it (expected key=value)');
    if (token.problem === 'unterminated-quote') {
      throw dsnError(context, `the quoted value of key "${token.key}" has no closing quote`);
    }
    params[token.key] = token.value ?? '';
    previous = token.key;
  }
  const host = takeParam(params, 'host') || params.hostaddr || undefined;
  const port = takeParam(params, 'port');
  const user = takeParam(params, 'user');
  const password = takeParam(params, 'password');
  const database = takeParam(params, 'dbname');
  return {
    family: 'postgres-keyvalue',
    driver: 'postgres',
    ...(user ? { user } : {}),
    ...(password ? { password } : {}),
    ...(host === undefined ? {} : { host: checkHost(host, context, 'key "host"') }),
    ...(port ? { port: parsePort(port, context, 'key "port"') } : {}),
    ...(database ? { database } : {}),
    params,
  };
}
