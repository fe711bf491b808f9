import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { PgModule } from './load-driver.js';

/** Where to send a cancel request: the server and TLS settings of the session's pool. */
export interface CancelTarget {
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly ssl: TlsConnectionOptions | boolean | undefined;
  /** Gives up on an unreachable server after this long. */
  readonly timeoutMs: number;
}

/** The part of pg's (exported, untyped) Connection a cancel request needs. */
interface CancelConnection {
  readonly stream: { destroy(): void };
  connect(port: number | string, host?: string): void;
  requestSsl(): void;
  cancel(processID: number, secretKey: number | Buffer): void;
  on(event: 'connect' | 'sslconnect' | 'error' | 'end', listener: (...args: unknown[]) => void): void;
}

/**
 * Asks the server to cancel what backend `processID` is running (the protocol's
 * CancelRequest, on a new socket, as libpq's PQcancel does). Best effort: a session that
 * timed out is destroyed anyway, but without a cancel the server keeps running its query
 * until it next tries to write to the closed socket.
 */
export function cancelBackend(pg: PgModule, target: CancelTarget, processID: number, secretKey: number | Buffer): void {
  const ConnectionClass = pg.Connection as unknown as new (config: { ssl: CancelTarget['ssl'] }) => CancelConnection;
  const connection = new ConnectionClass({ ssl: target.ssl ?? false });
  const timer = setTimeout(() => connection.stream.destroy(), target.timeoutMs);
  timer.unref();
  const send = () => connection.cancel(processID, secretKey);
  connection.on('connect', () => (target.ssl ? connection.requestSsl() : send()));
  connection.on('sslconnect', send);
  // nothing to report: the server closes the socket once it has read the request
  connection.on('error', () => {});
  connection.on('end', () => clearTimeout(timer));
  const host = target.host ?? 'localhost';
  if (host.startsWith('/')) connection.connect(`${host}/.s.PGSQL.${target.port ?? 5432}`);
  else connection.connect(target.port ?? 5432, host);
}
