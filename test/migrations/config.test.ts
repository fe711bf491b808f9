import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, migrationSettings, validateConfig } from '../../src/index.js';
import { DbModuleError } from '../../src/errors.js';

describe('migrations settings', () => {
  it('defaults, with the directory beside the file that defined the connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbmodule-migcfg-'));
    writeFileSync(join(dir, 'db.yaml'), 'database:\n  default: app\n  connections:\n    app:\n      dsn: "sqlite::memory:"\n    tuned:\n      dsn: "sqlite::memory:"\n      migrations:\n        directory: db/migrations\n        lock_timeout: 5s\n');
    const config = await loadConfig({ file: join(dir, 'db.yaml'), env: {} });
    expect(migrationSettings(config, 'app')).toEqual({ directory: join(dir, 'migrations'), table: 'schema_migrations', lock_timeout: 60_000, allow_out_of_order: false, run_on_start: false });
    expect(migrationSettings(config, 'tuned')).toMatchObject({ directory: join(dir, 'db/migrations'), lock_timeout: 5_000 });
  });

  it('from DB_<NAME>_MIGRATIONS_* variables', async () => {
    const config = await loadConfig({ env: { DB_APP_DSN: 'sqlite::memory:', DB_APP_MIGRATIONS_TABLE: 'app_migrations', DB_APP_MIGRATIONS_RUN_ON_START: 'true', DB_APP_MIGRATIONS_LOCK_TIMEOUT: '2m' } });
    expect(migrationSettings(config, 'app')).toMatchObject({ table: 'app_migrations', run_on_start: true, lock_timeout: 120_000 });
    expect(config.sources['connections.app.migrations.table']).toBe('env DB_APP_MIGRATIONS_TABLE');
  });

  it('a bad value or an unknown key names the key', () => {
    const invalid = (migrations: unknown) => {
      try {
        validateConfig({ connections: { app: { dsn: 'sqlite::memory:', migrations } } }, { source: 'object' });
      } catch (error) {
        return error as DbModuleError;
      }
      throw new Error('accepted');
    };
    expect(invalid({ table: 'drop table;' }).message).toContain('connections.app.migrations.table');
    expect(invalid({ lock_timeout: 'soon' }).message).toContain('connections.app.migrations.lock_timeout');
    expect(invalid({ directry: 'x' }).message).toContain('connections.app.migrations.directry');
  });
});
