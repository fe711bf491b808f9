/** Canonical driver names; aliases (postgresql, pgx, pg, mariadb, sqlite3) are normalised to these. @public */
export type DriverName = 'postgres' | 'mysql' | 'sqlite';
