import { TimeoutError } from 'tarn';
import { ConnectionError, DbModuleError, QueryError, messageOf } from '../../errors.js';
import { driverError } from '../driver-error.js';

/** Where a driver error happened; `path` and `timeoutMs` make messages precise when known. */
export interface SqliteErrorContext {
  connection: string;
  phase: 'connect' | 'query' | 'acquire';
  /** The database file, for connect errors. */
  path?: string;
  /** The budget that ran out, for timeouts. */
  timeoutMs?: number;
}

const NOT_OPEN = 'database connection is not open';
const NATIVE_BINDING = /bindings file|compiled against a different Node\.js version|NODE_MODULE_VERSION|invalid ELF header/i;

/** The SQLite (extended) result code of a better-sqlite3 error, e.g. `SQLITE_CONSTRAINT_UNIQUE`. */
export function sqliteCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

function connectError(error: unknown, context: SqliteErrorContext): DbModuleError {
  const { connection, path = 'the database file' } = context;
  const driverMessage = messageOf(error);
  const code = sqliteCodeOf(error) ?? (error as { code?: unknown } | null)?.code;
  if (NATIVE_BINDING.test(driverMessage)) {
    return driverError(DbModuleError, 'DRIVER_NOT_INSTALLED', `better-sqlite3 is installed but its native module cannot be loaded: ${driverMessage}`, {
      connection,
      possibleCauses: ['better-sqlite3 was built for another Node.js version or platform'],
      solutions: ['npm rebuild better-sqlite3'],
      cause: error,
    });
  }
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_RECOVERY' || code === 'SQLITE_BUSY_TIMEOUT') {
    return driverError(ConnectionError, 'CONNECT_TIMEOUT', `SQLite database "${path}" stayed locked by another connection while opening: ${driverMessage}`, {
      connection,
      retryable: true,
      possibleCauses: ['another process holds an exclusive lock on the database (a long write, a backup, a journal-mode change)'],
      solutions: ['retry later, or raise connection_timeout'],
      cause: error,
    });
  }
  const notAnDatabase = code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT';
  return driverError(ConnectionError, 'CONNECT_FAILED', `cannot open SQLite database "${path}": ${driverMessage}`, {
    connection,
    retryable: false,
    possibleCauses: notAnDatabase
      ? ['the file exists but is not an SQLite database, or it is damaged']
      : [
          'the directory does not exist and cannot be created',
          'the process may not read or write the file or its directory',
          'mode=ro or mode=rw was given but the file does not exist',
          'the path names a directory, not a file',
        ],
    solutions: notAnDatabase
      ? ['point the DSN at an SQLite database file, or restore it from a backup']
      : ['check the path in the DSN (relative paths are resolved against the working directory)', 'check the permissions of the file and its directory'],
    cause: error,
  });
}

function timeoutError(error: unknown, context: SqliteErrorContext): DbModuleError {
  const { connection, timeoutMs } = context;
  const within = timeoutMs === undefined ? '' : ` within ${timeoutMs}ms`;
  if (context.phase === 'connect') {
    return driverError(ConnectionError, 'CONNECT_TIMEOUT', `opening the SQLite database did not finish${within}`, {
      connection,
      retryable: true,
      possibleCauses: ['another process keeps the database locked'],
      solutions: ['raise connection_timeout', 'find the process holding the lock'],
      cause: error,
    });
  }
  return driverError(ConnectionError, 'POOL_TIMEOUT', `no SQLite handle became free${within}: every handle is in use`, {
    connection,
    retryable: true,
    possibleCauses: ['max_open_connections is too small for the load', 'sessions or transactions are held for a long time', 'a handle was acquired and never released'],
    solutions: ['raise max_open_connections or connection_timeout', 'keep transactions short'],
    cause: error,
  });
}

function queryError(error: unknown, context: SqliteErrorContext): DbModuleError {
  const { connection } = context;
  const driverMessage = messageOf(error);
  const driverCode = sqliteCodeOf(error);
  if (driverMessage.includes(NOT_OPEN) || driverCode?.startsWith('SQLITE_IOERR')) {
    return driverError(QueryError, 'CONNECTION_LOST', `the SQLite handle is unusable: ${driverMessage}`, {
      connection,
      driverCode,
      // A closed handle ran nothing; an I/O error may have happened after a change.
      retryable: driverCode === undefined,
      possibleCauses: ['the handle was closed', 'the database file or its directory was removed, or the disk failed'],
      solutions: ['retry on a new handle', 'check the disk and the database file'],
      cause: error,
    });
  }
  const busy = driverCode === 'SQLITE_BUSY' || driverCode === 'SQLITE_BUSY_RECOVERY' || driverCode === 'SQLITE_BUSY_TIMEOUT';
  return driverError(QueryError, 'QUERY_FAILED', driverMessage, {
    connection,
    driverCode,
    retryable: busy,
    ...(busy
      ? {
          possibleCauses: ['another connection or process held the write lock for longer than the busy timeout'],
          solutions: ['keep write transactions short', 'raise connection_timeout or the DSN parameter _busy_timeout'],
        }
      : {}),
    cause: error,
  });
}

/**
 * Classifies a better-sqlite3 (or pool) error as a {@link DbModuleError}. Messages name the
 * connection and, when opening, the file; SQLite never puts bound values in its messages.
 * A {@link DbModuleError} is returned unchanged.
 */
export function toSqliteError(error: unknown, context: SqliteErrorContext): DbModuleError {
  if (error instanceof DbModuleError) return error;
  if (error instanceof TimeoutError) return timeoutError(error, context);
  return context.phase === 'query' ? queryError(error, context) : connectError(error, context);
}
