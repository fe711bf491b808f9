import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { messageOf } from '../errors.js';
import type { AuthAttempt } from './auth-log.js';
import {
  authenticationRequest,
  CANCEL_REQUEST_CODE,
  errorResponse,
  GSSENC_REQUEST_CODE,
  negotiateProtocolVersion,
  parseStartupParameters,
  passwordFromMessage,
  readMessage,
  readStartupPacket,
  SSL_REQUEST_CODE,
} from './pg-messages.js';
import { clientConnection, handshakeDeadline, recordAttempt, startTls, tokenFingerprint, verifyForEndpoint, type ClientConnection, type SessionContext } from './session-context.js';
import { ProtocolError, SocketReader } from './socket-reader.js';

/** A login the front end let through, for the backend to serve. */
export interface PostgresLogin {
  /** `iam`: the emulator authenticated the user; `passthrough`: the backend must authenticate it. */
  readonly kind: 'iam' | 'passthrough';
  /** Startup parameters (user, database, options...), `_pq_.` extensions removed. */
  readonly params: ReadonlyMap<string, string>;
  /** The client's StartupMessage as received (length included), for passthrough. */
  readonly startupPacket: Buffer;
}

/** Serves authenticated sessions: a real PostgreSQL or the embedded PGlite. */
export interface PostgresBackend {
  /** Takes over the client socket; `pending` holds client bytes already read. Resolves when the session ends. */
  serve(client: Duplex, pending: Buffer, login: PostgresLogin): Promise<void>;
  cancel(packet: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Largest PasswordMessage accepted (tokens with session tokens are a few KB). */
const MAX_PASSWORD_MESSAGE = 64 * 1024;

/**
 * One client connection to the PostgreSQL endpoint: SSLRequest and TLS, StartupMessage, and for
 * IAM users AuthenticationCleartextPassword and token verification, answered with RDS's errors.
 * Never throws: a misbehaving client only gets its own connection closed.
 */
export async function handlePostgresConnection(raw: Socket, context: SessionContext, backend: PostgresBackend, advertisedPort: number): Promise<void> {
  context.sockets.track(raw);
  raw.setNoDelay(true);
  const connection = clientConnection(raw);
  const clearDeadline = handshakeDeadline({ destroy: () => (raw.destroy(), connection.socket.destroy()) }, context.handshakeTimeoutMillis);
  try {
    const startup = await negotiate(connection, context, backend, clearDeadline);
    if (!startup) return;
    const login = await authenticate(connection, startup, context, advertisedPort);
    if (!login) return;
    clearDeadline();
    await backend.serve(connection.socket, connection.reader.detach(), login);
  } catch (error) {
    context.logger.debug('emulator: postgres connection closed', { remote: connection.remoteAddress, reason: messageOf(error) });
    connection.socket.destroy();
    raw.destroy();
  } finally {
    clearDeadline();
  }
}

/** Sends a FATAL ErrorResponse and closes, as the server does after a failed login. */
export function reject(socket: Duplex, fields: Parameters<typeof errorResponse>[0]): Promise<void> {
  return endWith(socket, errorResponse(fields));
}

/** Writes `data`, closes, and resolves once flushed (or after 2 s if the peer stalls). */
export function endWith(socket: Duplex, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    socket.end(data, () => resolve());
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, 2000).unref();
  });
}

// --- internal ---

type Connection = ClientConnection;

/**
 * Answers SSLRequest (TLS), GSSENCRequest (no) and CancelRequest (relayed) until the
 * StartupMessage, which is returned with its length prefix; undefined when the connection is done.
 */
async function negotiate(connection: Connection, context: SessionContext, backend: PostgresBackend, clearDeadline: () => void): Promise<Buffer | undefined> {
  for (;;) {
    const body = await readStartupPacket(connection.reader);
    const code = body.readInt32BE(0);
    if (code === SSL_REQUEST_CODE && body.length === 4 && !connection.tls) {
      // Bytes sent before our answer would be taken for TLS-protected ones (CVE-2021-23214).
      if (connection.reader.buffered > 0) throw new ProtocolError('data received after SSLRequest before the TLS handshake');
      connection.socket.write('S');
      connection.reader.detach();
      connection.socket = await startTls(connection.raw, context);
      connection.tls = true;
      connection.reader = new SocketReader(connection.socket);
    } else if (code === GSSENC_REQUEST_CODE && body.length === 4 && !connection.tls) {
      connection.socket.write('N');
    } else if (code === CANCEL_REQUEST_CODE && body.length === 12) {
      clearDeadline();
      connection.raw.destroy();
      await backend.cancel(Buffer.concat([Buffer.from([0, 0, 0, 16]), body]));
      return undefined;
    } else if (code >>> 16 !== 3) {
      await reject(connection.socket, { severity: 'FATAL', code: '0A000', message: `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}: server supports 3.0 to 3.0` });
      return undefined;
    } else {
      const startup = Buffer.concat([Buffer.alloc(4), body]);
      startup.writeInt32BE(startup.length, 0);
      return startup;
    }
  }
}

/** Decides the login: passthrough, RDS's refusals, or a verified token. Undefined when refused. */
async function authenticate(connection: Connection, startup: Buffer, context: SessionContext, advertisedPort: number): Promise<PostgresLogin | undefined> {
  const { socket, tls, remoteAddress } = connection;
  const allParams = parseStartupParameters(startup.subarray(4));
  const extensions = [...allParams.keys()].filter((key) => key.startsWith('_pq_.'));
  const params = new Map([...allParams].filter(([key]) => !key.startsWith('_pq_.')));
  const user = params.get('user');
  if (!user) {
    await reject(socket, { severity: 'FATAL', code: '28000', message: 'no PostgreSQL user name specified in startup packet' });
    return undefined;
  }
  const record = (attempt: Pick<AuthAttempt, 'accessKeyId' | 'signedHost' | 'decision' | 'reason' | 'detail' | 'tokenId'>) =>
    recordAttempt(context, { protocol: 'postgres', user, remoteAddress, tls, ...attempt });
  if (!context.isIamUser(user)) {
    record({ accessKeyId: undefined, signedHost: undefined, decision: 'passthrough', reason: 'PASSTHROUGH', detail: 'not an IAM user: the backend checks the password' });
    return { kind: 'passthrough', params, startupPacket: startup };
  }
  if (!tls) {
    // RDS (rds.force_ssl): `hostnossl all all 0.0.0.0/0 reject` comes before the IAM rule, so the token is never asked for.
    record({ accessKeyId: undefined, signedHost: undefined, decision: 'deny', reason: 'NOT_TLS', detail: 'IAM logins need TLS (the token would cross the network in the clear)' });
    const database = params.get('database') || user;
    await reject(socket, { severity: 'FATAL', code: '28000', message: `pg_hba.conf rejects connection for host "${remoteAddress}", user "${user}", database "${database}", no encryption`, routine: 'ClientAuthentication' });
    return undefined;
  }
  if ((startup.readInt32BE(4) & 0xffff) !== 0 || extensions.length > 0) socket.write(negotiateProtocolVersion(extensions));
  socket.write(authenticationRequest(3));
  const message = await readMessage(connection.reader, MAX_PASSWORD_MESSAGE);
  if (message.type !== 'p') throw new ProtocolError(`expected a password message, got "${message.type}"`);
  const token = passwordFromMessage(message.body);
  const tokenId = tokenFingerprint(token);
  const verification = verifyForEndpoint(context, token, user, advertisedPort);
  if (!verification.ok) {
    record({ accessKeyId: verification.accessKeyId, signedHost: verification.signedHost, tokenId, decision: 'deny', reason: verification.reason, detail: verification.detail });
    await reject(socket, { severity: 'FATAL', code: '28000', message: `PAM authentication failed for user "${user}"`, routine: 'auth_failed' });
    return undefined;
  }
  record({ accessKeyId: verification.accessKeyId, signedHost: verification.signedHost, tokenId, decision: 'allow', reason: 'OK', detail: 'token verified' });
  return { kind: 'iam', params, startupPacket: startup };
}
