import { createHash } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { authenticationRequest, cstring, frame, int32, readMessage, SSL_REQUEST_CODE, startupMessage } from './pg-messages.js';
import { connectTcp, withTimeout, type SocketSet } from './relay.js';
import { ScramClient } from './scram.js';
import { ProtocolError, SocketReader } from './socket-reader.js';
import type { UpstreamTarget } from './upstream-url.js';

/** The upstream refused the login: its ErrorResponse, to forward to the client as is. */
export interface UpstreamRejected {
  readonly ok: false;
  readonly errorResponse: Buffer;
}

/** Logged in: `greeting` is AuthenticationOk plus whatever followed it, to forward as is. */
export interface UpstreamSession {
  readonly ok: true;
  readonly socket: Duplex;
  readonly greeting: Buffer;
}

/** Opens a TCP (or TLS, per sslmode) connection, tracked in `sockets`. */
export async function connectPostgresUpstream(target: UpstreamTarget, sockets: SocketSet, timeoutMillis: number): Promise<{ socket: Duplex; reader: SocketReader }> {
  const raw = sockets.track(await connectTcp(target.host, target.port, timeoutMillis));
  if (target.sslmode === 'disable') return { socket: raw, reader: new SocketReader(raw) };
  raw.write(Buffer.concat([int32(8), int32(SSL_REQUEST_CODE)]));
  const probe = new SocketReader(raw);
  const answer = (await probe.read(1)).toString('latin1');
  probe.detach();
  if (answer !== 'S') throw new Error(`the upstream ${target.host}:${target.port} does not accept TLS (sslmode=${target.sslmode})`);
  const secure = sockets.track(
    tlsConnect({ socket: raw, servername: target.host, rejectUnauthorized: target.sslmode === 'verify-full' }),
  );
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  return { socket: secure, reader: new SocketReader(secure) };
}

/**
 * Logs in to the upstream PostgreSQL with the upstream credentials (trust, cleartext, MD5 or
 * SCRAM-SHA-256) and the client's startup parameters.
 */
export async function loginPostgresUpstream(
  target: UpstreamTarget,
  params: ReadonlyMap<string, string>,
  sockets: SocketSet,
  timeoutMillis: number,
): Promise<UpstreamSession | UpstreamRejected> {
  const { socket, reader } = await connectPostgresUpstream(target, sockets, timeoutMillis);
  try {
    return await withTimeout(authenticate(socket, reader, target, params), timeoutMillis);
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** Sends a CancelRequest to the upstream (the key is the upstream's own, relayed untouched). */
export async function relayCancel(target: UpstreamTarget, packet: Buffer, sockets: SocketSet, timeoutMillis: number): Promise<void> {
  const socket = sockets.track(await connectTcp(target.host, target.port, timeoutMillis));
  socket.end(packet);
}

function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

async function authenticate(socket: Duplex, reader: SocketReader, target: UpstreamTarget, params: ReadonlyMap<string, string>): Promise<UpstreamSession | UpstreamRejected> {
  const user = params.get('user') ?? '';
  socket.write(startupMessage(params));
  let scram: ScramClient | undefined;
  for (;;) {
    const message = await readMessage(reader, 64 * 1024);
    if (message.type === 'E') {
      reader.detach();
      socket.destroy();
      return { ok: false, errorResponse: message.raw };
    }
    if (message.type !== 'R') continue; // NoticeResponse, NegotiateProtocolVersion
    const code = message.body.readInt32BE(0);
    if (code === 0) {
      const rest = reader.detach();
      return { ok: true, socket, greeting: Buffer.concat([authenticationRequest(0), rest]) };
    }
    if (code === 3) {
      socket.write(frame('p', cstring(target.password)));
    } else if (code === 5) {
      const salt = message.body.subarray(4, 8);
      const inner = md5Hex(Buffer.from(target.password + user, 'utf8'));
      socket.write(frame('p', cstring(`md5${md5Hex(Buffer.concat([Buffer.from(inner, 'latin1'), salt]))}`)));
    } else if (code === 10) {
      const mechanisms = message.body.subarray(4).toString('utf8').split('\0');
      if (!mechanisms.includes('SCRAM-SHA-256')) throw new ProtocolError(`the upstream offers only ${mechanisms.filter(Boolean).join(', ')}`);
      scram = new ScramClient(target.password);
      const first = Buffer.from(scram.first(), 'utf8');
      socket.write(frame('p', Buffer.concat([cstring('SCRAM-SHA-256'), int32(first.length), first])));
    } else if (code === 11 && scram) {
      socket.write(frame('p', Buffer.from(scram.final(message.body.subarray(4).toString('utf8')), 'utf8')));
    } else if (code === 12 && scram) {
      scram.verify(message.body.subarray(4).toString('utf8'));
    } else {
      throw new ProtocolError(`the upstream asks for authentication method ${code}, which the emulator does not speak`);
    }
  }
}
