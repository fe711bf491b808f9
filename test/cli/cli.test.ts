import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PASSWORD_USER, PASSWORD_USER_SECRET, PG_SERVER, PG_URL } from '../support/databases.js';
import { cli } from '../support/cli.js';

describe('dbmodule check', () => {
  it('with no configuration checks the embedded SQLite default and says how to point it elsewhere', async () => {
    const { code, stdout, cwd } = await cli(['check']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/connection "default" \(sqlite\)/);
    expect(stdout).toMatch(/ping\s+ok/);
    expect(stdout).toContain('All connections OK.');
    expect(stdout).toContain('DB_MAIN_DSN=');
    expect(existsSync(join(cwd, '.dbmodule', 'default.sqlite'))).toBe(true);
  });

  it('checks a PostgreSQL connection phase by phase, as JSON', async () => {
    const { code, stdout } = await cli(['check', '--json'], { DB_MAIN_DSN: PG_URL });
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.ok).toBe(true);
    expect(report.connections[0].phases.map((phase: { phase: string }) => phase.phase)).toEqual(['dsn', 'dns', 'tcp', 'ping']);
    for (const phase of report.connections[0].phases) expect(typeof phase.durationMs).toBe('number');
  });

  it('exits 1 naming the failed phase with causes and solutions, without the password', async () => {
    const dsn = `postgresql://${PASSWORD_USER}:wrong-${PASSWORD_USER_SECRET}@${PG_SERVER.host}:${PG_SERVER.port}/${PG_SERVER.database}?sslmode=disable`;
    const { code, stdout, stderr } = await cli(['check'], { DB_MAIN_DSN: dsn });
    expect(code).toBe(1);
    expect(stdout).toMatch(/ping\s+failed/);
    expect(stdout).toContain('code: AUTH_FAILED');
    expect(stdout).toContain('possible cause:');
    expect(stdout + stderr).not.toContain(`wrong-${PASSWORD_USER_SECRET}`);
  });

  it('exits 1 when nothing listens on the port (tcp phase)', async () => {
    const { code, stdout } = await cli(['check', '--json'], { DB_MAIN_DSN: 'postgres://u@127.0.0.1:1/db', DB_MAIN_CONNECTION_TIMEOUT: '2s' });
    expect(code).toBe(1);
    const phases = JSON.parse(stdout).connections[0].phases;
    expect(phases.at(-1)).toMatchObject({ phase: 'tcp', status: 'failed', code: 'CONNECT_FAILED' });
    expect(phases.at(-1).solutions.length).toBeGreaterThan(0);
  });

  it('exits 2 on bad configuration and on bad usage', async () => {
    expect((await cli(['check'], { DB_MAIN_DSN: PG_URL, DB_MAIN_MAX_OPEN_CONNECTIONS: 'lots' })).code).toBe(2);
    expect((await cli(['check', '--no-such-flag'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
  });

  it('exits 2 for an unknown --connection', async () => {
    const { code, stderr } = await cli(['check', '--connection', 'nope'], { DB_MAIN_DSN: PG_URL });
    expect(code).toBe(2);
    expect(stderr).toContain('CONNECTION_NOT_FOUND');
  });
});

describe('dbmodule config', () => {
  it('prints the resolved configuration redacted, with the source of every value', async () => {
    const secret = 'Sup3r$ecret!@pw';
    const dir = mkdtempSync(join(tmpdir(), 'dbmodule-cfg-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `database:\n  connections:\n    writer:\n      driver: postgres\n      dsn: "postgres://app:${secret}@db.example.com:5432/app"\n      max_open_connections: 7\n`);
    const { code, stdout } = await cli(['config', '--json', '--config', file], { DB_WRITER_MAX_IDLE_CONNECTIONS: '3' });
    expect(code).toBe(0);
    expect(stdout).not.toContain(secret);
    const out = JSON.parse(stdout);
    expect(out.config.connections.writer.max_open_connections).toBe(7);
    expect(out.sources['connections.writer.max_open_connections']).toBe(`file ${resolve(file)}`);
    expect(out.sources['connections.writer.max_idle_connections']).toBe('env DB_WRITER_MAX_IDLE_CONNECTIONS');
    const text = await cli(['config', '--config', file]);
    expect(text.stdout).toContain('connections.writer.max_open_connections = 7');
    expect(text.stdout).not.toContain(secret);
  });
});

describe('the built binary', () => {
  it('runs `dbmodule check` on the embedded default', async () => {
    const bin = resolve('dist/cli/main.js');
    const cwd = mkdtempSync(join(tmpdir(), 'dbmodule-bin-'));
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'check'], { cwd, env: { PATH: process.env.PATH ?? '' } });
    expect(stdout).toContain('All connections OK.');
  });
});
