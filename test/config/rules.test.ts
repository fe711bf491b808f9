// Every per-connection rule, checked twice: from a YAML file and from DB_* variables alone.
import { describe, expect, it } from 'vitest';
import { loadConfig, type ConnectionConfig } from '../../src/config/index.js';
import { indent, MYSQL_DSN, PG_DSN, scratch, SECRET } from '../support/config.js';
import { ConfigError } from '../../src/errors.js';
import { rejectionOf } from '../support/rejection.js';

const files = await scratch();
const BASE_YAML = `driver: postgres\ndsn: "${PG_DSN}"`;
const BASE_ENV = { DB_W_DRIVER: 'postgres', DB_W_DSN: PG_DSN };

interface Case {
  readonly name: string;
  /** Lines inside connection `w`. */
  readonly yaml: string;
  readonly env: Record<string, string>;
  /** Without the base driver + dsn lines/variables. */
  readonly bare?: boolean;
}
interface Valid extends Case {
  readonly check: (connection: ConnectionConfig, warnings: readonly string[]) => void;
}
interface Invalid extends Case {
  /** Must appear in the message of a YAML-loaded config. */
  readonly path: string;
  /** Must appear in the message of an env-loaded config. */
  readonly variable: string;
  readonly says: readonly string[];
}

async function load(via: 'yaml' | 'env', entry: Case) {
  if (via === 'env') return loadConfig({ env: { ...(entry.bare ? {} : BASE_ENV), ...entry.env }, cwd: files.dir });
  const body = entry.bare ? entry.yaml : `${BASE_YAML}\n${entry.yaml}`;
  const file = await files.write(`c${Math.random().toString(36).slice(2)}.yaml`, `database:\n  connections:\n    w:\n${indent(body, 6)}\n`);
  return loadConfig({ file, env: {}, cwd: files.dir });
}

const valid: Valid[] = [
  { name: 'defaults', yaml: '', env: {}, check: (c) => {
    expect([c.max_open_connections, c.max_idle_connections, c.connection_max_lifetime, c.connection_max_idle_time, c.connection_timeout, c.query_timeout]).toEqual([10, 10, 0, 0, 10_000, 0]);
    expect(c.aws_iam_auth).toEqual({ enabled: false });
  } },
  { name: 'max_open_connections, idle defaults to it', yaml: 'max_open_connections: 25', env: { DB_W_MAX_OPEN_CONNECTIONS: '25' }, check: (c) => {
    expect([c.max_open_connections, c.max_idle_connections]).toEqual([25, 25]);
  } },
  { name: 'max_idle_connections 0 is allowed', yaml: 'max_idle_connections: 0', env: { DB_W_MAX_IDLE_CONNECTIONS: '0' }, check: (c) => expect(c.max_idle_connections).toBe(0) },
  { name: 'Go duration 1h30m', yaml: 'connection_max_lifetime: 1h30m', env: { DB_W_CONNECTION_MAX_LIFETIME: '1h30m' }, check: (c) => expect(c.connection_max_lifetime).toBe(90 * 60 * 1000) },
  { name: 'Go duration 2h45m30s', yaml: 'connection_max_lifetime: 2h45m30s', env: { DB_W_CONNECTION_MAX_LIFETIME: '2h45m30s' }, check: (c) => expect(c.connection_max_lifetime).toBe(((2 * 60 + 45) * 60 + 30) * 1000) },
  { name: 'fractional hours 1.5h', yaml: 'connection_max_idle_time: 1.5h', env: { DB_W_CONNECTION_MAX_IDLE_TIME: '1.5h' }, check: (c) => expect(c.connection_max_idle_time).toBe(90 * 60 * 1000) },
  { name: 'bare seconds (number / numeric string)', yaml: 'connection_max_idle_time: 300', env: { DB_W_CONNECTION_MAX_IDLE_TIME: '300' }, check: (c) => expect(c.connection_max_idle_time).toBe(300_000) },
  { name: 'fractional seconds string "1.5"', yaml: 'query_timeout: "1.5"', env: { DB_W_QUERY_TIMEOUT: '1.5' }, check: (c) => expect(c.query_timeout).toBe(1500) },
  { name: 'milliseconds and microseconds', yaml: 'query_timeout: 500ms\nconnection_max_idle_time: 300us', env: { DB_W_QUERY_TIMEOUT: '500ms', DB_W_CONNECTION_MAX_IDLE_TIME: '300us' }, check: (c) => {
    expect(c.query_timeout).toBe(500);
    expect(c.connection_max_idle_time).toBeCloseTo(0.3, 12);
  } },
  { name: 'zero duration', yaml: 'connection_max_lifetime: 0', env: { DB_W_CONNECTION_MAX_LIFETIME: '0' }, check: (c) => expect(c.connection_max_lifetime).toBe(0) },
  { name: 'connection_timeout', yaml: 'connection_timeout: 5s', env: { DB_W_CONNECTION_TIMEOUT: '5s' }, check: (c) => expect(c.connection_timeout).toBe(5000) },
  { name: 'connection_timeout under aws_iam_auth (the Go place)', yaml: 'aws_iam_auth:\n  connection_timeout: 7s', env: { DB_W_AWS_IAM_AUTH_CONNECTION_TIMEOUT: '7s' }, check: (c) => {
    expect(c.connection_timeout).toBe(7000);
    expect(c.aws_iam_auth.enabled).toBe(false);
  } },
  { name: 'both connection_timeout places, same value', yaml: 'connection_timeout: 7s\naws_iam_auth:\n  connection_timeout: 7000ms', env: { DB_W_CONNECTION_TIMEOUT: '7s', DB_W_AWS_IAM_AUTH_CONNECTION_TIMEOUT: '7000ms' }, check: (c) => expect(c.connection_timeout).toBe(7000) },
  { name: 'IAM enabled with every key', yaml: 'aws_iam_auth:\n  enabled: yes\n  region: eu-west-3\n  db_user: iam_user\n  signing_host: db.internal.example\n  signing_port: 6543\n  max_connects_per_second: 100', env: {
    DB_W_AWS_IAM_AUTH_ENABLED: 'yes', DB_W_AWS_IAM_AUTH_REGION: 'eu-west-3', DB_W_AWS_IAM_AUTH_DB_USER: 'iam_user', DB_W_AWS_IAM_AUTH_SIGNING_HOST: 'db.internal.example', DB_W_AWS_IAM_AUTH_SIGNING_PORT: '6543', DB_W_AWS_IAM_AUTH_MAX_CONNECTS_PER_SECOND: '100',
  }, check: (c) => expect(c.aws_iam_auth).toEqual({ enabled: true, region: 'eu-west-3', db_user: 'iam_user', signing_host: 'db.internal.example', signing_port: 6543, max_connects_per_second: 100 }) },
  { name: 'IAM enabled gets 50 connects per second', yaml: 'aws_iam_auth:\n  enabled: TRUE', env: { DB_W_AWS_IAM_AUTH_ENABLED: 'TRUE' }, check: (c) => expect(c.aws_iam_auth).toEqual({ enabled: true, max_connects_per_second: 50 }) },
  ...(['true', 'True', 'YES', '1'] as const).map((word): Valid => ({ name: `boolean ${word}`, yaml: `aws_iam_auth:\n  enabled: ${word}`, env: { DB_W_AWS_IAM_AUTH_ENABLED: word }, check: (c) => expect(c.aws_iam_auth.enabled).toBe(true) })),
  ...(['false', 'No', '0', 'FALSE'] as const).map((word): Valid => ({ name: `boolean ${word}`, yaml: `aws_iam_auth:\n  enabled: ${word}`, env: { DB_W_AWS_IAM_AUTH_ENABLED: word }, check: (c) => expect(c.aws_iam_auth).toEqual({ enabled: false }) })),
  ...([['pgx', 'postgres'], ['pg', 'postgres'], ['PostgreSQL', 'postgres'], ['postgres', 'postgres']] as const).map(([alias, driver]): Valid => ({
    name: `driver alias ${alias}`, bare: true, yaml: `driver: ${alias}\ndsn: "${PG_DSN}"`, env: { DB_W_DRIVER: alias, DB_W_DSN: PG_DSN }, check: (c) => expect(c.driver).toBe(driver),
  })),
  ...([['mariadb', 'mysql'], ['mysql', 'mysql']] as const).map(([alias, driver]): Valid => ({
    name: `driver alias ${alias}`, bare: true, yaml: `driver: ${alias}\ndsn: "${MYSQL_DSN}"`, env: { DB_W_DRIVER: alias, DB_W_DSN: MYSQL_DSN }, check: (c) => expect(c.driver).toBe(driver),
  })),
  ...([['sqlite3', 'sqlite'], ['sqlite', 'sqlite']] as const).map(([alias, driver]): Valid => ({
    name: `driver alias ${alias}`, bare: true, yaml: `driver: ${alias}\ndsn: ":memory:"`, env: { DB_W_DRIVER: alias, DB_W_DSN: ':memory:' }, check: (c) => expect(c.driver).toBe(driver),
  })),
  ...([[PG_DSN, 'postgres'], [`postgres://app@db.example.com/app`, 'postgres'], [MYSQL_DSN, 'mysql'], ['mariadb://app@db.example.com/app', 'mysql'], ['sqlite:/var/lib/app/app.db', 'sqlite'], ['sqlite3:/var/lib/app/app.db', 'sqlite']] as const).map(([dsn, driver]): Valid => ({
    name: `driver inferred from ${dsn.slice(0, dsn.indexOf(':'))}: scheme`, bare: true, yaml: `dsn: "${dsn}"`, env: { DB_W_DSN: dsn }, check: (c) => expect([c.driver, c.dsn]).toEqual([driver, dsn]),
  })),
  { name: 'removed token_refresh_interval: a warning', yaml: 'aws_iam_auth:\n  token_refresh_interval: 600', env: { DB_W_AWS_IAM_AUTH_TOKEN_REFRESH: '600' }, check: (_c, warnings) => {
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/token_refresh_interval.*deprecated/);
  } },
  { name: 'removed connection_close_grace_period: a warning', yaml: 'aws_iam_auth:\n  connection_close_grace_period: 5s', env: { DB_W_AWS_IAM_AUTH_CONNECTION_CLOSE_GRACE_PERIOD: '5s' }, check: (_c, warnings) => {
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/connection_close_grace_period.*deprecated/);
  } },
];

const invalid: Invalid[] = [
  ...(['0', '-1', '1.5', 'abc'] as const).map((value): Invalid => ({
    name: `max_open_connections ${value}`, yaml: `max_open_connections: ${value}`, env: { DB_W_MAX_OPEN_CONNECTIONS: value },
    path: 'connections.w.max_open_connections', variable: 'DB_W_MAX_OPEN_CONNECTIONS', says: ['expected an integer >= 1', value],
  })),
  { name: 'max_idle_connections -1', yaml: 'max_idle_connections: -1', env: { DB_W_MAX_IDLE_CONNECTIONS: '-1' }, path: 'connections.w.max_idle_connections', variable: 'DB_W_MAX_IDLE_CONNECTIONS', says: ['expected an integer >= 0'] },
  { name: 'max_idle above max_open names both', yaml: 'max_open_connections: 5\nmax_idle_connections: 6', env: { DB_W_MAX_OPEN_CONNECTIONS: '5', DB_W_MAX_IDLE_CONNECTIONS: '6' }, path: 'connections.w.max_idle_connections', variable: 'DB_W_MAX_IDLE_CONNECTIONS', says: ['(6)', 'max_open_connections', '(5'] },
  { name: 'max_idle above the default max_open', yaml: 'max_idle_connections: 11', env: { DB_W_MAX_IDLE_CONNECTIONS: '11' }, path: 'connections.w.max_idle_connections', variable: 'DB_W_MAX_IDLE_CONNECTIONS', says: ['(11)', 'max_open_connections (10, the default)'] },
  { name: 'negative duration', yaml: 'connection_max_lifetime: -5s', env: { DB_W_CONNECTION_MAX_LIFETIME: '-5s' }, path: 'connections.w.connection_max_lifetime', variable: 'DB_W_CONNECTION_MAX_LIFETIME', says: ['negative duration "-5s"'] },
  { name: 'negative bare seconds', yaml: 'connection_max_lifetime: -300', env: { DB_W_CONNECTION_MAX_LIFETIME: '-300' }, path: 'connections.w.connection_max_lifetime', variable: 'DB_W_CONNECTION_MAX_LIFETIME', says: ['negative duration'] },
  { name: 'unknown unit 1d', yaml: 'connection_max_idle_time: 1d', env: { DB_W_CONNECTION_MAX_IDLE_TIME: '1d' }, path: 'connections.w.connection_max_idle_time', variable: 'DB_W_CONNECTION_MAX_IDLE_TIME', says: ['unknown unit "d"'] },
  { name: 'garbage duration', yaml: 'query_timeout: soon', env: { DB_W_QUERY_TIMEOUT: 'soon' }, path: 'connections.w.query_timeout', variable: 'DB_W_QUERY_TIMEOUT', says: ['invalid duration "soon"'] },
  { name: 'missing unit 1h30', yaml: 'query_timeout: 1h30', env: { DB_W_QUERY_TIMEOUT: '1h30' }, path: 'connections.w.query_timeout', variable: 'DB_W_QUERY_TIMEOUT', says: ['missing unit after 30'] },
  { name: 'connection_timeout 0', yaml: 'connection_timeout: 0', env: { DB_W_CONNECTION_TIMEOUT: '0' }, path: 'connections.w.connection_timeout', variable: 'DB_W_CONNECTION_TIMEOUT', says: ['greater than 0'] },
  { name: 'aws_iam_auth.connection_timeout 0s', yaml: 'aws_iam_auth:\n  connection_timeout: 0s', env: { DB_W_AWS_IAM_AUTH_CONNECTION_TIMEOUT: '0s' }, path: 'connections.w.aws_iam_auth.connection_timeout', variable: 'DB_W_AWS_IAM_AUTH_CONNECTION_TIMEOUT', says: ['greater than 0'] },
  { name: 'two different connection_timeouts', yaml: 'connection_timeout: 5s\naws_iam_auth:\n  connection_timeout: 10s', env: { DB_W_CONNECTION_TIMEOUT: '5s', DB_W_AWS_IAM_AUTH_CONNECTION_TIMEOUT: '10s' }, path: 'connections.w.connection_timeout', variable: 'DB_W_CONNECTION_TIMEOUT', says: ['5000ms', 'aws_iam_auth.connection_timeout', '10000ms', 'set only one'] },
  { name: 'boolean maybe', yaml: 'aws_iam_auth:\n  enabled: maybe', env: { DB_W_AWS_IAM_AUTH_ENABLED: 'maybe' }, path: 'connections.w.aws_iam_auth.enabled', variable: 'DB_W_AWS_IAM_AUTH_ENABLED', says: ['expected a boolean', 'maybe'] },
  ...(['0', '70000'] as const).map((value): Invalid => ({
    name: `signing_port ${value}`, yaml: `aws_iam_auth:\n  signing_port: ${value}`, env: { DB_W_AWS_IAM_AUTH_SIGNING_PORT: value },
    path: 'connections.w.aws_iam_auth.signing_port', variable: 'DB_W_AWS_IAM_AUTH_SIGNING_PORT', says: ['an integer from 1 to 65535', value],
  })),
  { name: 'max_connects_per_second 0', yaml: 'aws_iam_auth:\n  enabled: true\n  max_connects_per_second: 0', env: { DB_W_AWS_IAM_AUTH_ENABLED: 'true', DB_W_AWS_IAM_AUTH_MAX_CONNECTS_PER_SECOND: '0' }, path: 'connections.w.aws_iam_auth.max_connects_per_second', variable: 'DB_W_AWS_IAM_AUTH_MAX_CONNECTS_PER_SECOND', says: ['an integer >= 1'] },
  { name: 'region with spaces', yaml: 'aws_iam_auth:\n  region: US East', env: { DB_W_AWS_IAM_AUTH_REGION: 'US East' }, path: 'connections.w.aws_iam_auth.region', variable: 'DB_W_AWS_IAM_AUTH_REGION', says: ['AWS region name'] },
  { name: 'signing_host with a port', yaml: 'aws_iam_auth:\n  signing_host: db.example.com:5432', env: { DB_W_AWS_IAM_AUTH_SIGNING_HOST: 'db.example.com:5432' }, path: 'connections.w.aws_iam_auth.signing_host', variable: 'DB_W_AWS_IAM_AUTH_SIGNING_HOST', says: ['signing_port'] },
  { name: 'unknown driver lists the accepted names', bare: true, yaml: `driver: mssql\ndsn: "${PG_DSN}"`, env: { DB_W_DRIVER: 'mssql', DB_W_DSN: PG_DSN }, path: 'connections.w.driver', variable: 'DB_W_DRIVER', says: ['unknown driver "mssql"', 'postgres, postgresql, pgx, pg, mysql, mariadb, sqlite, sqlite3'] },
  { name: 'driver that contradicts the DSN scheme', bare: true, yaml: `driver: mysql\ndsn: "${PG_DSN}"`, env: { DB_W_DRIVER: 'mysql', DB_W_DSN: PG_DSN }, path: 'connections.w.driver', variable: 'DB_W_DRIVER', says: ['is mysql', 'for postgres'] },
  { name: 'no driver and a DSN without scheme', bare: true, yaml: `dsn: "host=db.example.com user=app password=${SECRET} dbname=app"`, env: { DB_W_DSN: `host=db.example.com user=app password=${SECRET} dbname=app` }, path: 'connections.w.driver', variable: 'DB_W_DRIVER', says: ['is missing', 'DB_W_DRIVER'] },
  { name: 'DSN the parser rejects', bare: true, yaml: `driver: postgres\ndsn: "postgresql://app:${SECRET}@db.example.com:notaport/app"`, env: { DB_W_DRIVER: 'postgres', DB_W_DSN: `postgresql://app:${SECRET}@db.example.com:notaport/app` }, path: 'connections.w.dsn', variable: 'DB_W_DSN', says: ['Invalid DSN for connection "w"'] },
];

describe.each(['yaml', 'env'] as const)('from %s', (via) => {
  for (const entry of valid) {
    it(entry.name, async () => {
      const config = await load(via, entry);
      const connection = config.connections.w;
      if (!connection) throw new Error('connection w missing');
      entry.check(connection, config.warnings);
    });
  }
  for (const entry of invalid) {
    it(`rejects ${entry.name}`, async () => {
      const error = await rejectionOf(load(via, entry), ConfigError);
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain(via === 'yaml' ? entry.path : entry.variable);
      for (const fragment of entry.says) expect(error.message).toContain(fragment);
      expect(error.message).not.toContain(SECRET);
      expect(error.connection).toBe('w');
    });
  }
});
