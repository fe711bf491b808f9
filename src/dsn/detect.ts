import type { DriverName } from '../driver-name.js';
import type { DsnFamily } from './types.js';

/** `scheme://` at the start of a DSN. */
export const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

const NETWORK_SCHEMES: Readonly<Record<string, DsnFamily>> = {
  postgres: 'postgres-url',
  postgresql: 'postgres-url',
  mysql: 'mysql-url',
  mariadb: 'mysql-url',
};

// libpq keywords: a key/value DSN must use at least one, so `a=b.db` stays a file name.
const LIBPQ_KEYWORD =
  /(?:^|\s)(?:host|hostaddr|port|dbname|user|password|passfile|sslmode|sslrootcert|sslcert|sslkey|connect_timeout|application_name|options|service|target_session_attrs|client_encoding|channel_binding|gssencmode|requiressl)\s*=/;
const STRONG_GO = /(?:^|@)(?:tcp[46]?|unix)\([^()]*\)(?:\/|$)/;
const WEAK_GO = /@(?:[a-z][a-z0-9]*\(|(?:[a-z][a-z0-9]*)?\/)/;
const SQLITE_PREFIX = /^(?:sqlite3?|file):/i;
const SQLITE_EXTENSION = /\.(?:db|sqlite|sqlite3)$/i;

/** What a DSN looks like: a family, a `scheme://` nobody supports, or nothing recognisable. */
export type Detection = { readonly family: DsnFamily } | { readonly unknownScheme: string } | undefined;

/**
 * Recognises the family of a trimmed, non-empty DSN. `driver` only breaks ties (a key/value
 * string whose quoted value mentions `@tcp(`, a plain path without a SQLite extension); it
 * never turns an unambiguous DSN into another family.
 */
export function detectFamily(dsn: string, driver?: DriverName): Detection {
  const scheme = SCHEME.exec(dsn)?.[1]?.toLowerCase();
  const networkFamily = scheme === undefined ? undefined : NETWORK_SCHEMES[scheme];
  if (networkFamily !== undefined) return { family: networkFamily };
  const keyValue = LIBPQ_KEYWORD.test(dsn) && /^[A-Za-z_][A-Za-z0-9_.-]*\s*=/.test(dsn);
  if (driver === 'postgres' && keyValue) return { family: 'postgres-keyvalue' };
  if (STRONG_GO.test(dsn)) return { family: 'mysql-go' };
  if (keyValue) return { family: 'postgres-keyvalue' };
  if (dsn === ':memory:' || SQLITE_PREFIX.test(dsn)) return { family: 'sqlite' };
  if (scheme !== undefined) return { unknownScheme: scheme };
  if (driver !== 'sqlite' && WEAK_GO.test(dsn)) return { family: 'mysql-go' };
  if (driver === 'sqlite' || SQLITE_EXTENSION.test(dsn)) return { family: 'sqlite' };
  if (driver === 'mysql') return { family: 'mysql-go' };
  return undefined;
}

/** The driver a family implies. */
export function familyDriver(family: DsnFamily): DriverName {
  if (family === 'postgres-url' || family === 'postgres-keyvalue') return 'postgres';
  return family === 'sqlite' ? 'sqlite' : 'mysql';
}
