import { type DsnContext, dsnError } from './errors.js';
import { parseQuery } from './parts.js';
import { percentDecode } from './percent.js';
import type { ParsedDsn } from './types.js';

function withQuery(text: string, context: DsnContext): { path: string; params: Record<string, string> } {
  const question = text.indexOf('?');
  const path = percentDecode(question < 0 ? text : text.slice(0, question));
  return { path, params: parseQuery(question < 0 ? '' : text.slice(question + 1), context) };
}

function fileUri(rest: string, context: DsnContext): string {
  if (!rest.startsWith('//')) return rest;
  const slash = rest.indexOf('/', 2);
  const authority = rest.slice(2, slash < 0 ? undefined : slash);
  if (authority !== '' && authority.toLowerCase() !== 'localhost') {
    throw dsnError(context, `the file: URI authority "${authority}" is not supported (expected file:///absolute/path or file:relative/path)`);
  }
  return slash < 0 ? '' : rest.slice(slash);
}

/**
 * SQLite: `:memory:`, `sqlite:path`, `sqlite://path` (`sqlite:///abs/x.db` is `/abs/x.db`,
 * `sqlite://./x.db` is `./x.db`), `sqlite3:` likewise, SQLite URIs `file:path?mode=ro`
 * (`file:///abs/x.db`, `file::memory:`), and a plain path. Paths after a scheme are
 * percent-decoded and their `?query` becomes params; a plain path is taken verbatim.
 */
export function parseSqlite(dsn: string, context: DsnContext): ParsedDsn {
  const scheme = /^(sqlite3?|file):/i.exec(dsn);
  let path: string;
  let params: Record<string, string> = {};
  if (scheme === null) {
    path = dsn;
  } else {
    const rest = dsn.slice(scheme[0].length);
    const name = scheme[1]?.toLowerCase();
    ({ path, params } = withQuery(name === 'file' ? fileUri(rest, context) : rest.replace(/^\/\//, ''), context));
  }
  if (path === '') throw dsnError(context, 'the SQLite path is empty (expected sqlite:path/to/file.db, file:path?mode=ro or :memory:)');
  return { family: 'sqlite', driver: 'sqlite', path, params };
}
