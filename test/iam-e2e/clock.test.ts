import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import type { AuthAttempt, Emulator } from '../../src/emulator/index.js';
import type { FakeClock } from '../support/fake-clock.js';
import { captureLogger } from '../support/logger.js';
import { clockFromNow, credentialsSource, type CredentialsSource } from '../support/iam-e2e/credentials.js';
import { DRIVERS, iamConnection, startRdsEmulator, type IamDriver } from '../support/iam-e2e/rds.js';
import { sessionId } from '../support/iam-e2e/servers.js';

const MINUTE = 60_000;
const STEP = 5 * MINUTE;
const STEPS = 12; // an hour

let emulator: Emulator | undefined;
let db: Database | undefined;

afterEach(async () => {
  await db?.close();
  await emulator?.close();
  db = undefined;
  emulator = undefined;
});

/** One clock for the pools, the token cache and the emulator, so tokens really expire at RDS. */
async function open(driver: IamDriver, clock: FakeClock, lifetimeMs?: number): Promise<{ db: Database; emulator: Emulator; source: CredentialsSource }> {
  emulator = await startRdsEmulator({ clock });
  const source = credentialsSource(emulator, clock, lifetimeMs === undefined ? {} : { mode: 'per-call', lifetimeMs });
  // A session lives 4 minutes (plus at most 10% jitter): after every 5-minute step the idle ones
  // are retired, so the next query needs a new physical session and a token valid right now.
  const connection = iamConnection(emulator, driver, { pool: { connection_max_lifetime: '4m', max_open_connections: 4 } });
  db = await createDatabase({ connections: { main: connection } }, { clock, credentials: source.provider, logger: captureLogger().logger });
  return { db, emulator, source };
}

interface Walk {
  /** The authentication attempt of the new session opened at each step. */
  attempts: AuthAttempt[];
}

/**
 * Holds one session in a transaction for an hour of test time while the clock moves 5 minutes at
 * a time; at every step a query must open a new physical session (a new server session id) and
 * the pinned session must still answer as the same server session.
 */
async function walkAnHour(driver: IamDriver, database: Database, rds: Emulator, clock: FakeClock): Promise<Walk> {
  const connection = database.connection();
  const attempts: AuthAttempt[] = [];
  await connection.transaction(async (tx) => {
    const pinned = await sessionId(tx, driver);
    const seen = new Set([pinned]);
    for (let step = 1; step <= STEPS; step += 1) {
      clock.advance(STEP);
      const logged = rds.authLog.entries().length;
      const id = await sessionId(connection, driver);
      expect(seen.has(id), `step ${step}: session ${id} is new`).toBe(false);
      seen.add(id);
      const fresh = rds.authLog.entries().slice(logged);
      expect(fresh.map((attempt) => attempt.decision), `step ${step}`).toEqual(['allow']);
      attempts.push(fresh[0] as AuthAttempt);
      expect(await sessionId(tx, driver), `step ${step}: the pinned session`).toBe(pinned);
    }
  });
  // Not one token was refused on the way: no expired token was ever sent.
  expect(rds.authLog.entries().filter((attempt) => attempt.decision !== 'allow')).toEqual([]);
  return { attempts };
}

describe.each(DRIVERS)('%s: an hour of test time, 5 minutes at a time', (driver) => {
  it('long-term keys: new sessions keep authenticating past 15 minutes, established ones keep working', async () => {
    const clock = clockFromNow();
    const { db: database, emulator: rds } = await open(driver, clock);
    const start = clock.now();
    const { attempts } = await walkAnHour(driver, database, rds, clock);
    // A token is handed out for 15 minutes minus the 1-minute margin from its X-Amz-Date (the
    // second of signing): signed at 0, reused at 5 and 10, replaced at 15, 30, 45 and 60.
    const tokenAt = attempts.map((attempt) => attempt.tokenId);
    expect(new Set(tokenAt).size).toBe(5);
    expect(tokenAt.map((id) => tokenAt.indexOf(id))).toEqual([0, 0, 2, 2, 2, 5, 5, 5, 8, 8, 8, 11]);
    const state = database.connection().tokenState();
    expect(state?.signCount).toBe(5);
    expect(state?.credentialResolutions).toBe(1);
    expect(state?.issuedAt).toBe(Math.floor((start + STEPS * STEP) / 1000) * 1000);
  });

  it('credentials that expire after 5 minutes: no token outlives the credentials that signed it', async () => {
    const clock = clockFromNow();
    const { db: database, emulator: rds, source } = await open(driver, clock, 5 * MINUTE);
    const { attempts } = await walkAnHour(driver, database, rds, clock);
    const expiryOf = (accessKeyId: string | undefined): number => {
      const credentials = source.issued.find((issued) => issued.accessKeyId === accessKeyId);
      if (!credentials?.expiration) throw new Error(`unknown key ${String(accessKeyId)}`);
      return credentials.expiration.getTime();
    };
    for (const attempt of attempts) expect(attempt.time.getTime()).toBeLessThan(expiryOf(attempt.accessKeyId));
    // Each step found the previous credentials expired: new credentials, a new token, every time.
    expect(new Set(attempts.map((attempt) => attempt.accessKeyId)).size).toBe(STEPS);
    expect(new Set(attempts.map((attempt) => attempt.tokenId)).size).toBe(STEPS);
    const state = database.connection().tokenState();
    expect(state?.signCount).toBe(STEPS + 1);
    expect(state?.credentialResolutions).toBe(STEPS + 1);
    const last = attempts.at(-1);
    expect(state?.expiresAt).toBeLessThanOrEqual(expiryOf(last?.accessKeyId));
    expect(state?.credentialExpiresAt).toBe(expiryOf(last?.accessKeyId));
  });
});
