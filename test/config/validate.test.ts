// Section-level rules, raw objects (createDatabase's path) and the shape of errors.
import { describe, expect, it } from 'vitest';
import { loadConfig, validateConfig } from '../../src/config/index.js';
import { MYSQL_DSN, PG_DSN, scratch, SECRET, SQLITE_DSN } from '../support/config.js';
import { ConfigError } from '../../src/errors.js';
import { rejectionOf } from '../support/rejection.js';

const files = await scratch();
const object = (raw: unknown) => validateConfig(raw, { source: 'object' });

describe('default connection', () => {
  it('is the named connection', () => {
    expect(object({ default: 'b', connections: { a: { dsn: PG_DSN }, b: { dsn: MYSQL_DSN } } }).default).toBe('b');
  });

  it('must name an existing connection; the error lists the known ones', async () => {
    const error = await rejectionOf(() => object({ default: 'c', connections: { a: { dsn: PG_DSN }, b: { dsn: MYSQL_DSN } } }), ConfigError);
    expect(error.message).toContain('default: names "c", which is not a defined connection; known connections: "a", "b"');
  });

  it('is the only connection when absent', () => {
    const config = object({ connections: { solo: { dsn: PG_DSN } } });
    expect([config.default, config.sources.default]).toEqual(['solo', 'default']);
  });

  it('is the connection named default when absent and there are several', () => {
    expect(object({ connections: { a: { dsn: PG_DSN }, default: { dsn: MYSQL_DSN } } }).default).toBe('default');
  });

  it('must be set when there are several connections and none is named default', async () => {
    const error = await rejectionOf(() => object({ connections: { a: { dsn: PG_DSN }, b: { dsn: MYSQL_DSN } } }), ConfigError);
    expect(error.message).toContain('default: is not set and there are several connections ("a", "b"); set `default` or DEFAULT_DB_CONNECTION');
  });
});

describe('connections', () => {
  it('an explicit empty map is an error', async () => {
    const error = await rejectionOf(() => object({ connections: {} }), ConfigError);
    expect(error.message).toContain('connections: no connections defined');
  });

  it('a section without connections (and no DB_*_DSN) is an error too', async () => {
    const error = await rejectionOf(() => validateConfig({ default: 'x' }, { source: 'object', env: {} }), ConfigError);
    expect(error.message).toContain('no connections defined');
  });

  it('names must not be empty', async () => {
    const error = await rejectionOf(() => object({ default: 'a', connections: { a: { dsn: PG_DSN }, '': { dsn: PG_DSN } } }), ConfigError);
    expect(error.message).toContain('connection names must not be empty');
  });

  it('null values mean "not set", as in YAML `key:` or `key: ~`', () => {
    const config = object({ connections: { a: { dsn: PG_DSN, max_open_connections: null, aws_iam_auth: null } } });
    expect(config.connections.a?.max_open_connections).toBe(10);
    expect(config.connections.a?.aws_iam_auth).toEqual({ enabled: false });
  });
});

describe('unknown keys', () => {
  it('are errors naming the full key path, with a suggestion when close', async () => {
    const error = await rejectionOf(() =>
      object({
        defualt: 'a',
        connections: { a: { dsn: PG_DSN, max_open_connection: 5, maxIdleConnections: 2, aws_iam_auth: { regoin: 'us-east-1' } } },
      }),
      ConfigError,
    );
    expect(error.message).toContain('defualt: unknown key; did you mean `default`?');
    expect(error.message).toContain('connections.a.max_open_connection: unknown key; did you mean `max_open_connections`?');
    expect(error.message).toContain('connections.a.maxIdleConnections: unknown key; did you mean `max_idle_connections`?');
    expect(error.message).toContain('connections.a.aws_iam_auth.regoin: unknown key; did you mean `region`?');
  });

  it('point to the right block when a key is one level off', async () => {
    const error = await rejectionOf(() => object({ connections: { a: { dsn: PG_DSN, region: 'us-east-1', aws_iam_auth: { max_open_connections: 3 } } } }), ConfigError);
    expect(error.message).toContain('connections.a.region: unknown key; did you mean `aws_iam_auth.region`?');
    expect(error.message).toContain('connections.a.aws_iam_auth.max_open_connections: unknown key; `max_open_connections` is a connection key');
  });

  it('list the accepted keys when nothing is close', async () => {
    const error = await rejectionOf(() => object({ connections: { a: { dsn: PG_DSN, password: 'x' } } }), ConfigError);
    expect(error.message).toMatch(/connections\.a\.password: unknown key \(accepted: driver, dsn, max_open_connections, /);
  });

  it('spot a connection written outside `connections`', async () => {
    const error = await rejectionOf(() => object({ connections: { a: { dsn: PG_DSN } }, writer: { dsn: PG_DSN } }), ConfigError);
    expect(error.message).toContain('writer: unknown key; a connection belongs under `connections` (connections.writer)');
  });

  it('catch a printed config fed back as input (its durations are already milliseconds)', async () => {
    const printed = JSON.parse(JSON.stringify(object({ connections: { a: { dsn: SQLITE_DSN } } }))) as unknown;
    const error = await rejectionOf(() => object(printed), ConfigError);
    expect(error.message).toContain('sources: unknown key');
    expect(error.message).toContain('connections.a.name: unknown key');
  });
});

describe('wrong types', () => {
  it('name the path, the expected type and what was received', async () => {
    const error = await rejectionOf(() =>
      object({ connections: { a: { dsn: PG_DSN, max_open_connections: [1], aws_iam_auth: 'yes', query_timeout: true } } }),
      ConfigError,
    );
    expect(error.message).toContain('connections.a.max_open_connections: expected an integer >= 1, received a list');
    expect(error.message).toContain('connections.a.aws_iam_auth: expected a mapping, received string "yes"');
    expect(error.message).toContain('connections.a.query_timeout: expected a duration such as "30s", "1h30m", "500ms" or a number of seconds, received boolean true');
  });

  it('never echo a DSN value', async () => {
    const error = await rejectionOf(() => object({ connections: { a: { dsn: 31337 }, b: { dsn: ['x', SECRET] }, c: { dsn: '   ' } } }), ConfigError);
    expect(error.message).toContain('connections.a.dsn: expected a DSN string, received a number');
    expect(error.message).toContain('connections.b.dsn: expected a DSN string, received a list');
    expect(error.message).toContain('connections.c.dsn: must not be empty');
    expect(error.message).not.toContain('31337');
    expect(error.message).not.toContain(SECRET);
  });

  it('echo other values truncated', async () => {
    const long = 'x'.repeat(200);
    const error = await rejectionOf(() => object({ connections: { a: { dsn: PG_DSN, driver: long } } }), ConfigError);
    expect(error.message).toContain(`unknown driver "${'x'.repeat(40)}…"`);
    expect(error.message).not.toContain('x'.repeat(41));
  });

  it('reject a top level that is not a mapping', async () => {
    const error = await rejectionOf(() => object(['a']), ConfigError);
    expect(error.message).toContain('(top level): expected a mapping with `connections`, received a list');
  });
});

describe('errors', () => {
  it('collect every problem, one per line, in one ConfigError', async () => {
    const error = await rejectionOf(() =>
      object({
        default: 'a',
        connections: { a: { dsn: PG_DSN, max_open_connections: 0 }, b: { driver: 'oracle', dsn: PG_DSN }, c: { dsn: SQLITE_DSN, query_timeout: '1d' } },
      }),
      ConfigError,
    );
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('Invalid database configuration (configuration object): 3 problems');
    expect(lines.slice(1)).toEqual([
      '  - connections.a.max_open_connections: expected an integer >= 1, received number 0',
      '  - connections.b.driver: unknown driver "oracle"; accepted: postgres, postgresql, pgx, pg, mysql, mariadb, sqlite, sqlite3',
      '  - connections.c.query_timeout: invalid duration "1d": unknown unit "d" (units: ns, us, ms, s, m, h)',
    ]);
    expect(error.connection).toBeUndefined();
  });

  it('keep the DSN parser\'s error as cause and never show the password', async () => {
    const dsn = `postgresql://app:${SECRET}@db.example.com:99999/app`;
    const error = await rejectionOf(() => object({ connections: { a: { dsn } } }), ConfigError);
    expect(error.connection).toBe('a');
    expect((error.cause as { code?: string }).code).toBe('DSN_INVALID');
    expect(error.message).toContain('connections.a.dsn: Invalid DSN for connection "a"');
    expect(error.message).not.toContain(SECRET);
    expect(String((error.cause as Error).message)).not.toContain(SECRET);
  });

  it('name the file in the title when values came from one', async () => {
    const file = await files.write('bad.yaml', 'connections:\n  a:\n    dsn: ":memory:"\n    driver: sqlite\n    query_timeout: -1s\n');
    const error = await rejectionOf(loadConfig({ file, env: { DB_A_MAX_OPEN_CONNECTIONS: 'many' } }), ConfigError);
    expect(error.message.split('\n')[0]).toBe(`Invalid database configuration (file ${file} + environment): 2 problems`);
    expect(error.solutions).toEqual([`Correct the keys listed above in ${file}`, 'Correct or unset the environment variables listed above']);
  });
});

describe('raw objects', () => {
  it('record `object` as the source of given values, `default` for the rest', () => {
    const config = object({ connections: { a: { dsn: PG_DSN, aws_iam_auth: { enabled: true } } } });
    expect(config.sources).toMatchObject({
      'connections.a.dsn': 'object',
      'connections.a.driver': 'object',
      'connections.a.aws_iam_auth.enabled': 'object',
      'connections.a.aws_iam_auth.max_connects_per_second': 'default',
      'connections.a.max_open_connections': 'default',
      default: 'default',
    });
  });

  it('accept the `database` wrapper and ignore its siblings (other modules\' sections)', () => {
    const config = object({ database: { connections: { a: { dsn: PG_DSN } } }, httpserver: { port: 8080 } });
    expect(Object.keys(config.connections)).toEqual(['a']);
  });

  it('are not overlaid with the environment unless env is given', () => {
    const raw = { connections: { a: { dsn: PG_DSN } } };
    expect(validateConfig(raw, { source: 'object' }).connections.a?.max_open_connections).toBe(10);
    expect(validateConfig(raw, { source: 'object', env: { DB_A_MAX_OPEN_CONNECTIONS: '2' } }).connections.a?.max_open_connections).toBe(2);
  });

  it('return a resolved config unchanged instead of reading its milliseconds as seconds', () => {
    const config = object({ connections: { a: { dsn: PG_DSN, connection_timeout: 2 } } });
    expect(config.connections.a?.connection_timeout).toBe(2000);
    expect(validateConfig(config, { source: 'object' })).toBe(config);
  });

  it('do not change the caller\'s object', () => {
    const raw = { connections: { a: { dsn: PG_DSN, aws_iam_auth: { enabled: false } } } };
    const copy = structuredClone(raw);
    validateConfig(raw, { source: 'object', env: { DB_A_AWS_IAM_AUTH_ENABLED: 'true', DB_A_QUERY_TIMEOUT: '1s' } });
    expect(raw).toEqual(copy);
  });
});

describe('warnings', () => {
  it('flag the removed keys at the connection level too', () => {
    const config = object({ connections: { a: { dsn: PG_DSN, token_refresh_interval: 600, connection_close_grace_period: '5s' } } });
    expect(config.warnings).toEqual([
      'connections.a.token_refresh_interval is deprecated and ignored: tokens are refreshed automatically before they expire',
      'connections.a.connection_close_grace_period is deprecated and ignored: established connections are never closed because a token expired',
    ]);
  });

  it('flag IAM settings that are ignored because IAM is off', () => {
    const config = object({ connections: { a: { dsn: PG_DSN, aws_iam_auth: { region: 'us-east-1', db_user: 'u' } } } });
    expect(config.warnings).toEqual(['connections.a.aws_iam_auth: region, db_user are ignored because aws_iam_auth.enabled is false']);
    expect(config.connections.a?.aws_iam_auth).toEqual({ enabled: false, region: 'us-east-1', db_user: 'u' });
  });
});
