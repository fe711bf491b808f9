import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { dsnError } from '../dsn/errors.js';
import { describeDsn } from '../dsn/format.js';
import type { ParsedDsn } from '../dsn/types.js';

/** libpq's sslmode values; the MySQL spellings are mapped onto them. @public */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

/** What a DSN's TLS parameters mean for a Node connection. @public */
export interface TlsSettings {
  readonly mode: SslMode;
  /**
   * Options for `tls.connect`, or false for plaintext. `allow` and `prefer` are false: Node
   * drivers cannot fall back from TLS to plaintext, so they connect in plaintext.
   */
  readonly tls: ConnectionOptions | false;
  /** True when a DSN parameter chose the mode; false when it is the driver's default. */
  readonly explicit: boolean;
  /** The parameter that chose the mode, as written (`sslmode=verify-full`), when explicit. */
  readonly source?: string;
  /** The CA file the DSN names (`sslrootcert`, `ssl-ca`), read into `tls.ca`. */
  readonly caFile?: string;
  /** True for `sslrootcert=system`: the system's CAs. */
  readonly systemRoots?: boolean;
}

/** Options of {@link sslModeToTls}. @public */
export interface SslModeOptions {
  /** The mode when no DSN parameter names one (IAM connections: `verify-full`). Default: the driver's. */
  readonly defaultMode?: SslMode;
}

const MODE_KEYS = ['sslmode', 'ssl-mode', 'ssl_mode'] as const;
const ROOT_CERT_KEYS = ['sslrootcert', 'ssl-ca', 'ssl_ca', 'sslca'] as const;
const CERT_KEYS = ['sslcert', 'ssl-cert', 'ssl_cert'] as const;

/** The DSN parameters that choose a TLS mode, in every spelling sslModeToTls reads. @public */
export const TLS_MODE_PARAM_NAMES: readonly string[] = [...MODE_KEYS, 'tls', 'ssl', 'requiressl'];
/** The DSN parameters that name a CA file (or `system`). @public */
export const ROOT_CERT_PARAM_NAMES: readonly string[] = ROOT_CERT_KEYS;
const KEY_KEYS = ['sslkey', 'ssl-key', 'ssl_key'] as const;

/**
 * Every DSN parameter that is about TLS. Drivers must drop these before handing params to
 * the driver: node-postgres lets a connection-string `sslmode` replace the `ssl` object.
 * Names are matched exactly, as written in the DSN.
 * @public
 */
export const TLS_PARAM_NAMES: readonly string[] = [
  ...MODE_KEYS,
  ...ROOT_CERT_KEYS,
  ...CERT_KEYS,
  ...KEY_KEYS,
  'ssl',
  'tls',
  'requiressl',
  'sslpassword',
  'sslcrl',
  'sslcrldir',
  'sslsni',
  'sslservername',
  'sslcompression',
  'sslnegotiation',
  'sslcertmode',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
];

/** A copy of `params` without the {@link TLS_PARAM_NAMES}. @public */
export function withoutTlsParams(params: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).filter(([name]) => !TLS_PARAM_NAMES.includes(name)));
}

const MODE_VALUES: Readonly<Record<string, SslMode>> = {
  disable: 'disable',
  disabled: 'disable',
  allow: 'allow',
  prefer: 'prefer',
  preferred: 'prefer',
  require: 'require',
  required: 'require',
  // node-postgres' own spelling of "encrypted, not verified"
  'no-verify': 'require',
  'verify-ca': 'verify-ca',
  'verify-full': 'verify-full',
  'verify-identity': 'verify-full',
};

// go-sql-driver: true verifies chain and host name, skip-verify encrypts only.
const GO_TLS_VALUES: Readonly<Record<string, SslMode>> = {
  true: 'verify-full',
  false: 'disable',
  'skip-verify': 'require',
  preferred: 'prefer',
};

// `ssl=true` verifies, as pg-connection-string and JDBC read it (Node's default is to verify).
const BOOLEAN_VALUES: Readonly<Record<string, SslMode>> = { true: 'verify-full', 1: 'verify-full', false: 'disable', 0: 'disable' };

const PROTOCOL_VERSIONS = new Set(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

interface Choice {
  readonly mode: SslMode;
  readonly source: string;
}

type Params = Readonly<Record<string, string>>;
type Context = { readonly parsed: ParsedDsn; readonly connection: string | undefined };

function fail(context: Context, problem: string, cause?: unknown): never {
  const { parsed, connection } = context;
  // The raw DSN is not at hand; its safe description identifies it well enough.
  throw dsnError({ dsn: describeDsn(parsed), connection, driver: parsed.driver }, problem, cause === undefined ? {} : { cause });
}

function pick(params: Params, keys: readonly string[], context: Context): { key: string; value: string } | undefined {
  const present = keys.filter((key) => Object.hasOwn(params, key));
  const values = new Set(present.map((key) => params[key]));
  if (values.size > 1) fail(context, `the parameters ${present.join(' and ')} disagree; keep one`);
  const key = present[0];
  return key === undefined ? undefined : { key, value: params[key] ?? '' };
}

function modeFrom(params: Params, keys: readonly string[], table: Readonly<Record<string, SslMode>>, expected: string, context: Context): Choice | undefined {
  const choices = keys
    .filter((key) => Object.hasOwn(params, key))
    .map((key): Choice => {
      const value = params[key] ?? '';
      const mode = table[value.trim().toLowerCase().replace(/_/g, '-')];
      if (mode === undefined) fail(context, `the parameter ${key}=${value} is not a TLS mode (expected ${expected})`);
      return { mode, source: `${key}=${value}` };
    });
  if (new Set(choices.map((choice) => choice.mode)).size > 1) fail(context, `${choices.map((choice) => choice.source).join(' and ')} disagree; keep one`);
  return choices[0];
}

const needsTls = (mode: SslMode): boolean => mode === 'require' || mode === 'verify-ca' || mode === 'verify-full';

/**
 * The mode the DSN asks for. An explicit mode (`sslmode`, `ssl-mode`) refines `tls=` and
 * `ssl=` (`?ssl=true&sslmode=require` is common and means require); only a contradiction
 * between TLS off and TLS required is an error.
 */
function chooseMode(params: Params, context: Context): Choice | undefined {
  const explicit = modeFrom(params, MODE_KEYS, MODE_VALUES, 'disable, allow, prefer, require, verify-ca, verify-full, or DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY', context);
  const goTls = modeFrom(params, ['tls'], GO_TLS_VALUES, 'true, false, skip-verify or preferred; a named Go TLS config has no equivalent here, use sslmode and sslrootcert', context);
  const ssl = modeFrom(params, ['ssl'], BOOLEAN_VALUES, 'true or false', context);
  const legacy = modeFrom(params, ['requiressl'], { 1: 'require', 0: 'prefer' }, '0 or 1', context);
  const choices = [explicit, goTls, ssl, legacy].filter((choice): choice is Choice => choice !== undefined);
  const off = choices.find((choice) => choice.mode === 'disable');
  const on = choices.find((choice) => needsTls(choice.mode));
  if (off !== undefined && on !== undefined) fail(context, `${off.source} and ${on.source} contradict each other; keep one`);
  return choices[0];
}

function readPem(params: Params, keys: readonly string[], context: Context): { key: string; path: string; content: Buffer } | undefined {
  const found = pick(params, keys, context);
  if (found === undefined || found.value === '') return undefined;
  try {
    return { key: found.key, path: found.value, content: readFileSync(found.value) };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    return fail(context, `the file of parameter ${found.key} (${found.value}) cannot be read: ${reason}`, error);
  }
}

function protocolVersion(params: Params, key: string, context: Context): ConnectionOptions['minVersion'] {
  const value = params[key];
  if (value === undefined || value === '') return undefined;
  if (!PROTOCOL_VERSIONS.has(value)) fail(context, `the parameter ${key}=${value} is not a TLS version (expected TLSv1.2 or TLSv1.3)`);
  return value as ConnectionOptions['minVersion'];
}

function buildTls(mode: SslMode, params: Params, context: Context): ConnectionOptions {
  const rootCertParam = pick(params, ROOT_CERT_KEYS, context);
  // libpq 16: sslrootcert=system means the system's CAs, with verify-full as the default.
  const systemRoots = rootCertParam?.value === 'system';
  const root = systemRoots ? undefined : readPem(params, ROOT_CERT_KEYS, context);
  const cert = readPem(params, CERT_KEYS, context);
  const key = readPem(params, KEY_KEYS, context);
  if ((cert === undefined) !== (key === undefined)) {
    fail(context, `a client certificate needs both ${cert?.key ?? 'sslcert'} and ${key?.key ?? 'sslkey'}`);
  }
  const crl = readPem(params, ['sslcrl'], context);
  const minVersion = protocolVersion(params, 'ssl_min_protocol_version', context);
  const maxVersion = protocolVersion(params, 'ssl_max_protocol_version', context);
  const tls: ConnectionOptions = {
    // As libpq: `require` with a root certificate verifies the chain like verify-ca.
    rejectUnauthorized: mode !== 'require' || root !== undefined,
    ...(root === undefined ? {} : { ca: root.content }),
    ...(cert === undefined ? {} : { cert: cert.content }),
    ...(key === undefined ? {} : { key: key.content }),
    ...(params.sslpassword ? { passphrase: params.sslpassword } : {}),
    ...(crl === undefined ? {} : { crl: crl.content }),
    ...(minVersion === undefined ? {} : { minVersion }),
    ...(maxVersion === undefined ? {} : { maxVersion }),
    ...(params.sslservername ? { servername: params.sslservername } : {}),
  };
  if (mode !== 'verify-full') tls.checkServerIdentity = () => undefined;
  return tls;
}

/**
 * Translates a DSN's TLS parameters into Node TLS options:
 * - PostgreSQL `sslmode` (`disable`, `allow`, `prefer`, `require`, `verify-ca`,
 *   `verify-full`, and node-postgres' `no-verify` = require), with `sslrootcert` (a CA file,
 *   or `system`), `sslcert` + `sslkey` (+ `sslpassword`), `sslcrl`,
 *   `ssl_min_protocol_version` / `ssl_max_protocol_version`, and `sslservername` (the name
 *   to verify, when connecting through a tunnel);
 * - MySQL `ssl-mode`/`sslmode` (`DISABLED`, `PREFERRED`, `REQUIRED`, `VERIFY_CA`,
 *   `VERIFY_IDENTITY`), `ssl-ca` (alone: VERIFY_CA, as the mysql client), `ssl-cert`, `ssl-key`; Go `tls=true|false|skip-verify|preferred`;
 *   `ssl=true|false`.
 *
 * `require` encrypts without verifying (unless a root certificate is given, as in libpq),
 * `verify-ca` checks the chain but not the host name, `verify-full` checks both; without
 * `sslrootcert`, Node's CA store is used. With no TLS parameter, PostgreSQL defaults to
 * `prefer`, which node-postgres cannot do: the connection is plaintext. MySQL defaults to
 * `disable`; SQLite is always `disable`. Files are read now.
 * @throws ConfigError `DSN_INVALID` naming the parameter (and file) at fault.
 * @public
 */
export function sslModeToTls(parsed: ParsedDsn, connection?: string, options: SslModeOptions = {}): TlsSettings {
  const context: Context = { parsed, connection };
  if (parsed.driver === 'sqlite') return { mode: 'disable', tls: false, explicit: false };
  const choice = chooseMode(parsed.params, context);
  const rootCert = pick(parsed.params, ROOT_CERT_KEYS, context);
  const systemRoots = rootCert?.value === 'system';
  if (systemRoots && choice !== undefined && choice.mode !== 'verify-full') {
    fail(context, `${choice.source} is too weak for sslrootcert=system (use verify-full, or name a CA file)`);
  }
  const caFile = rootCert === undefined || rootCert.value === '' || systemRoots ? undefined : rootCert.value;
  // A CA given without a mode asks for verification, as node-postgres (verify-full) and the
  // mysql client (VERIFY_CA) read it; with no TLS parameter at all, the driver's default applies.
  const implied: Choice | undefined = systemRoots
    ? { mode: 'verify-full', source: 'sslrootcert=system' }
    : caFile !== undefined && rootCert !== undefined
      ? { mode: options.defaultMode ?? (parsed.driver === 'postgres' ? 'verify-full' : 'verify-ca'), source: `${rootCert.key}=${caFile}` }
      : undefined;
  const chosen = choice ?? implied;
  const mode: SslMode = chosen?.mode ?? options.defaultMode ?? (parsed.driver === 'postgres' ? 'prefer' : 'disable');
  const tls = needsTls(mode) ? buildTls(mode, parsed.params, context) : false;
  return {
    mode,
    tls,
    explicit: chosen !== undefined,
    ...(chosen === undefined ? {} : { source: chosen.source }),
    ...(caFile === undefined || tls === false ? {} : { caFile }),
    ...(systemRoots ? { systemRoots } : {}),
  };
}
