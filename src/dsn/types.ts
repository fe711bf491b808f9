import type { DriverName } from '../driver-name.js';

/** The written form a DSN came in. @public */
export type DsnFamily = 'postgres-url' | 'postgres-keyvalue' | 'mysql-url' | 'mysql-go' | 'sqlite';

/**
 * A DSN split into its parts, every value decoded. The password is kept only
 * here and in the driver options; it never appears in a message or log.
 * @public
 */
export interface ParsedDsn {
  readonly family: DsnFamily;
  /** The driver this family implies (a postgres URL implies postgres, ...). */
  readonly driver: DriverName;
  readonly user?: string;
  readonly password?: string;
  readonly host?: string;
  /** Explicit port, when the DSN has one. */
  readonly port?: number;
  readonly database?: string;
  /** Remaining options (query string or key/value pairs), decoded, in order of appearance. */
  readonly params: Readonly<Record<string, string>>;
  /** SQLite only: the file path or `:memory:`. */
  readonly path?: string;
}
