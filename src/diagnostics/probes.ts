import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { DbModuleError, messageOf } from '../errors.js';
import { explain } from './causes.js';

/** Opens a TCP connection and closes it at once: something listens on host:port. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DbModuleError('CONNECT_TIMEOUT', `no TCP answer from ${host}:${port} within ${timeoutMs}ms`, { retryable: true }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(`${host}:${port} accepts connections`);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new DbModuleError('CONNECT_FAILED', `TCP connection to ${host}:${port} failed: ${messageOf(error)}`, { cause: error, retryable: true }));
    });
  });
}

/** What the PostgreSQL TLS probe needs: where to connect, the name to verify, the TLS options of the real connection. */
export interface PostgresTlsProbe {
  readonly address: string;
  readonly port: number;
  /** The DSN host: the name the certificate must carry (unless `tls.servername` says otherwise). */
  readonly host: string;
  readonly tls: ConnectionOptions;
  /** How the options verify the server, for the report (`verify-full against the RDS CA bundle`). */
  readonly verification: string;
  readonly timeoutMs: number;
}

// Int32 length 8, then the SSLRequest code 80877103 (1234 << 16 | 5679).
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * The TLS handshake a PostgreSQL client makes (SSLRequest, the server's `S`, then TLS) with the
 * connection's own TLS options, so a certificate problem shows as such rather than as a failed
 * login. The session ends right after the handshake: no startup message, no password.
 */
export function probePostgresTls(probe: PostgresTlsProbe): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const where = `${probe.host}:${probe.port}`;
    let socket: Socket | undefined;
    let done = false;
    const finish = (error: DbModuleError | undefined, detail?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket?.destroy();
      if (error) reject(error);
      else resolvePromise(detail ?? '');
    };
    const timer = setTimeout(
      () => finish(new DbModuleError('CONNECT_TIMEOUT', `no TLS handshake with ${where} within ${probe.timeoutMs}ms`, { retryable: true, ...explain('CONNECT_TIMEOUT') })),
      probe.timeoutMs,
    );
    const raw = tcpConnect({ host: probe.address, port: probe.port });
    socket = raw;
    raw.once('error', (error) => finish(new DbModuleError('CONNECT_FAILED', `connection to ${where} failed before TLS: ${messageOf(error)}`, { cause: error, retryable: true })));
    raw.once('connect', () => raw.write(SSL_REQUEST));
    raw.once('data', (answer: Buffer) => {
      raw.removeAllListeners('error');
      if (answer[0] !== 0x53) {
        finish(tlsError(`${where} answered the SSLRequest with "${String.fromCharCode(answer[0] ?? 0)}": the server does not accept TLS`, undefined, ['The server has ssl = off', 'Something other than PostgreSQL listens on this port']));
        return;
      }
      const servername = probe.tls.servername ?? (isIP(probe.host) === 0 ? probe.host : undefined);
      const secure = tlsConnect({ ...probe.tls, socket: raw, ...(servername ? { servername } : {}) });
      socket = secure;
      secure.once('error', (error: NodeJS.ErrnoException) => finish(tlsError(`TLS handshake with ${where} failed: ${error.code ? `${error.code}: ` : ''}${error.message}`, error)));
      secure.once('secureConnect', () => {
        const certificate = secure.getPeerCertificate();
        const verified = secure.authorized ? probe.verification : `not verified (${probe.verification})`;
        finish(undefined, `${secure.getProtocol() ?? 'TLS'}, ${describeCertificate(certificate)}; ${verified}`);
      });
    });
  });
}

// --- internal ---

function describeCertificate(certificate: PeerCertificate): string {
  if (!certificate || Object.keys(certificate).length === 0) return 'no server certificate';
  const subject = certificate.subject?.CN ?? '?';
  const issuer = certificate.issuer?.CN ?? certificate.issuer?.O ?? '?';
  return `certificate CN=${subject} issued by ${issuer}, valid until ${new Date(certificate.valid_to).toISOString()}`;
}

/** Node's certificate error codes, each with the cause a user can act on first. */
const CERTIFICATE_CAUSES: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'The server certificate is signed by a CA that is not trusted here (not in the RDS bundle or sslrootcert)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'The server certificate is signed by a CA that is not trusted here (not in the RDS bundle or sslrootcert)',
  SELF_SIGNED_CERT_IN_CHAIN: 'The certificate chain ends in a CA that is not trusted here (set sslrootcert to it)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'The server presents a self-signed certificate that is not trusted here',
  ERR_TLS_CERT_ALTNAME_INVALID: 'The host name in the DSN is not in the certificate (connecting through a tunnel, CNAME or IP?)',
  CERT_HAS_EXPIRED: 'The server certificate has expired (or this machine\'s clock is wrong)',
  CERT_NOT_YET_VALID: 'The server certificate is not valid yet (or this machine\'s clock is wrong)',
};

function tlsError(message: string, cause?: NodeJS.ErrnoException, causes: string[] = []): DbModuleError {
  const generic = explain('TLS_FAILED');
  const specific = cause?.code ? CERTIFICATE_CAUSES[cause.code] : undefined;
  const solutions = cause?.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
    ? ['Connect with the name in the certificate, or set sslservername=<that name> in the DSN', ...generic.solutions]
    : generic.solutions;
  return new DbModuleError('TLS_FAILED', message, {
    cause,
    possibleCauses: [...(specific ? [specific] : []), ...causes, ...generic.possibleCauses],
    solutions,
  });
}
