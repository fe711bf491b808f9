import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';

/** A config file with one SQLite connection whose migrations live in `migrations/` beside it. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dbmodule-cli-mig-'));
  writeFileSync(join(dir, 'config.yaml'), `database:\n  connections:\n    app:\n      dsn: "sqlite:${join(dir, 'app.sqlite')}"\n`);
  return dir;
}

describe('dbmodule migrate', () => {
  it('create numbers after the directory (padded), or by UTC timestamp in an empty one; status, up, down report each step', async () => {
    const dir = project();
    const config = join(dir, 'config.yaml');
    const first = await cli(['migrate', 'create', 'users', '--config', config]);
    expect(first.code, first.stderr).toBe(0);
    const stamped = readdirSync(join(dir, 'migrations'));
    expect(stamped).toHaveLength(2);
    expect(stamped[0]).toMatch(/^\d{14}_users\.(down|up)\.sql$/);

    const sequential = project();
    mkdirSync(join(sequential, 'migrations'));
    writeFileSync(join(sequential, 'migrations', '0009_a.up.sql'), 'CREATE TABLE a (id int);');
    writeFileSync(join(sequential, 'migrations', '0009_a.down.sql'), 'DROP TABLE a;');
    const config2 = join(sequential, 'config.yaml');
    expect((await cli(['migrate', 'create', 'b', '--config', config2])).code).toBe(0);
    expect(readdirSync(join(sequential, 'migrations')).sort()).toEqual(['0009_a.down.sql', '0009_a.up.sql', '0010_b.down.sql', '0010_b.up.sql']);
    writeFileSync(join(sequential, 'migrations', '0010_b.up.sql'), 'CREATE TABLE b (id int);');
    writeFileSync(join(sequential, 'migrations', '0010_b.down.sql'), 'DROP TABLE b;');

    expect((await cli(['migrate', 'status', '--config', config2])).stdout).toContain('current none, 2 pending');
    const up = await cli(['migrate', 'up', '--config', config2]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/applied 9_a \(\d+ ms\)\napplied 10_b \(\d+ ms\)/);
    const down = await cli(['migrate', 'down', '--steps', '1', '--json', '--config', config2]);
    expect(JSON.parse(down.stdout)).toMatchObject({ direction: 'down', migrations: [{ version: '10', name: 'b' }] });
    expect((await cli(['migrate', 'verify', '--config', config2])).code).toBe(0);
  });

  it('bad usage exits 2 with the usage text', async () => {
    const dir = project();
    for (const args of [['migrate'], ['migrate', 'sideways'], ['migrate', 'force'], ['migrate', 'up', 'extra'], ['migrate', 'down', '--steps', '0']]) {
      const run = await cli([...args, '--config', join(dir, 'config.yaml')]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain('Usage: dbmodule');
    }
  });
});
