import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, type Database, type DatabaseEvents } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import type { FakeClock } from '../support/fake-clock.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';
import { clockFromNow, credentialsSource, type CredentialsSource } from '../support/iam-e2e/credentials.js';
import { within } from '../support/iam-e2e/deadline.js';
import { iamConnection, startRdsEmulator, type IamDriver } from '../support/iam-e2e/rds.js';

const MINUTE = 60_000;

let emulator: Emulator | undefined;
let db: Database | undefined;

afterEach(async () => {
  await db?.close();
  await emulator?.close();
  db = undefined;
  emulator = undefined;
});

const newAttempts = (rds: Emulator, from: number) => rds.authLog.entries().slice(from);

describe('single flight: a burst of new sessions on a cold token', () => {
  // PostgreSQL sessions are served by the emulator's embedded PGlite here: the test server allows
  // 100 sessions, fewer than the 200 this burst opens. MariaDB (151 allowed) takes 100.
  it.each<[IamDriver, number]>([
    ['postgres', 200],
    ['mysql', 100],
  ])('%s: %i concurrent new sessions cause one signing and one credential resolution', async (driver, sessions) => {
    const clock = clockFromNow();
    emulator = await startRdsEmulator({ clock, postgres: driver === 'postgres' ? 'pglite' : false, mysql: driver === 'mysql' });
    const source = credentialsSource(emulator, clock, { mode: 'per-call', lifetimeMs: 20 * MINUTE });
    const connection = iamConnection(emulator, driver, { pool: { max_open_connections: sessions, connection_max_lifetime: '10m' } });
    db = await createDatabase({ connections: { main: connection } }, { clock, credentials: source.provider, logger: captureLogger().logger });
    const main = db.connection();
    expect(main.tokenState()).toMatchObject({ signCount: 1, credentialResolutions: 1 });

    // 16 minutes on: the token is past its 15 minutes, the credentials have 4 left (too few to
    // sign with), and the session opened by the start-up ping is past its lifetime.
    clock.advance(16 * MINUTE);
    const logged = emulator.authLog.entries().length;
    const results = await Promise.all(Array.from({ length: sessions }, (_, i) => main.query<{ n: number | string }>(`SELECT ${i} AS n`)));

    expect(results.map((result) => Number(result.rows[0]?.n))).toEqual(Array.from({ length: sessions }, (_, i) => i));
    const attempts = newAttempts(emulator, logged);
    expect(attempts).toHaveLength(sessions);
    expect(attempts.every((attempt) => attempt.decision === 'allow')).toBe(true);
    // Every session presented the same token, signed with the one new key.
    const second = source.issued[1]?.accessKeyId;
    expect(new Set(attempts.map((attempt) => attempt.accessKeyId))).toEqual(new Set([second]));
    expect(new Set(attempts.map((attempt) => attempt.tokenId)).size).toBe(1);
    expect(source.calls).toBe(2);
    expect(main.tokenState()).toMatchObject({ signCount: 2, credentialResolutions: 2 });
    expect(main.stats().total).toBe(sessions);
  });
});

describe('refresh once per window, off the query path', () => {
  async function open(clock: FakeClock): Promise<{ source: CredentialsSource; refreshed: Array<DatabaseEvents['token.refreshed']> }> {
    emulator = await startRdsEmulator({ clock, mysql: false });
    const source = credentialsSource(emulator, clock, { mode: 'per-call', lifetimeMs: 20 * MINUTE });
    // Sessions live a minute, so every clock move below makes the next queries open new ones.
    const connection = iamConnection(emulator, 'postgres', { pool: { max_open_connections: 20, connection_max_lifetime: '1m' } });
    db = await createDatabase({ connections: { main: connection } }, { clock, credentials: source.provider, logger: captureLogger().logger });
    const refreshed: Array<DatabaseEvents['token.refreshed']> = [];
    db.on('token.refreshed', (event) => refreshed.push(event));
    return { source, refreshed };
  }

  const burst = (database: Database, n: number) => Promise.all(Array.from({ length: n }, () => database.connection().query('SELECT 1 AS one')));

  it('a slow refresh does not delay queries while the old token is valid, and runs once per window', async () => {
    const clock = clockFromNow();
    const { source, refreshed } = await open(clock);
    const rds = emulator as Emulator;
    const database = db as Database;
    const main = database.connection();
    const first = main.tokenState();
    const oldKey = source.issued[0]?.accessKeyId;
    if (first?.refreshAt === undefined || first.expiresAt === undefined) throw new Error('no token after start-up');

    // Window 1: past the refresh point, before expiry. The credentials provider hangs.
    clock.set(first.refreshAt + 1_000);
    const release = source.hold();
    let logged = rds.authLog.entries().length;
    await within(burst(database, 20), 5_000, '20 queries while the refresh is stuck in the credentials provider');
    expect(main.tokenState()).toMatchObject({ status: 'refreshing', signCount: 1, credentialResolutions: 2 });
    expect(source.calls).toBe(2); // one refresh for 20 new sessions
    const whileStuck = newAttempts(rds, logged);
    expect(whileStuck).toHaveLength(20);
    expect(whileStuck.every((attempt) => attempt.decision === 'allow' && attempt.accessKeyId === oldKey)).toBe(true);
    expect(new Set(whileStuck.map((attempt) => attempt.tokenId)).size).toBe(1);

    release();
    await waitFor(() => main.tokenState()?.status === 'valid', 5_000, 'the refresh to finish');
    const second = main.tokenState();
    expect(second).toMatchObject({ signCount: 2, credentialResolutions: 2 });
    const newKey = source.issued[1]?.accessKeyId;

    // Still window 1 of the new token: new sessions, no new signing.
    clock.advance(2 * MINUTE);
    logged = rds.authLog.entries().length;
    await burst(database, 20);
    const afterRefresh = newAttempts(rds, logged);
    expect(afterRefresh).toHaveLength(20);
    expect(afterRefresh.every((attempt) => attempt.decision === 'allow' && attempt.accessKeyId === newKey)).toBe(true);
    expect(new Set(afterRefresh.map((attempt) => attempt.tokenId)).size).toBe(1);
    expect(afterRefresh[0]?.tokenId).not.toBe(whileStuck[0]?.tokenId);
    expect(main.tokenState()).toMatchObject({ signCount: 2, credentialResolutions: 2 });

    // Window 2: once more, exactly one refresh for 20 new sessions.
    if (second?.refreshAt === undefined) throw new Error('no refresh time');
    clock.set(second.refreshAt + 1_000);
    await burst(database, 20);
    await waitFor(() => main.tokenState()?.status === 'valid', 5_000, 'the second refresh to finish');
    expect(main.tokenState()).toMatchObject({ signCount: 3, credentialResolutions: 3 });
    expect(source.calls).toBe(3);
    expect(refreshed.map((event) => event.accessKeyIdSuffix)).toEqual([newKey, source.issued[2]?.accessKeyId].map((key) => key?.slice(-4)));
    expect(rds.authLog.entries().filter((attempt) => attempt.decision !== 'allow')).toEqual([]);
  });
});
