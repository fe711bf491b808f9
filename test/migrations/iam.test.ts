// A migration over an IAM connection that outlives its token: the run holds one session, which RDS
// keeps after the token that opened it expired, so a migration longer than 15 minutes finishes on it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { createDatabase, type Database } from '../../src/index.js';
import { uniqueName } from '../support/databases.js';
import { clockFromNow, credentialsSource } from '../support/iam-e2e/credentials.js';
import { DRIVERS, iamConnection, startRdsEmulator } from '../support/iam-e2e/rds.js';
import { captureLogger } from '../support/logger.js';

const MINUTE = 60_000;
let emulator: Emulator | undefined;
let db: Database | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await db?.close();
  await emulator?.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe.each(DRIVERS)('%s: a migration over IAM', (driver) => {
  it('runs for 20 minutes of (test) time on the session it started with, its token long expired, and is recorded', async () => {
    const clock = clockFromNow();
    emulator = await startRdsEmulator({ clock });
    const source = credentialsSource(emulator, clock);
    const dir = mkdtempSync(join(tmpdir(), 'dbmodule-migiam-'));
    dirs.push(dir);
    const table = uniqueName('mi');
    mkdirSync(join(dir, 'migrations'));
    const sessionSql = driver === 'postgres' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id';
    // the migration notes its session, lets 20 minutes pass, and goes on
    writeFileSync(
      join(dir, 'migrations', '1_long.mjs'),
      `export async function up(q) {\n  const before = (await q.query('${sessionSql}')).rows[0].id;\n  await q.query('CREATE TABLE ${table} (id int)');\n  globalThis.dbmoduleTestTwentyMinutes();\n  await q.query('INSERT INTO ${table} VALUES (1)');\n  globalThis.dbmoduleTestSessions = [before, (await q.query('${sessionSql}')).rows[0].id];\n}\nexport async function down(q) { await q.query('DROP TABLE ${table}'); }\n`,
    );
    const holder = globalThis as { dbmoduleTestTwentyMinutes?: () => void; dbmoduleTestSessions?: unknown[] };
    holder.dbmoduleTestTwentyMinutes = () => clock.advance(20 * MINUTE);
    db = await createDatabase(
      { connections: { main: { ...iamConnection(emulator, driver), migrations: { directory: join(dir, 'migrations'), table: `${table}_history` } } } },
      { clock, credentials: source.provider, logger: captureLogger().logger },
    );
    const run = await db.migrate();
    expect(run.migrations.map((m) => m.version)).toEqual(['1']);
    const [before, after] = holder.dbmoduleTestSessions ?? [];
    expect(Number(after)).toBe(Number(before));
    expect((await db.migrationStatus()).current).toBe('1');
    // no token was refused on the way, the expired one never sent again
    expect(emulator.authLog.entries().filter((attempt) => attempt.decision !== 'allow')).toEqual([]);
    await db.rollback();
    await db.connection().query(`DROP TABLE ${table}_history`);
  });
});
