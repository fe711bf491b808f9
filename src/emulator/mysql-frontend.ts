import type { Socket } from 'node:net';
import type { Transform } from 'node:stream';
import { messageOf } from '../errors.js';
import type { AuthAttempt } from './auth-log.js';
import {
  authSwitchRequest,
  buildGreeting,
  buildHandshakeResponse,
  CAP,
  ER_ACCESS_DENIED,
  ER_UNKNOWN_ERROR,
  errPacket,
  newScramble,
  packet,
  parseHandshakeResponse,
  readPacket,
  SSL_REQUEST_LENGTH,
  type HandshakeResponse,
} from './mysql-packets.js';
import { relayableCapabilities, type MysqlUpstream, type UpstreamConnection } from './mysql-upstream.js';
import { endWith } from './postgres-frontend.js';
import { relay, withTimeout } from './relay.js';
import { clientConnection, handshakeDeadline, recordAttempt, startTls, tokenFingerprint, verifyForEndpoint, type ClientConnection, type SessionContext } from './session-context.js';
import { SocketReader } from './socket-reader.js';
import { mysqlStatementRewriter, type SqlRewrite } from './statement-rewriter.js';

/**
 * One client connection to the MySQL endpoint: greeting, SSLRequest and TLS, HandshakeResponse,
 * then for IAM users a switch to mysql_clear_password and token verification (RDS's error 1045
 * on failure); other users are authenticated by the upstream itself. Never throws.
 */
export async function handleMysqlConnection(raw: Socket, context: SessionContext, upstream: MysqlUpstream, advertisedPort: number, rewrite?: SqlRewrite): Promise<void> {
  const rewriter = () => rewrite && mysqlStatementRewriter(rewrite);
  context.sockets.track(raw);
  raw.setNoDelay(true);
  const connection: Connection = { ...clientConnection(raw), seq: 0 };
  const clearDeadline = handshakeDeadline({ destroy: () => (raw.destroy(), connection.socket.destroy()) }, context.handshakeTimeoutMillis);
  let opened: UpstreamConnection | undefined;
  try {
    const greeted = await handshake(connection, context, upstream);
    if (!greeted) return;
    const response = greeted.response;
    opened = greeted.opened;
    const record = (attempt: Pick<AuthAttempt, 'accessKeyId' | 'signedHost' | 'decision' | 'reason' | 'detail' | 'tokenId'>) =>
      recordAttempt(context, { protocol: 'mysql', user: response.user, remoteAddress: connection.remoteAddress, tls: connection.tls, ...attempt });
    if (!context.isIamUser(response.user)) {
      record({ accessKeyId: undefined, signedHost: undefined, decision: 'passthrough', reason: 'PASSTHROUGH', detail: 'not an IAM user: the upstream checks the password' });
      await passthrough(connection, response, opened, context.handshakeTimeoutMillis, clearDeadline, rewriter);
      return;
    }
    if (!connection.tls) {
      record({ accessKeyId: undefined, signedHost: undefined, decision: 'deny', reason: 'NOT_TLS', detail: 'IAM logins need TLS (the token would cross the network in the clear)' });
      await endWith(connection.socket, accessDenied(connection, response.user, response.authResponse.length > 0));
      return;
    }
    const token = await readToken(connection, response);
    const tokenId = tokenFingerprint(token);
    const verification = verifyForEndpoint(context, token, response.user, advertisedPort);
    if (!verification.ok) {
      record({ accessKeyId: verification.accessKeyId, signedHost: verification.signedHost, tokenId, decision: 'deny', reason: verification.reason, detail: verification.detail });
      await endWith(connection.socket, accessDenied(connection, response.user, token.length > 0));
      return;
    }
    record({ accessKeyId: verification.accessKeyId, signedHost: verification.signedHost, tokenId, decision: 'allow', reason: 'OK', detail: 'token verified' });
    await serveIamSession(connection, response, context, upstream, opened, clearDeadline, rewriter);
  } catch (error) {
    context.logger.debug('emulator: mysql connection closed', { remote: connection.remoteAddress, reason: messageOf(error) });
    connection.socket.destroy();
    raw.destroy();
  } finally {
    clearDeadline();
    // the session was relayed to its end, or denied, or the client left
    opened?.socket.destroy();
  }
}

// --- internal ---

/** A new statement rewriter for a session's command phase, when the endpoint rewrites. */
type Rewriter = () => Transform | undefined;

interface Connection extends ClientConnection {
  /** The sequence id of the next packet the emulator sends. */
  seq: number;
}

/**
 * Opens the upstream session first and greets with the upstream's identity and that session's
 * connection id (as RDS does: the id `KILL` and `CONNECTION_ID()` know), answers SSLRequest with
 * TLS, returns the HandshakeResponse and the upstream session; undefined when done.
 */
async function handshake(connection: Connection, context: SessionContext, upstream: MysqlUpstream): Promise<{ response: HandshakeResponse; opened: UpstreamConnection } | undefined> {
  let greeting;
  let opened: UpstreamConnection;
  try {
    const identity = await upstream.greeting();
    opened = await upstream.open();
    greeting = { ...identity, connectionId: opened.greeting.connectionId, scramble: newScramble(), authPlugin: 'mysql_native_password' };
  } catch (error) {
    await endWith(connection.socket, packet(0, errPacket(ER_UNKNOWN_ERROR, 'HY000', `emulator: the upstream server ${upstream.target.redacted} is unavailable: ${messageOf(error)}`)));
    return undefined;
  }
  connection.socket.write(packet(0, buildGreeting(greeting)));
  let first = await readPacket(connection.reader);
  if (first.payload.length === SSL_REQUEST_LENGTH && first.payload.readUInt32LE(0) & CAP.SSL) {
    // Clients start TLS right after the SSLRequest (there is no answer to wait for): the
    // ClientHello may already be read, so it goes back to the socket for the TLS layer.
    const clientHello = connection.reader.detach();
    if (clientHello.length > 0) connection.raw.unshift(clientHello);
    connection.socket = await startTls(connection.raw, context);
    connection.tls = true;
    connection.reader = new SocketReader(connection.socket);
    first = await readPacket(connection.reader);
  }
  connection.seq = first.seq + 1;
  return { response: parseHandshakeResponse(first.payload), opened };
}

/** The token: sent at once by clients greeting with mysql_clear_password, else after RDS's switch to it. */
async function readToken(connection: Connection, response: HandshakeResponse): Promise<string> {
  let token = response.authResponse;
  if (response.authPlugin !== 'mysql_clear_password' || token.length === 0) {
    connection.socket.write(packet(connection.seq, authSwitchRequest('mysql_clear_password', Buffer.alloc(0))));
    const answer = await readPacket(connection.reader);
    connection.seq = answer.seq + 1;
    token = answer.payload;
  }
  return token.toString('utf8').replace(/\0+$/, '');
}

function accessDenied(connection: Connection, user: string, usingPassword: boolean): Buffer {
  const message = `Access denied for user '${user}'@'${connection.remoteAddress}' (using password: ${usingPassword ? 'YES' : 'NO'})`;
  return packet(connection.seq, errPacket(ER_ACCESS_DENIED, '28000', message));
}

/** Logs in to the upstream with its own credentials, answers the client with the upstream's OK, and relays. */
async function serveIamSession(connection: Connection, response: HandshakeResponse, context: SessionContext, upstream: MysqlUpstream, opened: UpstreamConnection, clearDeadline: () => void, rewriter: Rewriter): Promise<void> {
  let login;
  try {
    login = await upstream.login(response, response.user, opened);
  } catch (error) {
    context.logger.warn('emulator: cannot open the upstream MySQL session', { upstream: upstream.target.redacted, reason: messageOf(error) });
    await endWith(connection.socket, packet(connection.seq, errPacket(ER_UNKNOWN_ERROR, 'HY000', `emulator: cannot open a session on the upstream server: ${messageOf(error)}`)));
    return;
  }
  if (!login.ok) {
    await endWith(connection.socket, packet(connection.seq, login.errPayload));
    return;
  }
  clearDeadline();
  await relay(connection.socket, login.socket, { toClient: Buffer.concat([packet(connection.seq, login.okPayload), login.pending]), toUpstream: connection.reader.detach() }, rewriter());
}

/**
 * A user who is not an IAM user logs in to the upstream with their own password: the client is
 * asked to answer the upstream's scramble, and the remaining auth exchange is relayed.
 */
async function passthrough(connection: Connection, response: HandshakeResponse, opened: UpstreamConnection, timeoutMillis: number, clearDeadline: () => void, rewriter: Rewriter): Promise<void> {
  const { socket: client, reader: clientReader } = connection;
  let seq = connection.seq;
  const { socket: server, reader: serverReader, greeting } = opened;
  try {
    const plugin = greeting.authPlugin;
    client.write(packet(seq, authSwitchRequest(plugin, Buffer.concat([greeting.scramble, Buffer.from([0])]))));
    const answer = await readPacket(clientReader);
    seq = answer.seq + 1;
    const capabilities = relayableCapabilities(response.capabilities);
    let serverSeq = 1;
    server.write(packet(serverSeq, buildHandshakeResponse({ ...response, capabilities, authResponse: answer.payload, authPlugin: plugin })));
    for (;;) {
      const fromServer = await withTimeout(readPacket(serverReader), timeoutMillis);
      serverSeq = fromServer.seq + 1;
      const marker = fromServer.payload[0];
      if (marker === 0x00) {
        clearDeadline();
        await relay(client, server, { toClient: Buffer.concat([packet(seq, fromServer.payload), serverReader.detach()]), toUpstream: clientReader.detach() }, rewriter());
        return;
      }
      client.write(packet(seq, fromServer.payload));
      if (marker === 0xff) {
        server.destroy();
        client.end();
        return;
      }
      const fromClient = await readPacket(clientReader);
      seq = fromClient.seq + 1;
      server.write(packet(serverSeq, fromClient.payload));
    }
  } catch (error) {
    server.destroy();
    throw error;
  }
}
