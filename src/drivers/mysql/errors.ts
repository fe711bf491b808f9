import { ConnectionError, DbModuleError, QueryError, messageOf } from '../../errors.js';
import { driverError } from '../driver-error.js';
import { markNotSent } from '../session-health.js';

/** Where a mysql2 error happened, and what the message may name (never a password or a parameter value). */
export interface MysqlErrorContext {
  connection: string;
  phase: 'connect' | 'query' | 'acquire';
  host?: string;
  port?: number;
  user?: string;
  database?: string;
  /** The budget that ran out, for timeout messages. */
  timeoutMs?: number;
  /** Parameters of the failed statement: scrubbed from the server's message, never shown. */
  params?: readonly unknown[];
}

interface DriverErrorFields {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  fatal?: unknown;
  hostname?: unknown;
}

const AUTH_ERRNOS = new Set([1045, 1698]);
const LOST_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const TLS_CODES = new Set([
  'HANDSHAKE_NO_SSL_SUPPORT',
  'HANDSHAKE_SSL_ERROR',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
/** Server messages of these errors quote the offending value (or the SQL text near it, where values were interpolated). */
const VALUE_ECHOING_ERRNOS = new Set([1062, 1064, 1292, 1366, 1406, 1411, 1586, 3140, 4025]);
/** mysql2's answer to a command given to a connection that already failed or was closed (lib/base/connection.js). */
const NOT_SENT_MESSAGE = "Can't add new command when connection is in closed state";
/** Deadlock (the transaction was rolled back) and lock wait timeout (the statement was rolled back): safe to retry. */
const RETRYABLE_QUERY_ERRNOS = new Set([1213, 1205]);

function endpoint(context: MysqlErrorContext): string {
  const host = context.host ?? 'localhost';
  return `${host.includes(':') ? `[${host}]` : host}:${context.port ?? 3306}`;
}

function fieldsOf(error: unknown): DriverErrorFields {
  return typeof error === 'object' && error !== null ? (error as DriverErrorFields) : {};
}

/** Replaces quoted literals (and any parameter text) in a server message, keeping its shape. */
export function scrubServerMessage(message: string, errno: number | undefined, params?: readonly unknown[]): string {
  let text = message;
  if (params) {
    for (const param of params) {
      const value = typeof param === 'string' ? param : typeof param === 'number' || typeof param === 'bigint' ? String(param) : undefined;
      // Short values would blank out unrelated words; they are caught by the quoted-literal rule when echoed.
      if (value !== undefined && value.length >= 4) text = text.replaceAll(value, '?');
    }
  }
  if (errno !== undefined && VALUE_ECHOING_ERRNOS.has(errno)) text = text.replace(/'(?:[^'\\]|\\.|'')*'/g, "'?'");
  return text;
}

/**
 * Classifies a mysql2 error (or anything thrown around it) into a {@link DbModuleError} whose message
 * names the connection and, for connect failures, host:port. A DbModuleError is returned unchanged.
 */
export function toMysqlError(error: unknown, context: MysqlErrorContext): DbModuleError {
  if (error instanceof DbModuleError) return error;
  const fields = fieldsOf(error);
  const code = typeof fields.code === 'string' ? fields.code : undefined;
  const errno = typeof fields.errno === 'number' && fields.errno > 0 ? fields.errno : undefined;
  const sqlState = typeof fields.sqlState === 'string' ? fields.sqlState : undefined;
  const name = context.connection;
  const at = endpoint(context);
  const base = { connection: name, cause: error };
  const driverMessage = messageOf(error);

  if (errno !== undefined && AUTH_ERRNOS.has(errno)) {
    return driverError(ConnectionError, 'AUTH_FAILED', `authentication failed for user "${context.user ?? ''}" at ${at} (${code ?? 'errno'} ${errno}: ${driverMessage})`, {
      ...base,
      retryable: false,
      possibleCauses: [
        'the password is wrong, or the user does not exist for the client host (MySQL users are user@host pairs)',
        'with AWS RDS IAM: the token expired (15 minutes), was signed for another host, port, user or region, or the user was not created WITH AWSAuthenticationPlugin AS \'RDS\'',
        'with AWS RDS IAM: the IAM policy lacks rds-db:connect on this database user',
      ],
      solutions: [
        `check the user and password with: mysql -h ${context.host ?? 'localhost'} -P ${context.port ?? 3306} -u ${context.user ?? '<user>'} -p`,
        'for IAM users: CREATE USER ... IDENTIFIED WITH AWSAuthenticationPlugin AS \'RDS\'; grant rds-db:connect; connect over TLS',
      ],
    });
  }
  if (code === 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED' || code === 'AUTH_SWITCH_PLUGIN_ERROR') {
    return driverError(ConnectionError, 'AUTH_FAILED', `the server at ${at} asked for an authentication method the client could not complete (${code}: ${driverMessage})`, {
      ...base,
      retryable: false,
      possibleCauses: ['the user authenticates with mysql_clear_password (RDS IAM, PAM, LDAP), which mysql2 >= 3.22 disables unless enabled'],
      solutions: ['enable aws_iam_auth for this connection (dbmodule then enables cleartext authentication over TLS)'],
    });
  }
  if (code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) {
    const noTls = code === 'HANDSHAKE_NO_SSL_SUPPORT';
    return driverError(ConnectionError, 'TLS_FAILED', `TLS with ${at} failed (${code}: ${driverMessage})`, {
      ...base,
      retryable: false,
      possibleCauses: noTls
        ? ['TLS was requested but the server has TLS disabled (have_ssl = DISABLED)']
        : ['the server certificate is self-signed or signed by a CA that is not trusted', 'the host name does not match the certificate', 'the certificate expired'],
      solutions: noTls
        ? ['enable TLS on the server, or set sslmode=disable / ssl=false in the DSN for a local server']
        : ['pass the CA bundle with sslrootcert=<file> (RDS: the global bundle)', 'connect with the host name the certificate was issued for', 'use sslmode=verify-ca to skip the host name check'],
    });
  }
  if (code === 'ETIMEDOUT') {
    const budget = context.timeoutMs === undefined ? '' : ` after ${context.timeoutMs} ms`;
    return driverError(ConnectionError, 'CONNECT_TIMEOUT', `connecting to ${at} timed out${budget} (TCP connect, handshake and authentication)`, {
      ...base,
      retryable: true,
      possibleCauses: ['the host is unreachable or a firewall / security group drops the packets', 'the server is overloaded', 'connection_timeout is too short for this network'],
      solutions: ['check the security group / firewall allows this client on the port', 'raise connection_timeout'],
    });
  }
  if (code === 'ECONNREFUSED') {
    return driverError(ConnectionError, 'CONNECT_FAILED', `cannot connect to ${at}: connection refused (ECONNREFUSED)`, {
      ...base,
      retryable: true,
      possibleCauses: ['the server is not running', 'the port is wrong', 'the server listens on another interface (bind-address)'],
      solutions: [`check that MySQL/MariaDB listens on ${at}`],
    });
  }
  if (code !== undefined && DNS_CODES.has(code)) {
    const host = typeof fields.hostname === 'string' ? fields.hostname : (context.host ?? 'localhost');
    return driverError(ConnectionError, 'CONNECT_FAILED', `cannot resolve host "${host}" (${code})`, {
      ...base,
      retryable: code === 'EAI_AGAIN',
      possibleCauses: ['the host name in the DSN is misspelled', 'DNS is unavailable or the name is only resolvable inside a VPC'],
      solutions: [`check the host with: getent hosts ${host}`],
    });
  }
  if (errno === 1040 || code === 'ER_CON_COUNT_ERROR') {
    return driverError(ConnectionError, 'CONNECT_FAILED', `the server at ${at} refused the session: too many connections (${code ?? 'errno'} ${errno ?? ''})`.trimEnd(), {
      ...base,
      retryable: true,
      possibleCauses: ['max_connections on the server is reached by all clients together'],
      solutions: ['lower max_open_connections across instances, or raise max_connections'],
    });
  }
  if (code !== undefined && LOST_CODES.has(code)) {
    return driverError(ConnectionError, 'CONNECTION_LOST', `the session with ${at} was lost (${code})`, {
      ...base,
      // Before a statement was sent nothing can have run; during a query the statement may have been applied.
      retryable: context.phase !== 'query',
    });
  }
  if (code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
    const budget = context.timeoutMs === undefined ? '' : ` (${context.timeoutMs} ms)`;
    return driverError(QueryError, 'QUERY_TIMEOUT', `the query exceeded query_timeout${budget}; its session was closed`, {
      ...base,
      retryable: false,
      driverCode: code,
    });
  }
  if (driverMessage === 'Pool is closed.') {
    return driverError(DbModuleError, 'DATABASE_CLOSED', 'the pool is closed', { ...base, retryable: false });
  }
  if (context.phase !== 'query') {
    if (errno !== undefined) {
      const what = errno === 1049 ? ` (database "${context.database ?? ''}" does not exist)` : errno === 1044 ? ` (user "${context.user ?? ''}" may not use database "${context.database ?? ''}")` : '';
      return driverError(ConnectionError, 'CONNECT_FAILED', `the server at ${at} refused the session${what}: ${code ?? 'errno'} ${errno}: ${driverMessage}`, {
        ...base,
        retryable: false,
      });
    }
    return driverError(ConnectionError, 'CONNECT_FAILED', `cannot open a session with ${at}${code ? ` (${code})` : ''}: ${driverMessage}`, {
      ...base,
      retryable: fields.fatal === true,
    });
  }
  if (driverMessage === NOT_SENT_MESSAGE) {
    // mysql2 refused to queue the command on a session it already knew was dead: nothing reached the server.
    return markNotSent(
      driverError(ConnectionError, 'CONNECTION_LOST', `the session with ${at} was already lost; the statement was not sent`, {
        ...base,
        retryable: true,
      }),
    );
  }
  if (fields.fatal === true) {
    // mysql2 fails later commands on a dead connection with a code-less fatal error.
    return driverError(ConnectionError, 'CONNECTION_LOST', `the session with ${at} is no longer usable${code ? ` (${code})` : ''}: ${driverMessage}`, {
      ...base,
      retryable: false,
    });
  }
  const detail = [code, errno === undefined ? undefined : `errno ${errno}`, sqlState === undefined ? undefined : `SQLSTATE ${sqlState}`].filter(Boolean).join(', ');
  return driverError(QueryError, 'QUERY_FAILED', `query failed${detail ? ` (${detail})` : ''}: ${scrubServerMessage(driverMessage, errno, context.params)}`, {
    ...base,
    retryable: errno !== undefined && RETRYABLE_QUERY_ERRNOS.has(errno),
    ...(code === undefined ? {} : { driverCode: code }),
  });
}
