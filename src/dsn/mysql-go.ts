import { decodeUserinfo, isPlausibleGoNet, splitCredentials } from './credentials.js';
import { type DsnContext, dsnError } from './errors.js';
import { type HostPort, parseHostPort, parseQuery, takeParam } from './parts.js';
import { percentDecode } from './percent.js';
import type { ParsedDsn } from './types.js';

const ADDRESS = /^([a-z][a-z0-9]*)(?:\(([^()]*)\))?/;

function parseNetwork(network: string | undefined, address: string | undefined, context: DsnContext): HostPort {
  if (network === undefined) return {};
  if (network === 'unix') {
    if (address === undefined || address === '') throw dsnError(context, 'the unix() address is empty (expected unix(/path/to/mysqld.sock))');
    return { host: address };
  }
  if (network !== 'tcp' && network !== 'tcp4' && network !== 'tcp6') {
    throw dsnError(context, `the network "${network}" is not supported (expected tcp(host:port) or unix(/path))`);
  }
  return address === undefined ? {} : parseHostPort(address, context);
}

/**
 * The go-sql-driver/mysql form `[user[:password]@][net[(address)]]/dbname[?params]`:
 * `app:secret@tcp(db:3306)/app`, `app@unix(/run/mysqld/mysqld.sock)/app`,
 * `app@tcp([::1]:3306)/app`, `app@/app` (no network: the driver's default host).
 * Unlike go-sql-driver, user, password, database and params are percent-decoded, and the
 * credentials end at the last `@` followed by a network or `/`, so they may hold anything.
 * A Unix socket is returned as a `host` starting with `/`.
 */
export function parseMysqlGo(dsn: string, context: DsnContext): ParsedDsn {
  const split = splitCredentials(dsn, isPlausibleGoNet);
  const network = ADDRESS.exec(split.rest);
  const afterNetwork = split.rest.slice(network?.[0].length ?? 0);
  if (afterNetwork !== '' && !afterNetwork.startsWith('/')) {
    throw dsnError(context, 'expected "/database" after the network address (the form is user:password@tcp(host:3306)/database)');
  }
  const { host, port } = parseNetwork(network?.[1], network?.[2], context);
  const question = afterNetwork.indexOf('?');
  const database = percentDecode(afterNetwork.slice(1, question < 0 ? undefined : question));
  const params = parseQuery(question < 0 ? '' : afterNetwork.slice(question + 1), context);
  const credentials = decodeUserinfo(split.userinfo);
  const userParam = takeParam(params, 'user');
  const passwordParam = takeParam(params, 'password');
  const user = credentials.user ?? userParam;
  const password = credentials.password ?? passwordParam;
  return {
    family: 'mysql-go',
    driver: 'mysql',
    ...(user ? { user } : {}),
    ...(password ? { password } : {}),
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
    ...(database === '' ? {} : { database }),
    params,
  };
}
