import type { DriverName } from '../driver-name.js';
import { detectFamily, familyDriver } from './detect.js';
import { type DsnContext, dsnError } from './errors.js';
import { parseMysqlGo } from './mysql-go.js';
import { parseMysqlUrl } from './mysql-url.js';
import { parsePostgresKeyValue } from './postgres-keyvalue.js';
import { parsePostgresUrl } from './postgres-url.js';
import { parseSqlite } from './sqlite.js';
import type { DsnFamily, ParsedDsn } from './types.js';

/** Options of {@link parseDsn}. @public */
export interface ParseDsnOptions {
  /** The configured driver: a DSN of another driver's family is then an error. */
  readonly driver?: DriverName;
  /** Connection name, for error messages. */
  readonly connection?: string;
}

const FAMILY_NAMES: Readonly<Record<DsnFamily, string>> = {
  'postgres-url': 'a PostgreSQL URL',
  'postgres-keyvalue': 'a PostgreSQL key/value string',
  'mysql-url': 'a MySQL URL',
  'mysql-go': 'a Go MySQL DSN',
  sqlite: 'a SQLite path',
};

const PARSERS: Readonly<Record<DsnFamily, (dsn: string, context: DsnContext) => ParsedDsn>> = {
  'postgres-url': parsePostgresUrl,
  'postgres-keyvalue': parsePostgresKeyValue,
  'mysql-url': parseMysqlUrl,
  'mysql-go': parseMysqlGo,
  sqlite: parseSqlite,
};

const SUPPORTED_FORMS = [
  'postgres://user:password@host:5432/database?sslmode=require',
  "host=db port=5432 user=app password='secret' dbname=app",
  'mysql://user:password@host:3306/database',
  'user:password@tcp(host:3306)/database',
  'sqlite:path/to/file.db, file:path.db?mode=ro, :memory:',
];

/**
 * Parses any supported DSN into its decoded parts: PostgreSQL URL or key/value, MySQL URL
 * or Go form, SQLite. Surrounding whitespace is ignored. Throws a `ConfigError` with code
 * `DSN_INVALID` that names the connection and the part at fault and shows the DSN redacted.
 *
 * Passwords may contain any character unescaped: the credentials end at the last `@` that
 * is followed by a plausible host. `%XX` escapes in credentials, database and params are
 * decoded (a `%` without two hex digits stays literal; `+` stays `+`), so a raw password
 * containing `%` followed by two hex digits must itself be percent-encoded.
 * Multiple hosts (`h1,h2`) are rejected.
 * @public
 */
export function parseDsn(dsn: string, options: ParseDsnOptions = {}): ParsedDsn {
  const text = dsn.trim();
  const context: DsnContext = { dsn: text, connection: options.connection, driver: options.driver };
  if (text === '') throw dsnError(context, 'the DSN is empty');
  const detected = detectFamily(text, options.driver);
  if (detected === undefined) {
    throw dsnError(context, 'the format is not recognised', { solutions: SUPPORTED_FORMS.map((form) => `Use a DSN like ${form}`) });
  }
  if ('unknownScheme' in detected) {
    throw dsnError(context, `the scheme "${detected.unknownScheme}://" is not supported (expected postgres://, postgresql://, mysql://, mariadb://, sqlite: or file:)`);
  }
  const implied = familyDriver(detected.family);
  if (options.driver !== undefined && options.driver !== implied) {
    throw dsnError(context, `driver ${options.driver} but the DSN is ${FAMILY_NAMES[detected.family]} (driver ${implied})`, {
      solutions: [`Set driver: ${implied}, or give a ${options.driver} DSN`],
    });
  }
  return PARSERS[detected.family](text, context);
}

/** The default port of a driver: 5432 for postgres, 3306 for mysql, none for sqlite. @public */
export function defaultPort(driver: DriverName): number | undefined {
  if (driver === 'postgres') return 5432;
  return driver === 'mysql' ? 3306 : undefined;
}
