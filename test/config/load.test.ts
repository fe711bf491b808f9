// loadConfig: files (YAML, JSON, wrapper or not), the embedded default, the seed's examples.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type DatabaseConfig } from '../../src/config/index.js';
import { MYSQL_DSN, PG_DSN, scratch, SECRET } from '../support/config.js';
import { ConfigError } from '../../src/errors.js';
import { rejectionOf } from '../support/rejection.js';

const files = await scratch();
const withoutSources = (config: DatabaseConfig) => ({ default: config.default, connections: config.connections, warnings: config.warnings });

// The seed's example, indentation restored (the seed text lost it), otherwise unchanged.
const SEED_YAML = `database:
  default: writer
  connections:
    writer:
      driver: postgres
      # DSN with $TOKEN placeholder - will be automatically stripped
      dsn: "postgresql://myapp_user:$TOKEN@mydb-instance.cluster-xyz.us-east-1.rds.amazonaws.com:5432/myappdb?sslmode=require"
      max_open_connections: 25
      max_idle_connections: 10
      connection_max_lifetime: 1h
      connection_max_idle_time: 30m
      aws_iam_auth:
        enabled: true
        region: us-east-1
        # db_user is optional - extracted from DSN if not specified
        connection_timeout: 10s
`;

describe('the seed examples', () => {
  it('the YAML example loads unchanged', async () => {
    const file = await files.write('seed.yaml', SEED_YAML);
    const config = await loadConfig({ file, env: {} });
    expect(config.default).toBe('writer');
    expect(config.warnings).toEqual([]);
    expect(config.connections.writer).toEqual({
      name: 'writer',
      driver: 'postgres',
      dsn: 'postgresql://myapp_user:$TOKEN@mydb-instance.cluster-xyz.us-east-1.rds.amazonaws.com:5432/myappdb?sslmode=require',
      max_open_connections: 25,
      max_idle_connections: 10,
      connection_max_lifetime: 60 * 60 * 1000,
      connection_max_idle_time: 30 * 60 * 1000,
      connection_timeout: 10 * 1000,
      query_timeout: 0,
      check_idle_sessions: true,
      aws_iam_auth: { enabled: true, region: 'us-east-1', max_connects_per_second: 50 },
    });
  });

  it('the environment example loads unchanged', async () => {
    const config = await loadConfig({
      env: {
        DB_WRITER_DRIVER: 'postgres',
        DB_WRITER_DSN: 'postgresql://myapp_user:$TOKEN@host.rds.amazonaws.com:5432/mydb?sslmode=require',
        DB_WRITER_AWS_IAM_AUTH_ENABLED: 'true',
        DB_WRITER_AWS_IAM_AUTH_REGION: 'us-east-1',
        DB_WRITER_MAX_OPEN_CONNECTIONS: '25',
      },
    });
    expect(config.default).toBe('writer');
    expect(config.connections.writer).toMatchObject({
      driver: 'postgres',
      max_open_connections: 25,
      max_idle_connections: 25,
      aws_iam_auth: { enabled: true, region: 'us-east-1', max_connects_per_second: 50 },
    });
  });
});

describe('files', () => {
  const section = { connections: { a: { driver: 'postgres', dsn: PG_DSN, max_open_connections: 3, connection_max_lifetime: '90s' } } };
  const sectionYaml = `connections:\n  a:\n    driver: postgres\n    dsn: "${PG_DSN}"\n    max_open_connections: 3\n    connection_max_lifetime: 90s\n`;

  it('YAML with or without the database: wrapper, and JSON, give the same config', async () => {
    const wrapped = await loadConfig({ file: await files.write('wrapped.yaml', `database:\n${sectionYaml.replace(/^/gm, '  ')}`), env: {} });
    const bare = await loadConfig({ file: await files.write('bare.yml', sectionYaml), env: {} });
    const json = await loadConfig({ file: await files.write('c.json', JSON.stringify({ database: section })), env: {} });
    const sniffed = await loadConfig({ file: await files.write('c.conf', JSON.stringify(section, null, 2)), env: {} });
    expect(wrapped.connections.a?.connection_max_lifetime).toBe(90_000);
    for (const other of [bare, json, sniffed]) expect(withoutSources(other)).toEqual(withoutSources(wrapped));
  });

  it('resolve relative paths against cwd, and record the absolute file as source', async () => {
    await files.write('relative.yaml', sectionYaml);
    const config = await loadConfig({ file: 'relative.yaml', cwd: files.dir, env: {} });
    expect(config.sources['connections.a.dsn']).toBe(`file ${join(files.dir, 'relative.yaml')}`);
  });

  it('use DBMODULE_CONFIG when no file is given', async () => {
    await files.write('from-env.yaml', sectionYaml);
    const config = await loadConfig({ cwd: files.dir, env: { DBMODULE_CONFIG: 'from-env.yaml' } });
    expect(config.connections.a?.max_open_connections).toBe(3);
  });

  it('a missing file is an error naming the path (and the variable that named it)', async () => {
    const direct = await rejectionOf(loadConfig({ file: 'nope.yaml', cwd: files.dir, env: {} }), ConfigError);
    expect(direct.message).toBe(`configuration file not found: ${join(files.dir, 'nope.yaml')}`);
    expect((direct.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    const viaEnv = await rejectionOf(loadConfig({ cwd: files.dir, env: { DBMODULE_CONFIG: 'gone.yaml' } }), ConfigError);
    expect(viaEnv.message).toBe(`configuration file not found: ${join(files.dir, 'gone.yaml')} (named by DBMODULE_CONFIG)`);
  });

  it('invalid YAML is an error with line and column', async () => {
    const file = await files.write('dup.yaml', 'database:\n  connections:\n    w:\n      driver: postgres\n      driver: mysql\n');
    const error = await rejectionOf(loadConfig({ file, env: {} }), ConfigError);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`invalid YAML in ${file} at line 5, column 7`);
    expect(error.message).toContain('Map keys must be unique');
  });

  it('a YAML error never quotes the line, which may hold a password', async () => {
    const file = await files.write('quote.yaml', `connections:\n  w:\n    dsn: "postgresql://app:${SECRET}@db/app\n`);
    const error = await rejectionOf(loadConfig({ file, env: {} }), ConfigError);
    expect(error.message).toContain('invalid YAML');
    expect(error.message).not.toContain(SECRET);
  });

  it('invalid JSON is an error with line and column', async () => {
    const text = '{\n  "connections": {\n    "w": {"dsn": "x",, }\n  }\n}\n';
    const file = await files.write('broken.json', text);
    const error = await rejectionOf(loadConfig({ file, env: {} }), ConfigError);
    const line = text.split('\n').findIndex((l) => l.includes(',,'));
    const column = (text.split('\n')[line] ?? '').indexOf(',,') + 2;
    expect(error.message).toContain(`invalid JSON in ${file} at line ${line + 1}, column ${column}`);
  });

  it('an empty file defines no connections, and says so', async () => {
    const file = await files.write('empty.yaml', '# nothing yet\n');
    const error = await rejectionOf(loadConfig({ file, env: {} }), ConfigError);
    expect(error.message).toContain(`(file ${file})`);
    expect(error.message).toContain('no connections defined');
  });

  it('YAML anchors and merge keys work, for shared pool settings', async () => {
    const file = await files.write(
      'merge.yaml',
      `pool: &pool\n  max_open_connections: 7\n  query_timeout: 3s\ndatabase:\n  connections:\n    a:\n      <<: *pool\n      dsn: "${PG_DSN}"\n    b:\n      <<: *pool\n      dsn: "${MYSQL_DSN}"\n      max_open_connections: 2\n  default: a\n`,
    );
    const config = await loadConfig({ file, env: {} });
    expect([config.connections.a?.max_open_connections, config.connections.a?.query_timeout]).toEqual([7, 3000]);
    expect([config.connections.b?.max_open_connections, config.connections.b?.query_timeout]).toEqual([2, 3000]);
  });
});

describe('the embedded default', () => {
  it('is one SQLite connection `default` under cwd, with no warnings', async () => {
    const config = await loadConfig({ env: {}, cwd: files.dir });
    expect(config.default).toBe('default');
    expect(Object.keys(config.connections)).toEqual(['default']);
    expect(config.connections.default).toMatchObject({ driver: 'sqlite', dsn: `sqlite:${files.dir}/.dbmodule/default.sqlite`, max_open_connections: 10 });
    expect(config.warnings).toEqual([]);
    expect(new Set(Object.values(config.sources))).toEqual(new Set(['default']));
    expect(Object.keys(config.sources)).toContain('connections.default.dsn');
  });

  it('escapes characters the sqlite: DSN would read as syntax', async () => {
    const config = await loadConfig({ env: {}, cwd: '/srv/odd%20dir?x' });
    expect(config.connections.default?.dsn).toBe('sqlite:/srv/odd%2520dir%3Fx/.dbmodule/default.sqlite');
  });
});

describe('environment-only configuration', () => {
  it('equals the same three connections from a file', async () => {
    const sqlitePath = join(files.dir, 'app.db');
    const file = await files.write(
      'three.yaml',
      `database:
  default: main
  connections:
    main:
      driver: postgres
      dsn: "${PG_DSN}"
      max_open_connections: 20
      connection_max_lifetime: 30m
      aws_iam_auth:
        enabled: true
        region: us-west-2
    reports:
      dsn: "${MYSQL_DSN}"
      max_idle_connections: 2
      query_timeout: 1m
    cache:
      driver: sqlite3
      dsn: "sqlite:${sqlitePath}"
      max_open_connections: 1
`,
    );
    const fromFile = await loadConfig({ file, env: {} });
    const fromEnv = await loadConfig({
      env: {
        DEFAULT_DB_CONNECTION: 'main',
        DB_MAIN_DRIVER: 'postgres',
        DB_MAIN_DSN: PG_DSN,
        DB_MAIN_MAX_OPEN_CONNECTIONS: '20',
        DB_MAIN_CONNECTION_MAX_LIFETIME: '1800',
        DB_MAIN_AWS_IAM_AUTH_ENABLED: 'yes',
        DB_MAIN_AWS_IAM_AUTH_REGION: 'us-west-2',
        DB_REPORTS_DSN: MYSQL_DSN,
        DB_REPORTS_MAX_IDLE_CONNECTIONS: '2',
        DB_REPORTS_QUERY_TIMEOUT: '60s',
        DB_CACHE_DRIVER: 'sqlite',
        DB_CACHE_DSN: `sqlite:${sqlitePath}`,
        DB_CACHE_MAX_OPEN_CONNECTIONS: '1',
      },
    });
    expect(withoutSources(fromEnv)).toEqual(withoutSources(fromFile));
    expect(fromEnv.connections.main?.connection_max_lifetime).toBe(1_800_000);
    expect(fromEnv.connections.reports?.driver).toBe('mysql');
    expect(fromEnv.sources['connections.main.dsn']).toBe('env DB_MAIN_DSN');
    expect(fromFile.sources['connections.main.dsn']).toBe(`file ${file}`);
  });
});
