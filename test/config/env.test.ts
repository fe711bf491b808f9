// DB_<NAME>_<KEY> overlay rules: what the Go module got wrong must work here.
import { describe, expect, it } from 'vitest';
import { envVariable, loadConfig } from '../../src/config/index.js';
import { MYSQL_DSN, PG_DSN, scratch, SQLITE_DSN } from '../support/config.js';
import { ConfigError } from '../../src/errors.js';
import { rejectionOf } from '../support/rejection.js';

const files = await scratch();
const writerFile = await files.write(
  'writer.yaml',
  `database:\n  connections:\n    writer:\n      driver: postgres\n      dsn: "${PG_DSN}"\n      max_open_connections: 5\n`,
);

describe('environment overlay', () => {
  it('wins over the file and records where each value came from', async () => {
    const config = await loadConfig({ file: writerFile, env: { DB_WRITER_MAX_OPEN_CONNECTIONS: '7' } });
    expect(config.connections.writer?.max_open_connections).toBe(7);
    expect(config.sources['connections.writer.max_open_connections']).toBe('env DB_WRITER_MAX_OPEN_CONNECTIONS');
    expect(config.sources['connections.writer.dsn']).toBe(`file ${writerFile}`);
    expect(config.sources['connections.writer.query_timeout']).toBe('default');
  });

  it('treats empty values as unset', async () => {
    const config = await loadConfig({ file: writerFile, env: { DB_WRITER_MAX_OPEN_CONNECTIONS: '', DB_READER_DSN: '' } });
    expect(config.connections.writer?.max_open_connections).toBe(5);
    expect(Object.keys(config.connections)).toEqual(['writer']);
  });

  it('defines a connection from DB_<NAME>_DSN alone, named in lower case', async () => {
    const config = await loadConfig({ file: writerFile, env: { DB_READER_DSN: MYSQL_DSN, DEFAULT_DB_CONNECTION: 'writer' } });
    expect(Object.keys(config.connections).sort()).toEqual(['reader', 'writer']);
    expect(config.connections.reader?.driver).toBe('mysql');
    expect(config.sources['connections.reader.dsn']).toBe('env DB_READER_DSN');
  });

  it('enables IAM without an aws_iam_auth block in the file', async () => {
    const config = await loadConfig({
      file: writerFile,
      env: { DB_WRITER_AWS_IAM_AUTH_ENABLED: 'true', DB_WRITER_AWS_IAM_AUTH_REGION: 'us-east-1', DB_WRITER_AWS_IAM_AUTH_DB_USER: 'iam_user' },
    });
    expect(config.connections.writer?.aws_iam_auth).toEqual({ enabled: true, region: 'us-east-1', db_user: 'iam_user', max_connects_per_second: 50 });
  });

  it('matches the longest key first, and existing connections before new ones', async () => {
    const config = await loadConfig({
      env: { DB_W_DSN: PG_DSN, DB_W_AWS_IAM_AUTH_CONNECTION_TIMEOUT: '7s', DB_W_AWS_IAM_AUTH_DSN: SQLITE_DSN, DEFAULT_DB_CONNECTION: 'w' },
    });
    expect(config.connections.w?.connection_timeout).toBe(7000);
    // AWS_IAM_AUTH_DSN is no key, so that variable is the DSN of a connection named w_aws_iam_auth.
    expect(config.connections.w_aws_iam_auth?.dsn).toBe(SQLITE_DSN);
    expect(config.connections.w_aws_iam_auth?.connection_timeout).toBe(10_000);
  });

  it('maps names with non-alphanumerics (and the Go module\'s hyphenated form) to existing connections', async () => {
    const file = await files.write('replica.yaml', `connections:\n  read-replica:\n    dsn: "${PG_DSN}"\n`);
    const config = await loadConfig({ file, env: { DB_READ_REPLICA_MAX_OPEN_CONNECTIONS: '3', 'DB_READ-REPLICA_QUERY_TIMEOUT': '2s' } });
    expect(Object.keys(config.connections)).toEqual(['read-replica']);
    expect(config.connections['read-replica']?.max_open_connections).toBe(3);
    expect(config.connections['read-replica']?.query_timeout).toBe(2000);
    expect(envVariable('read-replica', ['aws_iam_auth', 'region'])).toBe('DB_READ_REPLICA_AWS_IAM_AUTH_REGION');
  });

  it('rejects a variable that two connections could own', async () => {
    const file = await files.write('twins.yaml', `default: a-b\nconnections:\n  a-b:\n    dsn: "${PG_DSN}"\n  a_b:\n    dsn: "${PG_DSN}"\n`);
    await expect(loadConfig({ file, env: {} })).resolves.toBeDefined();
    const error = await rejectionOf(loadConfig({ file, env: { DB_A_B_MAX_OPEN_CONNECTIONS: '3' } }), ConfigError);
    expect(error.message).toContain('DB_A_B_MAX_OPEN_CONNECTIONS');
    expect(error.message).toMatch(/"a-b" and "a_b"/);
  });

  it('sets the default from DEFAULT_DB_CONNECTION; DATABASE_DEFAULT_DB_CONNECTION wins, with a warning', async () => {
    const env = { DB_A_DSN: PG_DSN, DB_B_DSN: MYSQL_DSN };
    const plain = await loadConfig({ env: { ...env, DEFAULT_DB_CONNECTION: 'a' } });
    expect([plain.default, plain.sources.default]).toEqual(['a', 'env DEFAULT_DB_CONNECTION']);
    const both = await loadConfig({ env: { ...env, DEFAULT_DB_CONNECTION: 'a', DATABASE_DEFAULT_DB_CONNECTION: 'b' } });
    expect([both.default, both.sources.default]).toEqual(['b', 'env DATABASE_DEFAULT_DB_CONNECTION']);
    expect(both.warnings).toEqual(['DATABASE_DEFAULT_DB_CONNECTION (b) overrides DEFAULT_DB_CONNECTION (a)']);
    const overFile = await loadConfig({ file: writerFile, env: { DB_OTHER_DSN: SQLITE_DSN, DEFAULT_DB_CONNECTION: 'other' } });
    expect(overFile.default).toBe('other');
  });

  it('rejects a default variable that names no connection, naming the variable', async () => {
    const error = await rejectionOf(loadConfig({ file: writerFile, env: { DEFAULT_DB_CONNECTION: 'nope' } }), ConfigError);
    expect(error.message).toContain('DEFAULT_DB_CONNECTION (default): names "nope"');
    expect(error.message).toContain('"writer"');
  });

  it('rejects settings for a connection that has no DSN, naming the variables', async () => {
    const error = await rejectionOf(
      loadConfig({ file: writerFile, env: { DB_GHOST_MAX_OPEN_CONNECTIONS: '3', DB_GHOST_AWS_IAM_AUTH_REGION: 'us-east-1' } }),
      ConfigError,
    );
    expect(error.message).toContain('DB_GHOST_AWS_IAM_AUTH_REGION, DB_GHOST_MAX_OPEN_CONNECTIONS: are set but DB_GHOST_DSN is missing');
  });

  it('reports every bad value of a connection, not only the first', async () => {
    const error = await rejectionOf(
      loadConfig({
        file: writerFile,
        env: { DB_WRITER_CONNECTION_MAX_LIFETIME: '300x', DB_WRITER_AWS_IAM_AUTH_ENABLED: 'maybe', DB_WRITER_MAX_IDLE_CONNECTIONS: '-2' },
      }),
      ConfigError,
    );
    expect(error.message).toContain('3 problems');
    for (const variable of ['DB_WRITER_CONNECTION_MAX_LIFETIME', 'DB_WRITER_AWS_IAM_AUTH_ENABLED', 'DB_WRITER_MAX_IDLE_CONNECTIONS']) {
      expect(error.message).toContain(`  - ${variable} (`);
    }
  });

  it('ignores variables that are not ours', async () => {
    const env = { DB_HOST: 'db', DB_PASSWORD: 'hunter2', DB_PORT: '5432', DB_DSN: PG_DSN, DB_MAX_OPEN_CONNECTIONS: '3', DATABASE_URL: PG_DSN };
    const config = await loadConfig({ file: writerFile, env });
    expect(Object.keys(config.connections)).toEqual(['writer']);
    expect(config.connections.writer?.max_open_connections).toBe(5);
    expect(config.warnings).toEqual([]);
  });

  it('warns about a near miss under a known connection\'s prefix', async () => {
    const config = await loadConfig({ file: writerFile, env: { DB_WRITER_MAX_OPEN_CONNS: '9' } });
    expect(config.connections.writer?.max_open_connections).toBe(5);
    expect(config.warnings).toEqual(['DB_WRITER_MAX_OPEN_CONNS is not a dbmodule setting and is ignored; did you mean DB_WRITER_MAX_OPEN_CONNECTIONS?']);
  });

  it('lays DB_DEFAULT_* over the embedded default, and DB_DEFAULT_DSN replaces it', async () => {
    const tuned = await loadConfig({ env: { DB_DEFAULT_MAX_OPEN_CONNECTIONS: '4' }, cwd: files.dir });
    expect(tuned.connections.default?.driver).toBe('sqlite');
    expect(tuned.connections.default?.max_open_connections).toBe(4);
    const replaced = await loadConfig({ env: { DB_DEFAULT_DSN: PG_DSN }, cwd: files.dir });
    expect(replaced.connections.default?.driver).toBe('postgres');
    expect(replaced.sources['connections.default.driver']).toBe('env DB_DEFAULT_DSN');
  });

  it('rejects stray settings when only the embedded default exists', async () => {
    const error = await rejectionOf(loadConfig({ env: { DB_APP_QUERY_TIMEOUT: '5s' }, cwd: files.dir }), ConfigError);
    expect(error.message).toContain('DB_APP_QUERY_TIMEOUT: is set but DB_APP_DSN is missing');
  });

  it('rejects two spellings of one key with different values', async () => {
    const error = await rejectionOf(
      loadConfig({ file: writerFile, env: { DB_WRITER_AWS_IAM_AUTH_TOKEN_REFRESH: '600', DB_WRITER_AWS_IAM_AUTH_TOKEN_REFRESH_INTERVAL: '300' } }),
      ConfigError,
    );
    expect(error.message).toContain('DB_WRITER_AWS_IAM_AUTH_TOKEN_REFRESH, DB_WRITER_AWS_IAM_AUTH_TOKEN_REFRESH_INTERVAL');
  });
});
