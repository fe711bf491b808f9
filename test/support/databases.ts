/** Where the real servers are; .ci/prepare-databases creates these databases and users. */
export const PG_URL = process.env.DBMODULE_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/dbmodule_test?sslmode=disable';
export const MYSQL_URL = process.env.DBMODULE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/dbmodule_test';

/** A user whose password the servers really check (the PostgreSQL cluster trusts everyone else). */
export const PASSWORD_USER = 'dbmodule_pw';
export const PASSWORD_USER_SECRET = 'dbmodule-pw-secret';

/** A unique, SQL-safe name per test, so parallel test files never share tables. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** `url` (PG_URL, MYSQL_URL) without its user: an emulator upstream that logs in as the IAM user itself. */
export function withoutUser(url: string): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  return copy.toString();
}

/** Where PG_URL and MYSQL_URL point, for tests that connect with drivers' own options. */
export const PG_SERVER = serverOf(PG_URL, 5432);
export const MYSQL_SERVER = serverOf(MYSQL_URL, 3306);

function serverOf(url: string, defaultPort: number): { host: string; port: number; database: string } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || defaultPort), database: parsed.pathname.slice(1) || 'dbmodule_test' };
}
