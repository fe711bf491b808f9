import path from 'node:path';
import type { ConnectionConfig } from '../../config/types.js';
import type { ParsedDsn } from '../../dsn/types.js';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { driverError } from '../driver-error.js';

/** What to open and how, derived once from the DSN and the connection config. */
export interface SqliteTarget {
  /** Absolute file path, or `:memory:` / `''` (a private database per handle). */
  readonly filename: string;
  /** One database per handle: `:memory:`, `file::memory:`, `mode=memory` or an empty path. */
  readonly memory: boolean;
  readonly readonly: boolean;
  readonly fileMustExist: boolean;
  /** PRAGMA bodies (`journal_mode = WAL`) run on every new handle, in order. */
  readonly pragmas: readonly string[];
  /** How long a statement waits for a lock held by another handle (ms). */
  readonly busyTimeoutMs: number;
}

const JOURNAL_MODES = new Set(['DELETE', 'TRUNCATE', 'PERSIST', 'MEMORY', 'WAL', 'OFF']);
const SYNCHRONOUS_MODES = new Set(['OFF', 'NORMAL', 'FULL', 'EXTRA', '0', '1', '2', '3']);
const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);
const FALSE_VALUES = new Set(['0', 'false', 'no', 'off']);
/** URI parameters SQLite would honour with URI filenames, which better-sqlite3 builds without. */
const IGNORED_URI_PARAMS = new Set(['cache', 'immutable', 'vfs', 'nolock', 'psow']);

function invalidParam(connection: string, name: string, value: string, expected: string): ConfigError {
  return driverError(ConfigError, 'DSN_INVALID', `SQLite DSN parameter ${name}=${value} is invalid: expected ${expected}`, {
    connection,
    solutions: [`set ${name} to ${expected} or remove it from the DSN`],
  });
}

const MEMORY_PATHS = new Set(['', ':memory:', 'file::memory:']);

function boolPragma(connection: string, name: string, value: string, pragma: string): string {
  const lower = value.toLowerCase();
  if (TRUE_VALUES.has(lower)) return `${pragma} = ON`;
  if (FALSE_VALUES.has(lower)) return `${pragma} = OFF`;
  throw invalidParam(connection, name, value, 'true or false');
}

function enumPragma(connection: string, name: string, value: string, pragma: string, allowed: ReadonlySet<string>): string {
  const upper = value.toUpperCase();
  if (!allowed.has(upper)) throw invalidParam(connection, name, value, [...allowed].join('|'));
  return `${pragma} = ${upper}`;
}

/**
 * Reads a parsed SQLite DSN: the path (relative paths resolved against the current
 * directory now, so a later chdir does not move the database), `mode=ro|rw|rwc|memory`,
 * and the go-sqlite3 spellings `_foreign_keys`/`_fk`, `_journal_mode`/`_journal`,
 * `_synchronous`/`_sync`, `_busy_timeout`/`_timeout` (ms). Other parameters are ignored
 * with a warning naming them. File databases default to WAL so several handles can read
 * while one writes; the busy wait defaults to `connection_timeout`.
 * @throws ConfigError `DSN_INVALID` naming the parameter at fault.
 */
export function resolveSqliteTarget(dsn: ParsedDsn, config: ConnectionConfig, logger: Logger): SqliteTarget {
  const connection = config.name;
  const rawPath = (dsn.path ?? dsn.database ?? '').trim();
  let memory = MEMORY_PATHS.has(rawPath.toLowerCase());
  let readonly = false;
  let fileMustExist = false;
  let journalMode: string | undefined;
  let busyTimeoutMs = config.connection_timeout;
  const pragmas: string[] = [];

  for (const [name, value] of Object.entries(dsn.params)) {
    switch (name.toLowerCase()) {
      case 'mode': {
        const mode = value.toLowerCase();
        if (mode === 'ro') readonly = true;
        else if (mode === 'rw') fileMustExist = true;
        else if (mode === 'memory') memory = true;
        else if (mode !== 'rwc') throw invalidParam(connection, name, value, 'ro, rw, rwc or memory');
        break;
      }
      case '_foreign_keys':
      case '_fk':
        pragmas.push(boolPragma(connection, name, value, 'foreign_keys'));
        break;
      case '_journal_mode':
      case '_journal':
        journalMode = enumPragma(connection, name, value, 'journal_mode', JOURNAL_MODES);
        break;
      case '_synchronous':
      case '_sync':
        pragmas.push(enumPragma(connection, name, value, 'synchronous', SYNCHRONOUS_MODES));
        break;
      case '_busy_timeout':
      case '_timeout':
        if (!/^\d+$/.test(value)) throw invalidParam(connection, name, value, 'a number of milliseconds');
        busyTimeoutMs = Number(value);
        break;
      default:
        logger.warn(
          IGNORED_URI_PARAMS.has(name.toLowerCase())
            ? 'SQLite DSN parameter ignored: better-sqlite3 opens plain file names, not URIs'
            : 'Unknown SQLite DSN parameter ignored',
          { connection, param: name },
        );
    }
  }
  if (memory && readonly) throw invalidParam(connection, 'mode', 'ro', 'rw or rwc for an in-memory database (it starts empty)');

  if (!memory && !readonly) pragmas.unshift(journalMode ?? 'journal_mode = WAL');

  return {
    filename: memory ? ':memory:' : path.resolve(rawPath),
    memory,
    readonly,
    fileMustExist: fileMustExist || readonly,
    pragmas,
    busyTimeoutMs,
  };
}
