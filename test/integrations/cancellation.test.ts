// Kysely's in-flight cancellation through dbmodule's pools: the control connection it opens from
// the session's own settings logs in (with the DSN password, or an IAM token), reaches the
// session's server, and the aborted write is not committed.
import { Kysely, sql, type InflightQueryAbortStrategy } from 'kysely';
import mysql, { type ConnectionOptions, type PoolConnection, type RowDataPacket } from 'mysql2';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, type Connection, type Database } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { kyselyDialect } from '../../src/integrations/kysely.js';
import { captureLogger } from '../support/logger.js';
import { createWriteTable, dropWriteTable, expectStoppedUnwritten, insertRunning, passwordDsn, SLEEP, type Driver } from '../support/integrations/slow-write.js';
import { clockFromNow, credentialsSource } from '../support/iam-e2e/credentials.js';
import { iamConnection, startRdsEmulator } from '../support/iam-e2e/rds.js';

let db: Database | undefined;
let emulator: Emulator | undefined;
afterEach(async () => {
  await db?.close();
  await emulator?.close();
  db = emulator = undefined;
});

/** The write, slowed down on the server so there is time to abort it while it runs. */
const slowInsert = (driver: Driver, table: string) => sql`INSERT INTO ${sql.table(table)} (id) SELECT 1 FROM (SELECT ${sql.raw(SLEEP[driver])}) AS slow`;

async function abortWhileRunning(connection: Connection, driver: Driver, strategy: InflightQueryAbortStrategy): Promise<void> {
  const kysely = new Kysely<Record<string, { id: number }>>({ dialect: kyselyDialect(connection) });
  const table = await createWriteTable(driver, 'cancelled');
  try {
    const controller = new AbortController();
    const write = slowInsert(driver, table).execute(kysely, { signal: controller.signal, inflightQueryAbortStrategy: strategy });
    const outcome = write.then(
      () => 'committed',
      (error: unknown) => (error as Error).name,
    );
    await insertRunning(driver, table);
    controller.abort();
    expect(await outcome).toBe('AbortError');
    await expectStoppedUnwritten(connection, driver, table);
    // and the pool goes on serving
    expect(Number((await sql<{ n: number }>`SELECT 1 AS n`.execute(kysely)).rows[0]?.n)).toBe(1);
  } finally {
    await kysely.destroy();
    await dropWriteTable(driver, table);
  }
}

describe.each(['postgres', 'mysql'] as const)('%s: Kysely cancels an in-flight write through dbmodule', (driver) => {
  it.each(['cancel query', 'kill session'] as const)("'%s' with a password-checked user: the control connection logs in, the write is not committed", async (strategy) => {
    db = await createDatabase({ connections: { app: { driver, dsn: passwordDsn(driver), max_open_connections: 2 } } }, { logger: captureLogger().logger });
    await abortWhileRunning(db.connection(), driver, strategy);
  });

  it("'kill session' through IAM: the control connection logs in with a valid token", async () => {
    emulator = await startRdsEmulator();
    const source = credentialsSource(emulator, { now: () => Date.now() });
    db = await createDatabase({ connections: { app: iamConnection(emulator, driver, { pool: { max_open_connections: 2 } }) } }, { credentials: source.provider, logger: captureLogger().logger });
    const logged = emulator.authLog.entries().length;
    await abortWhileRunning(db.connection(), driver, 'kill session');
    expect(emulator.authLog.entries().slice(logged).filter((attempt) => attempt.decision !== 'allow')).toEqual([]);
  });
});

describe('mysql: a copy of an old IAM session config carries a token valid now', () => {
  it('past 15 minutes, a control connection from the spread config of a session opened before logs in', async () => {
    const clock = clockFromNow();
    emulator = await startRdsEmulator({ clock });
    const source = credentialsSource(emulator, clock);
    db = await createDatabase({ connections: { app: iamConnection(emulator, 'mysql', { pool: { max_open_connections: 2 } }) } }, { clock, credentials: source.provider, logger: captureLogger().logger });
    const connection = db.connection();
    if (connection.driver !== 'mysql') throw new Error('a mysql connection');
    const pool = connection.pool;
    const old = await new Promise<PoolConnection>((resolve, reject) => pool.getConnection((error, session) => (error ? reject(error) : resolve(session))));
    try {
      clock.advance(16 * 60_000);
      // a second session opens with a fresh token (the first one's has expired at the emulator)
      await connection.query('SELECT 1');
      expect(connection.tokenState()).toMatchObject({ status: 'valid', signCount: 2 });
      const logged = emulator.authLog.entries().length;
      const { clientFlags: _flags, maxPacketSize: _packet, ...config } = old.config as ConnectionOptions & { clientFlags?: unknown; maxPacketSize?: unknown };
      const control = mysql.createConnection(config);
      try {
        const [rows] = await control.promise().query<RowDataPacket[]>('SELECT 1 AS one');
        expect(rows[0]?.one).toBe(1);
      } finally {
        control.destroy();
      }
      expect(emulator.authLog.entries().slice(logged).map((attempt) => attempt.decision)).toEqual(['allow']);
    } finally {
      old.release();
    }
  });
});
