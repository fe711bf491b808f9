import { decodeUserinfo, isPlausibleUrlHost, splitCredentials } from './credentials.js';
import { SCHEME } from './detect.js';
import { type DsnContext, dsnError } from './errors.js';
import { type HostPort, parseHostPort, parseQuery } from './parts.js';
import { percentDecode } from './percent.js';

/** The parts every `scheme://user:password@host:port/database?params` DSN has. */
export interface UrlParts extends HostPort {
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** Decoded query parameters; callers move the ones they understand out. */
  readonly params: Record<string, string>;
}

/**
 * Splits a URL DSN. The credentials end at the last `@` followed by a plausible host; the
 * database is the path up to `?`, never anything inside the query string.
 */
export function parseUrlParts(dsn: string, context: DsnContext): UrlParts {
  const prefix = SCHEME.exec(dsn)?.[0].length ?? 0;
  const split = splitCredentials(dsn.slice(prefix), isPlausibleUrlHost);
  const hostEnd = split.rest.search(/[/?]/);
  const hostText = hostEnd < 0 ? split.rest : split.rest.slice(0, hostEnd);
  const after = hostEnd < 0 ? '' : split.rest.slice(hostEnd);
  const question = after.indexOf('?');
  const path = after.startsWith('/') ? after.slice(1, question < 0 ? undefined : question) : '';
  const database = percentDecode(path);
  if (/^[a-z][a-z0-9]*\(/.test(hostText)) {
    throw dsnError(
      context,
      'the host is a Go-style address: URLs take host:port; tcp(host:port) belongs to the Go MySQL form user:password@tcp(host:3306)/database, written without a scheme',
    );
  }
  return {
    ...decodeUserinfo(split.userinfo),
    ...parseHostPort(hostText, context),
    ...(database === '' ? {} : { database }),
    params: parseQuery(question < 0 ? '' : after.slice(question + 1), context),
  };
}
