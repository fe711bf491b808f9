import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { ParsedDsn } from '../dsn/types.js';
import { ConfigError } from '../errors.js';
import { rdsCaBundle } from './rds-ca.js';
import { sslModeToTls, type SslMode } from './sslmode.js';

/**
 * Whose certificates verify the server: a CA file named in the DSN, the system store
 * (`sslrootcert=system`), the Amazon RDS bundle plus the system CAs (IAM default), or Node's
 * own store. @public
 */
export type CaSource = 'file' | 'system' | 'rds-bundle' | 'node';

/** The TLS a connection uses, decided once: what the driver gets and how to describe it. @public */
export interface ConnectionTls {
  readonly mode: SslMode;
  /** What chose the mode: the DSN parameter as written (`sslmode=verify-full`), `IAM default` or `driver default`. */
  readonly source: string;
  /** Whose CAs verify the server; absent without TLS or when nothing is verified (`require`). */
  readonly ca?: CaSource;
  /** The CA file, when `ca` is `file`. */
  readonly caFile?: string;
  /** The name the server certificate must carry, when the mode checks it (verify-full). */
  readonly servername?: string;
  /** PostgreSQL 17 direct TLS (`sslnegotiation=direct`): TLS from the first byte, no SSLRequest. */
  readonly direct?: true;
  /** Options for `tls.connect`, or false for plaintext. */
  readonly options: ConnectionOptions | false;
}

/**
 * The TLS of one connection. Without IAM, what the DSN's parameters say (see `sslModeToTls`).
 * With IAM, TLS is required because the token is a bearer credential sent as a cleartext
 * password: the default is verify-full against the RDS CA bundle plus the system CAs, a CA file
 * in the DSN (`sslrootcert`, `ssl-ca`) replaces the bundle with or without `sslmode`, and a DSN
 * that turns TLS off is refused (`TLS_FAILED`).
 * @throws ConfigError `DSN_INVALID` (a TLS parameter or file at fault) or `TLS_FAILED` (IAM without TLS).
 */
export function connectionTls(dsn: ParsedDsn, options: { readonly connection: string; readonly iam: boolean }): ConnectionTls {
  const { connection, iam } = options;
  const settings = sslModeToTls(dsn, connection, iam ? { defaultMode: 'verify-full' } : {});
  if (iam && settings.tls === false) throw iamWithoutTls(connection, settings.source ?? `sslmode=${settings.mode}`);
  const source = settings.source ?? (iam ? 'IAM default' : 'driver default');
  if (settings.tls === false) return { mode: settings.mode, source, options: false };

  const verified = settings.tls.rejectUnauthorized !== false;
  const useRdsBundle = iam && verified && settings.caFile === undefined && !settings.systemRoots;
  const tls: ConnectionOptions = useRdsBundle ? { ...settings.tls, ca: [...rdsCaBundle()] } : settings.tls;
  const ca: CaSource = settings.caFile !== undefined ? 'file' : settings.systemRoots ? 'system' : useRdsBundle ? 'rds-bundle' : 'node';
  const servername = settings.mode === 'verify-full' ? (tls.servername ?? (dsn.host && isIP(dsn.host) === 0 && !dsn.host.startsWith('/') ? dsn.host : undefined)) : undefined;
  return {
    mode: settings.mode,
    source,
    ...(verified ? { ca } : {}),
    ...(verified && settings.caFile !== undefined ? { caFile: settings.caFile } : {}),
    ...(servername === undefined ? {} : { servername }),
    ...(dsn.driver === 'postgres' && dsn.params.sslnegotiation === 'direct' ? { direct: true as const } : {}),
    options: tls,
  };
}

/** How a {@link ConnectionTls} verifies the server, in words: `verify-full against CA file /etc/ca.pem`. */
export function describeTls(tls: ConnectionTls): string {
  if (tls.options === false) return `no TLS (${tls.mode}, ${tls.source})`;
  if (tls.ca === undefined) return `TLS ${tls.mode}: encrypted, the server certificate is not verified`;
  const against = { file: `CA file ${tls.caFile ?? ''}`, system: 'the system CAs', 'rds-bundle': 'the RDS CA bundle and the system CAs', node: "Node's CA store" }[tls.ca];
  return `TLS ${tls.mode} against ${against}${tls.servername ? `, certificate name ${tls.servername}` : ''}`;
}

function iamWithoutTls(connection: string, source: string): ConfigError {
  return new ConfigError(
    'TLS_FAILED',
    `connection "${connection}": ${source} turns TLS off, but IAM authentication sends its token as a cleartext password, so it would cross the network in the clear; RDS refuses IAM logins without TLS`,
    {
      connection,
      possibleCauses: [`The DSN says ${source}`],
      solutions: ['Remove sslmode from the DSN (IAM connections default to verify-full against the RDS CA bundle)', 'Or set sslmode=verify-full (with sslrootcert=/path/ca.pem for another CA)'],
    },
  );
}
