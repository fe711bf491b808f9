import { Kysely, MysqlDialect, PostgresDialect, sql, type MysqlPool, type PostgresPool } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database, type DatabaseEvents } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { captureLogger } from '../support/logger.js';
import { credentialsSource, type CredentialsSource } from '../support/iam-e2e/credentials.js';
import { DRIVERS, iamConnection, startRdsEmulator, type IamDriver } from '../support/iam-e2e/rds.js';
import { SESSION_ID_SQL, sessionId } from '../support/iam-e2e/servers.js';

let emulator: Emulator;
let db: Database | undefined;

beforeAll(async () => {
  emulator = await startRdsEmulator();
});

afterEach(async () => {
  await db?.close();
  db = undefined;
});

afterAll(async () => {
  await emulator?.close();
});

interface Opened {
  db: Database;
  source: CredentialsSource;
  retried: Array<DatabaseEvents['auth.retried']>;
}

async function open(driver: IamDriver): Promise<Opened> {
  const source = credentialsSource(emulator, { now: () => Date.now() });
  db = await createDatabase({ connections: { main: iamConnection(emulator, driver, { pool: { max_open_connections: 4 } }) } }, { credentials: source.provider, logger: captureLogger().logger });
  const retried: Opened['retried'] = [];
  db.on('auth.retried', (event) => retried.push(event));
  return { db, source, retried };
}

/**
 * Pins the pool's only session in a transaction, revokes the key that signed its token and
 * rotates the provider to a new key, then opens a new session through `viaNewSession`: the
 * cached token is refused, the failure invalidates token and credentials, new ones are
 * resolved and signed, and the session opens. The pinned session is untouched throughout.
 */
async function revokeAndRotate(driver: IamDriver, opened: Opened, viaNewSession: () => Promise<number>): Promise<void> {
  const connection = opened.db.connection();
  const oldKey = opened.source.current.accessKeyId;
  await connection.transaction(async (tx) => {
    const pinned = await sessionId(tx, driver);
    emulator.revoke(oldKey);
    const newKey = opened.source.rotate().accessKeyId;
    const logged = emulator.authLog.entries().length;

    const id = await viaNewSession();

    expect(id).not.toBe(pinned);
    const attempts = emulator.authLog.entries().slice(logged);
    expect(attempts.map((attempt) => [attempt.decision, attempt.reason, attempt.accessKeyId])).toEqual([
      ['deny', 'KEY_REVOKED', oldKey],
      ['allow', 'OK', newKey],
    ]);
    expect(await sessionId(tx, driver)).toBe(pinned);
  });
  expect(opened.retried).toEqual([{ connection: 'main', attempt: 1, code: 'AUTH_FAILED', delayMs: expect.any(Number) }]);
  expect(connection.tokenState()).toMatchObject({ status: 'valid', signCount: 2, credentialResolutions: 2 });
  expect(opened.source.calls).toBe(2);
}

function kyselyOver(driver: IamDriver, pool: unknown): Kysely<Record<string, never>> {
  return new Kysely({
    dialect: driver === 'postgres' ? new PostgresDialect({ pool: pool as PostgresPool }) : new MysqlDialect({ pool: pool as MysqlPool }),
  });
}

describe.each(DRIVERS)('%s: a revoked key followed by new credentials recovers without a restart', (driver) => {
  it('through connection.query', async () => {
    const opened = await open(driver);
    await revokeAndRotate(driver, opened, () => sessionId(opened.db.connection(), driver));
  });

  it('through an ORM (Kysely) given connection.pool', async () => {
    const opened = await open(driver);
    const kysely = kyselyOver(driver, opened.db.connection().pool);
    await revokeAndRotate(driver, opened, async () => {
      const { rows } = await sql<{ id: number | string }>`${sql.raw(SESSION_ID_SQL[driver])}`.execute(kysely);
      return Number(rows[0]?.id);
    });
    // Kysely keeps using the pool afterwards, with the new key.
    const { rows } = await sql<{ n: number | string }>`SELECT ${1} + 1 AS n`.execute(kysely);
    expect(Number(rows[0]?.n)).toBe(2);
  });
});
