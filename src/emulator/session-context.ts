import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { TlsServerIdentity } from './certificates.js';
import type { Logger } from '../logging.js';
import type { AuthAttempt, MemoryAuthLog } from './auth-log.js';
import type { ShiftableClock } from './clock.js';
import type { KeyRegistry } from './key-registry.js';
import type { SocketSet } from './relay.js';
import { ProtocolError, SocketReader } from './socket-reader.js';
import { hostMatches, verifyIamToken, type Verification } from './sigv4-verify.js';

/** What both front ends share: the endpoint's identity, the key registry, the auth log. */
export interface SessionContext {
  readonly region: string;
  readonly hostnames: readonly string[];
  readonly keys: KeyRegistry;
  readonly clock: ShiftableClock;
  readonly clockSkewSeconds: number;
  readonly isIamUser: (user: string) => boolean;
  readonly authLog: MemoryAuthLog;
  readonly sockets: SocketSet;
  readonly handshakeTimeoutMillis: number;
  readonly tls: TlsServerIdentity;
  readonly logger: Logger;
  /** The endpoint's name, on a cluster's endpoints (each accepts only tokens signed for itself). */
  readonly endpoint?: string;
}

/** Verifies a token presented on an endpoint whose tokens are signed for `advertisedPort`. */
export function verifyForEndpoint(context: SessionContext, token: string, user: string, advertisedPort: number): Verification {
  return verifyIamToken(token, {
    user,
    region: context.region,
    acceptsHost: (hostname, port) => port === advertisedPort && context.hostnames.some((pattern) => hostMatches(pattern, hostname)),
    now: context.clock.now(),
    clockSkewSeconds: context.clockSkewSeconds,
    keys: context.keys,
  });
}

/** 16 hex characters of the token's SHA-256: enough to tell tokens apart, useless to log in with. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/** Records a decision in the auth log, stamped with emulator time. */
export function recordAttempt(context: SessionContext, attempt: Omit<AuthAttempt, 'time'>): void {
  context.authLog.record({ time: new Date(context.clock.now()), ...(context.endpoint === undefined ? {} : { endpoint: context.endpoint }), ...attempt });
}

/** The client's address as a server would print it (no IPv4-mapped prefix). */
/** One client of a front end, before and after its TLS upgrade. */
export interface ClientConnection {
  readonly raw: Socket;
  /** The raw socket, or the TLS socket over it once TLS is on. */
  socket: Duplex;
  reader: SocketReader;
  tls: boolean;
  readonly remoteAddress: string;
}

/** A client as it arrives: plaintext, read from the raw socket. */
export function clientConnection(raw: Socket): ClientConnection {
  return { raw, socket: raw, reader: new SocketReader(raw), tls: false, remoteAddress: clientAddress(raw.remoteAddress) };
}

export function clientAddress(address: string | undefined): string {
  return (address ?? 'unknown').replace(/^::ffff:/, '');
}

/** Destroys `socket` unless the session clears the timer in time. */
export function handshakeDeadline(socket: { destroy(): void }, millis: number): () => void {
  const timer = setTimeout(() => socket.destroy(), millis);
  timer.unref();
  return () => clearTimeout(timer);
}

/** Answers the client's TLS handshake with the endpoint certificate; rejects if it fails or the client leaves. */
export async function startTls(raw: Socket, context: SessionContext): Promise<TLSSocket> {
  const secure = context.sockets.track(new TLSSocket(raw, { isServer: true, ...context.tls }));
  await new Promise<void>((resolve, reject) => {
    secure.once('secure', resolve);
    secure.once('error', reject);
    secure.once('close', () => reject(new ProtocolError('closed during the TLS handshake')));
  });
  return secure;
}
