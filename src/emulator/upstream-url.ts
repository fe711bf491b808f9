import { ConfigError } from '../errors.js';

/** Where and as whom the emulator logs in to the real server. */
export interface UpstreamTarget {
  readonly host: string;
  readonly port: number;
  /** Undefined: log in as the client's login user. */
  readonly user: string | undefined;
  readonly password: string;
  readonly database: string | undefined;
  /** `disable` (default), `require` (TLS, unverified) or `verify-full`; MySQL upstreams: `disable` only. */
  readonly sslmode: 'disable' | 'require' | 'verify-full';
  /** The URL with its password replaced by `***`, for messages. */
  readonly redacted: string;
}

/** Parses `postgres[ql]://` or `mysql://`/`mariadb://` upstream URLs (percent-encoded credentials). */
export function parseUpstreamUrl(value: string, protocol: 'postgres' | 'mysql'): UpstreamTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw invalid(protocol, redactUrl(value), 'is not a URL', error);
  }
  const redacted = redactUrl(value);
  const schemes = protocol === 'postgres' ? ['postgres:', 'postgresql:'] : ['mysql:', 'mariadb:'];
  if (!schemes.includes(url.protocol)) throw invalid(protocol, redacted, `must start with ${schemes.map((s) => `${s}//`).join(' or ')}`);
  if (!url.hostname) throw invalid(protocol, redacted, 'has no host');
  const port = url.port ? Number(url.port) : protocol === 'postgres' ? 5432 : 3306;
  const sslmode = url.searchParams.get('sslmode') ?? 'disable';
  const mode = sslmode === 'verify-ca' ? 'verify-full' : sslmode === 'prefer' || sslmode === 'allow' ? 'disable' : sslmode;
  if (mode !== 'disable' && mode !== 'require' && mode !== 'verify-full') throw invalid(protocol, redacted, `has an unknown sslmode "${sslmode}"`);
  if (protocol === 'mysql' && mode !== 'disable') throw invalid(protocol, redacted, 'asks for TLS, which the emulator does not speak to a MySQL upstream (it is meant for local and CI servers)');
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined;
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    user: url.username ? decodeURIComponent(url.username) : undefined,
    password: decodeURIComponent(url.password),
    database,
    sslmode: mode,
    redacted,
  };
}

/** Replaces the password of a URL-shaped string with `***`. */
export function redactUrl(value: string): string {
  // Up to the last '@', so a password holding '/', '?' or '@' is hidden whole.
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/is.exec(value);
  if (!match) return value;
  const [whole, scheme = '', userinfo = ''] = match;
  const colon = userinfo.indexOf(':');
  return colon === -1 ? value : `${scheme}${userinfo.slice(0, colon)}:***@${value.slice(whole.length)}`;
}

function invalid(protocol: string, redacted: string, problem: string, cause?: unknown): ConfigError {
  return new ConfigError('CONFIG_INVALID', `emulator option ${protocol}.upstream: ${redacted} ${problem}`, {
    cause,
    solutions: [`Give ${protocol}.upstream as ${protocol === 'postgres' ? 'postgresql://user:password@host:5432/db' : 'mysql://user:password@host:3306/db'} (percent-encode special characters).`],
  });
}
