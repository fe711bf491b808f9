import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';

// Passwords with the characters that trip DSN parsers; none may appear in any output.
const FILE_PASSWORD = 'f1le-Pa55:w@rd!';
const ENV_PASSWORD = 'env-S3cret#pw';

const CONFIG_YAML = `database:
  default: writer
  connections:
    writer:
      driver: postgres
      dsn: "postgresql://app_user:${FILE_PASSWORD}@db.example.com:5432/app"
      max_open_connections: 25
      max_idle_connections: 5
      connection_max_lifetime: 1h30m
      connection_max_idle_time: 90
      query_timeout: 500ms
      token_refresh_interval: 10m
    reader:
      driver: mysql
      dsn: "mysql://ro:${FILE_PASSWORD}@reader.example.com:3306/app"
      connection_max_lifetime: 0
`;

/** A working directory holding config.yaml. */
function workdir(yaml = CONFIG_YAML): string {
  const cwd = mkdtempSync(join(tmpdir(), 'dbmodule-config-'));
  writeFileSync(join(cwd, 'config.yaml'), yaml);
  return cwd;
}

/** Output lines with the padding before `# source` collapsed to two spaces (the alignment is tested apart). */
function lines(stdout: string): string[] {
  return stdout.trimEnd().split('\n').map((line) => line.replace(/ {2,}# /, '  # '));
}

describe('dbmodule config', () => {
  it('prints each key with its value and, apart from it, its source; durations in Go syntax', async () => {
    const env = {
      DB_READER_DSN: `mysql://ro:${ENV_PASSWORD}@replica.example.com:3306/app`,
      DB_READER_CONNECTION_TIMEOUT: '2s',
      DB_READER_AWS_IAM_AUTH_ENABLED: 'yes',
      DB_READER_AWS_IAM_AUTH_REGION: 'eu-west-1',
      DB_WRITER_MAX_OPEN_CONNECTIONS: '30',
    };
    const { code, stdout, stderr } = await cli(['config', '--config', 'config.yaml'], env, workdir());
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(lines(stdout)).toEqual([
      'default = "writer"  # file config.yaml',
      '',
      'connections.writer.driver = "postgres"  # file config.yaml',
      'connections.writer.dsn = "postgresql://app_user:****@db.example.com:5432/app"  # file config.yaml',
      'connections.writer.max_open_connections = 30  # env DB_WRITER_MAX_OPEN_CONNECTIONS',
      'connections.writer.max_idle_connections = 5  # file config.yaml',
      'connections.writer.connection_max_lifetime = 1h30m  # file config.yaml',
      'connections.writer.connection_max_idle_time = 1m30s  # file config.yaml',
      'connections.writer.connection_timeout = 10s  # default',
      'connections.writer.query_timeout = 500ms  # file config.yaml',
      'connections.writer.check_idle_sessions = true  # default',
      'connections.writer.aws_iam_auth.enabled = false  # default',
      '# resolved: logs in as "app_user" at db.example.com:5432, no TLS (prefer, driver default)',
      '',
      'connections.reader.driver = "mysql"  # file config.yaml',
      'connections.reader.dsn = "mysql://ro:****@replica.example.com:3306/app"  # env DB_READER_DSN',
      'connections.reader.max_open_connections = 10  # default',
      'connections.reader.max_idle_connections = 10  # default',
      'connections.reader.connection_max_lifetime = 0s  # file config.yaml',
      'connections.reader.connection_max_idle_time = 0s  # default',
      'connections.reader.connection_timeout = 2s  # env DB_READER_CONNECTION_TIMEOUT',
      'connections.reader.query_timeout = 0s  # default',
      'connections.reader.check_idle_sessions = true  # default',
      'connections.reader.aws_iam_auth.enabled = true  # env DB_READER_AWS_IAM_AUTH_ENABLED',
      'connections.reader.aws_iam_auth.region = "eu-west-1"  # env DB_READER_AWS_IAM_AUTH_REGION',
      'connections.reader.aws_iam_auth.max_connects_per_second = 50  # default',
      '# resolved: logs in as "ro" at replica.example.com:3306, TLS verify-full against the RDS CA bundle and the system CAs, certificate name replica.example.com; IAM token for ro@replica.example.com:3306 in eu-west-1',
      '# warning: connections.writer.token_refresh_interval is deprecated and ignored: tokens are refreshed automatically before they expire',
    ]);
    expect(stdout).not.toMatch(/^sources\./m);
    expect(stdout).not.toMatch(/^warnings =/m);
    expect(stdout).not.toMatch(/^connections\.\w+\.name =/m);
    expect(stdout + stderr).not.toContain(FILE_PASSWORD);
    expect(stdout + stderr).not.toContain(ENV_PASSWORD);
  });

  it('aligns the source comments of lines up to a width, and lets longer lines (a DSN) run on', async () => {
    const { stdout } = await cli(['config', '--config', 'config.yaml'], {}, workdir());
    const printed = stdout.split('\n');
    // 'connections.writer.connection_max_idle_time = 1m30s' is the longest short line: 51 characters.
    expect(printed).toContain(`${'default = "writer"'.padEnd(51)}  # file config.yaml`);
    expect(printed).toContain('connections.writer.connection_max_idle_time = 1m30s  # file config.yaml');
    expect(printed).toContain('connections.writer.dsn = "postgresql://app_user:****@db.example.com:5432/app"  # file config.yaml');
  });

  it('prints no warning line when there is no warning, and names the variable of every env value', async () => {
    const env = {
      DB_MAIN_DSN: `postgres://app:${ENV_PASSWORD}@127.0.0.1:5432/app`,
      DB_MAIN_CONNECTION_MAX_IDLE_TIME: '2h',
      DB_MAIN_QUERY_TIMEOUT: '1.5',
      DB_MAIN_CONNECTION_MAX_LIFETIME: '300us',
    };
    const { code, stdout } = await cli(['config'], env);
    expect(code).toBe(0);
    expect(lines(stdout)).toEqual([
      'default = "main"  # default',
      '',
      'connections.main.driver = "postgres"  # env DB_MAIN_DSN',
      'connections.main.dsn = "postgres://app:****@127.0.0.1:5432/app"  # env DB_MAIN_DSN',
      'connections.main.max_open_connections = 10  # default',
      'connections.main.max_idle_connections = 10  # default',
      'connections.main.connection_max_lifetime = 300µs  # env DB_MAIN_CONNECTION_MAX_LIFETIME',
      'connections.main.connection_max_idle_time = 2h  # env DB_MAIN_CONNECTION_MAX_IDLE_TIME',
      'connections.main.connection_timeout = 10s  # default',
      'connections.main.query_timeout = 1.5s  # env DB_MAIN_QUERY_TIMEOUT',
      'connections.main.check_idle_sessions = true  # default',
      'connections.main.aws_iam_auth.enabled = false  # default',
      '# resolved: logs in as "app" at 127.0.0.1:5432, no TLS (prefer, driver default)',
    ]);
    expect(stdout).not.toContain('warning');
    expect(stdout).not.toContain(ENV_PASSWORD);
  });

  it('names a file outside the working directory by its absolute path, and DEFAULT_DB_CONNECTION as the source of default', async () => {
    const elsewhere = workdir();
    const { code, stdout } = await cli(['config', '--config', join(elsewhere, 'config.yaml')], { DEFAULT_DB_CONNECTION: 'reader' });
    expect(code).toBe(0);
    expect(lines(stdout)).toContain('default = "reader"  # env DEFAULT_DB_CONNECTION');
    expect(lines(stdout)).toContain(`connections.reader.driver = "mysql"  # file ${join(elsewhere, 'config.yaml')}`);
  });

  it('--json: config (default and connections, durations in milliseconds), sources and warnings', async () => {
    const env = { DB_READER_DSN: `mysql://ro:${ENV_PASSWORD}@replica.example.com:3306/app` };
    const cwd = workdir();
    const { code, stdout } = await cli(['config', '--json', '--config', 'config.yaml'], env, cwd);
    expect(code).toBe(0);
    expect(stdout).not.toContain(FILE_PASSWORD);
    expect(stdout).not.toContain(ENV_PASSWORD);
    const out = JSON.parse(stdout);
    expect(Object.keys(out)).toEqual(['config', 'plans', 'sources', 'warnings']);
    expect(out.plans.writer).toMatchObject({ user: 'app_user', endpoint: 'db.example.com:5432', tls: { mode: 'prefer', source: 'driver default' } });
    expect(out.plans.reader).toMatchObject({ user: 'ro', endpoint: 'replica.example.com:3306', tls: { mode: 'disable', source: 'driver default' } });
    expect(out.plans.reader.iam).toBeUndefined(); // IAM is off in the file alone
    expect(Object.keys(out.config)).toEqual(['default', 'connections']);
    expect(out.config.default).toBe('writer');
    expect(out.config.connections.writer).toMatchObject({
      dsn: 'postgresql://app_user:****@db.example.com:5432/app',
      connection_max_lifetime: 5_400_000, // 1h30m
      connection_max_idle_time: 90_000, // 90 (seconds)
      connection_timeout: 10_000, // the default, 10s
      query_timeout: 500, // 500ms
    });
    expect(out.sources['connections.writer.query_timeout']).toBe(`file ${join(cwd, 'config.yaml')}`);
    expect(out.sources['connections.reader.dsn']).toBe('env DB_READER_DSN');
    expect(out.warnings).toEqual([
      'connections.writer.token_refresh_interval is deprecated and ignored: tokens are refreshed automatically before they expire',
    ]);
  });

  it('says why a connection cannot be resolved, and still prints its keys', async () => {
    const env = { DB_MAIN_DSN: 'postgres://app@db.internal.example.com:5432/app', DB_MAIN_AWS_IAM_AUTH_ENABLED: 'true' };
    const { code, stdout } = await cli(['config'], env);
    expect(code).toBe(0);
    expect(lines(stdout)).toContain('connections.main.aws_iam_auth.enabled = true  # env DB_MAIN_AWS_IAM_AUTH_ENABLED');
    expect(stdout).toMatch(/^# not resolvable: IAM_REGION_MISSING: .*db\.internal\.example\.com/m);
  });

  it('--help says which form durations take in each output', async () => {
    const { code, stdout } = await cli(['config', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('durations in Go syntax (10s, 1h30m, 500ms)');
    expect(stdout).toContain('--json: { config, plans, sources, warnings }, durations in milliseconds');
  });
});
