import { defaultPort } from './parse.js';
import { percentEncode } from './percent.js';
import type { ParsedDsn } from './types.js';

/** Options of {@link formatDsn}. @public */
export interface FormatDsnOptions {
  /**
   * The password to write: `true` writes the parsed one, a string writes that instead
   * (a fresh IAM token for a CLI), `false` or absent writes none.
   */
  readonly password?: boolean | string;
  /** Write the params as a query string. Default true. */
  readonly params?: boolean;
}

function urlHost(host: string): string {
  if (host.includes(':')) return `[${host}]`;
  return host.startsWith('/') ? percentEncode(host) : host;
}

function query(params: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(params).map(([key, value]) => `${percentEncode(key)}=${percentEncode(value)}`);
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`;
}

/**
 * Builds a URL back from parsed parts, every part percent-encoded (a space is `%20`, never
 * `+`), so that {@link parseDsn} gives the same parts again: `postgresql://` for PostgreSQL,
 * `mysql://` for MySQL (a Unix socket path is written as an encoded host, `%2Frun%2F...`),
 * `file:` for SQLite.
 * The password is left out unless asked for.
 * @public
 */
export function formatDsn(parsed: ParsedDsn, options: FormatDsnOptions = {}): string {
  const search = options.params === false ? '' : query(parsed.params);
  if (parsed.driver === 'sqlite') {
    const path = parsed.path ?? ':memory:';
    if (path === ':memory:') return `file::memory:${search}`;
    const encoded = path.split('/').map(percentEncode).join('/');
    return `file:${path.startsWith('/') ? '//' : ''}${encoded}${search}`;
  }
  const password = options.password === true ? parsed.password : options.password === false ? undefined : options.password;
  const userinfo =
    parsed.user === undefined && password === undefined
      ? ''
      : `${percentEncode(parsed.user ?? '')}${password === undefined ? '' : `:${percentEncode(password)}`}@`;
  const port = parsed.port === undefined ? '' : `:${parsed.port}`;
  const database = parsed.database === undefined ? '' : percentEncode(parsed.database);
  const scheme = parsed.driver === 'postgres' ? 'postgresql' : 'mysql';
  return `${scheme}://${userinfo}${urlHost(parsed.host ?? 'localhost')}${port}/${database}${search}`;
}

function readable(text: string): string {
  // One line, always: control characters would split or forge log lines.
  return text.replace(/[\u0000-\u001f\u007f]/g, (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

/**
 * A safe one-line description for logs and messages: scheme, user, host, effective port
 * and database; never the password or params. `postgres://app@db.internal:5432/app`,
 * `mysql://app@unix(/run/mysqld/mysqld.sock)/app`, `sqlite:/var/lib/app.db`.
 * @public
 */
export function describeDsn(parsed: ParsedDsn): string {
  if (parsed.driver === 'sqlite') return `sqlite:${readable(parsed.path ?? ':memory:')}`;
  const user = parsed.user === undefined ? '' : `${percentEncode(parsed.user)}@`;
  const host = parsed.host ?? 'localhost';
  const database = parsed.database === undefined ? '' : percentEncode(parsed.database);
  if (host.startsWith('/')) return `${parsed.driver}://${user}unix(${readable(host)})/${database}`;
  const port = parsed.port ?? defaultPort(parsed.driver);
  return `${parsed.driver}://${user}${host.includes(':') ? `[${host}]` : host}${port === undefined ? '' : `:${port}`}/${database}`;
}
