import { ConnectionError, DbModuleError, QueryError, messageOf, type ErrorCode } from '../../errors.js';
import { driverError } from '../driver-error.js';
import { markNotSent } from '../session-health.js';

/** Where a driver error happened; `endpoint` (host:port) is named in connect errors. */
export interface PostgresErrorContext {
  connection: string;
  phase: 'connect' | 'query' | 'acquire';
  /** `host:port` of the server, for connect-time messages. */
  endpoint?: string;
}

interface Hints {
  possibleCauses: readonly string[];
  solutions: readonly string[];
}

const AUTH_HINTS: Hints = {
  possibleCauses: [
    'the password (or IAM token) is wrong or has expired',
    'the user does not exist or is not allowed to log in',
    'pg_hba.conf has no entry for this user, database, client address and TLS combination, or requires another method',
  ],
  solutions: [
    'check the user and password of the DSN (or what the password function returns)',
    'try the same credentials with psql from the same host',
    'for RDS IAM: GRANT rds_iam TO the user, and sign the token for this host, port and user',
  ],
};

const TLS_HINTS: Hints = {
  possibleCauses: [
    'the server does not accept TLS (ssl = off), or requires it when TLS is disabled',
    'the server certificate is not signed by a trusted CA (self-signed or a private CA)',
    'the server certificate does not name the host that was connected to',
  ],
  solutions: [
    'give the CA bundle with sslrootcert (for RDS: the RDS CA bundle)',
    'connect with the hostname the certificate was issued for, not an IP address or alias',
    'enable ssl on the server, or use sslmode=disable only on a trusted network',
  ],
};

const REFUSED_HINTS: Hints = {
  possibleCauses: ['the server is not running or not listening on this address and port', 'a firewall rejects the connection'],
  solutions: ['check the host and port of the DSN', 'check that the server is up (pg_isready -h HOST -p PORT)'],
};

const DNS_HINTS: Hints = {
  possibleCauses: ['the hostname is misspelled', 'the name only resolves inside another network (VPC, private DNS zone)'],
  solutions: ['check the host of the DSN', 'resolve it from this machine (getent hosts HOST) and check the DNS configuration'],
};

const CONNECT_TIMEOUT_HINTS: Hints = {
  possibleCauses: ['a firewall or security group silently drops the packets', 'the server is overloaded', 'the port belongs to a service that is not PostgreSQL'],
  solutions: ['check the network path to the server (security groups, routes, VPN)', 'raise connection_timeout if the server is slow to accept sessions'],
};

const POOL_TIMEOUT_HINTS: Hints = {
  possibleCauses: ['every one of max_open_connections sessions stayed in use (long transactions, or clients taken with pool.connect() and never released)'],
  solutions: ['raise max_open_connections (within the server max_connections)', 'shorten transactions, and release every client taken from the native pool'],
};

const SERVER_CONNECT_CODES: Record<string, { summary: string; retryable: boolean }> = {
  '3D000': { summary: 'the database does not exist', retryable: false },
  '53300': { summary: 'the server has too many connections', retryable: true },
  '57P03': { summary: 'the server is not accepting connections yet', retryable: true },
};

const TLS_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

const DNS_ERROR_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);
const SOCKET_ERROR_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'EHOSTDOWN', 'ENETDOWN']);

/** Messages pg and pg-pool build themselves (English, stable across pg 8.x). */
const NOT_SENT = new Set(['Client has encountered a connection error and is not queryable', 'Client was closed and is not queryable']);
const TLS_MESSAGES = new Set(['The server does not support SSL connections', 'There was an error establishing an SSL connection']);

interface ServerError {
  code: string;
  message: string;
}

/** A PostgreSQL ErrorResponse (pg's DatabaseError): a five-character SQLSTATE and a severity. */
function asServerError(error: unknown): ServerError | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, severity } = error as Error & { code?: unknown; severity?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string' ? { code, message: error.message } : undefined;
}

/**
 * Data exceptions (class 22) quote the offending input: `invalid input syntax for type
 * integer: "<parameter value>"`. Quoted parts are masked so no parameter reaches a message.
 */
function withoutValues(sqlstate: string, message: string): string {
  return sqlstate.startsWith('22') ? message.replace(/"(?:[^"]|"")*"/g, '"…"') : message;
}

/**
 * Classifies an error from pg or pg-pool into a {@link DbModuleError} with a stable code.
 * The message names the connection (and `host:port` for connect errors) and never contains
 * a password or a parameter value; the driver error stays on `cause`.
 */
export function toPostgresError(error: unknown, context: PostgresErrorContext): DbModuleError {
  if (error instanceof DbModuleError) return error;
  const server = asServerError(error);
  if (server) return fromServerError(error, server, context);

  const { connection, phase } = context;
  const at = context.endpoint ? ` at ${context.endpoint}` : '';
  const text = messageOf(error);
  const code = (error as { code?: unknown } | null)?.code;
  const connectionError = (errorCode: ErrorCode, summary: string, retryable: boolean, hints?: Hints) =>
    driverError(ConnectionError, errorCode, `${summary}${at}: ${text}`, { connection, retryable, cause: error, ...hints });
  const queryError = (errorCode: ErrorCode, summary: string, retryable: boolean) =>
    driverError(QueryError, errorCode, `${summary}: ${text}`, {
      connection,
      retryable,
      cause: error,
      ...(typeof code === 'string' ? { driverCode: code } : {}),
    });

  if (text === 'Cannot use a pool after calling end on the pool') {
    return driverError(DbModuleError, 'DATABASE_CLOSED', 'the pool is closed', { connection, cause: error });
  }
  if (text === 'timeout exceeded when trying to connect') {
    return connectionError('POOL_TIMEOUT', 'no session became free within connection_timeout', true, POOL_TIMEOUT_HINTS);
  }
  if (text === 'Connection terminated due to connection timeout' || text === 'timeout expired') {
    return connectionError('CONNECT_TIMEOUT', 'opening a session did not finish within connection_timeout', true, CONNECT_TIMEOUT_HINTS);
  }
  if (text === 'Query read timeout') return queryError('QUERY_TIMEOUT', 'the query did not finish within query_timeout; its session was closed', false);
  if (NOT_SENT.has(text)) return markNotSent(queryError('CONNECTION_LOST', 'the session was already lost, the statement was not sent', true));
  if (typeof code === 'string' && (TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    return connectionError('TLS_FAILED', 'TLS negotiation failed', false, TLS_HINTS);
  }
  if (TLS_MESSAGES.has(text)) return connectionError('TLS_FAILED', 'TLS negotiation failed', false, TLS_HINTS);
  if (code === 'ECONNREFUSED') return connectionError('CONNECT_FAILED', 'connection refused', true, REFUSED_HINTS);
  if (typeof code === 'string' && DNS_ERROR_CODES.has(code)) {
    const host = (error as { hostname?: unknown }).hostname;
    const name = typeof host === 'string' ? `host "${host}"` : 'the host';
    return connectionError('CONNECT_FAILED', `${name} could not be resolved`, true, DNS_HINTS);
  }
  const lostSocket = text.startsWith('Connection terminated') || (typeof code === 'string' && SOCKET_ERROR_CODES.has(code));
  if (phase === 'query') {
    return lostSocket ? queryError('CONNECTION_LOST', 'the session was lost during the query', false) : queryError('QUERY_FAILED', 'query failed', false);
  }
  return lostSocket
    ? connectionError('CONNECT_FAILED', 'the server closed the connection while it was being opened', true)
    : connectionError('CONNECT_FAILED', 'could not open a session', false);
}

function fromServerError(error: unknown, server: ServerError, context: PostgresErrorContext): DbModuleError {
  const { connection, phase } = context;
  const sqlstate = server.code;
  const detail = `${withoutValues(sqlstate, server.message)} (SQLSTATE ${sqlstate})`;
  const options = { connection, cause: error, driverCode: sqlstate };

  if (phase !== 'query') {
    const at = context.endpoint ? ` at ${context.endpoint}` : '';
    if (sqlstate.startsWith('28')) {
      return driverError(ConnectionError, 'AUTH_FAILED', `authentication failed${at}: ${detail}`, { ...options, retryable: false, ...AUTH_HINTS });
    }
    const known = SERVER_CONNECT_CODES[sqlstate];
    const summary = known?.summary ?? 'the server refused the session';
    const retryable = known?.retryable ?? (sqlstate.startsWith('08') || sqlstate.startsWith('57P'));
    return driverError(ConnectionError, 'CONNECT_FAILED', `${summary}${at}: ${detail}`, { ...options, retryable });
  }
  if (sqlstate === '57014') {
    return driverError(QueryError, 'QUERY_TIMEOUT', `the query was cancelled: ${detail}`, { ...options, retryable: false });
  }
  if (sqlstate.startsWith('08') || sqlstate === '57P01' || sqlstate === '57P02') {
    // The server said it is ending the session (shutdown, pg_terminate_backend, a crashed peer):
    // that FATAL aborts the statement's transaction, so nothing of it was committed. A bare
    // 08xxx says nothing of the kind.
    const rolledBack = sqlstate === '57P01' || sqlstate === '57P02';
    return driverError(QueryError, 'CONNECTION_LOST', `the session was lost during the query: ${detail}`, { ...options, retryable: rolledBack });
  }
  // serialization failures and deadlocks roll the transaction back: running it again is safe
  const retryable = sqlstate === '40001' || sqlstate === '40P01';
  return driverError(QueryError, 'QUERY_FAILED', `query failed: ${detail}`, { ...options, retryable });
}
