import { afterEach, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { captureLogger } from '../support/logger.js';
import { credentialsSource } from '../support/iam-e2e/credentials.js';
import { iamConnection, startRdsEmulator } from '../support/iam-e2e/rds.js';

let emulator: Emulator | undefined;
let db: Database | undefined;

afterEach(async () => {
  await db?.close();
  await emulator?.close();
});

// The limiter is process-wide per signing endpoint and runs on the system clock and real timers
// (it must hold in production whatever clock the pools use), so this test measures real time.
it('new IAM sessions per second are capped per endpoint: N sessions take at least (N - burst) / rate seconds', async () => {
  const rate = 20;
  const burst = rate; // one second's worth, the documented default
  const sessions = 40;
  emulator = await startRdsEmulator({ mysql: false });
  const source = credentialsSource(emulator, { now: () => Date.now() });
  const connection = iamConnection(emulator, 'postgres', { pool: { max_open_connections: sessions + 1 }, iam: { max_connects_per_second: rate } });

  const started = performance.now();
  db = await createDatabase({ connections: { main: connection } }, { credentials: source.provider, logger: captureLogger().logger });
  const main = db.connection();
  await main.transaction(async (tx) => {
    // The start-up session stays busy, so each of these queries opens its own session.
    await tx.query('SELECT 1');
    await Promise.all(Array.from({ length: sessions }, () => main.query('SELECT 1')));
  });
  const elapsedSeconds = (performance.now() - started) / 1000;

  // sessions + 1 admissions (the start-up ping too) from a full bucket of `burst`.
  const admitted = sessions + 1;
  expect(emulator.authLog.entries().filter((attempt) => attempt.decision === 'allow')).toHaveLength(admitted);
  expect(elapsedSeconds).toBeGreaterThanOrEqual((admitted - burst) / rate);
  // Paced, not serialised: well under one session per second.
  expect(elapsedSeconds).toBeLessThan((admitted - burst) / rate + 3);
  expect(main.tokenState()?.signCount).toBe(1);
});
