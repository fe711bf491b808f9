import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { uniqueName } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';
import { credentialsSource, type CredentialsSource } from '../support/iam-e2e/credentials.js';
import { DRIVERS, IAM_USER, iamConnection, RDS_HOST, RDS_PORT, startRdsEmulator } from '../support/iam-e2e/rds.js';
import { direct, placeholder } from '../support/iam-e2e/servers.js';

let emulator: Emulator;
let source: CredentialsSource;
let db: Database;

beforeAll(async () => {
  emulator = await startRdsEmulator();
  source = credentialsSource(emulator, { now: () => Date.now() });
  db = await createDatabase(
    { connections: { postgres: iamConnection(emulator, 'postgres'), mysql: iamConnection(emulator, 'mysql') }, default: 'postgres' },
    { logger: captureLogger().logger, credentials: source.provider },
  );
});

afterAll(async () => {
  await db?.close();
  await emulator?.close();
});

describe.each(DRIVERS)('IAM over the emulator: %s', (driver) => {
  it('authenticates every session with a token the emulator verified, over TLS, for the RDS endpoint', async () => {
    const { rows } = await db.connection(driver).query<{ n: number | string }>(`SELECT 40 + ${placeholder(driver, 1)} AS n`, [2]);
    expect(Number(rows[0]?.n)).toBe(42);
    const attempts = emulator.authLog.entries().filter((attempt) => attempt.protocol === driver);
    expect(attempts.length).toBeGreaterThan(0);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({
        decision: 'allow',
        user: IAM_USER,
        tls: true,
        accessKeyId: source.current.accessKeyId,
        signedHost: `${RDS_HOST}:${RDS_PORT[driver]}`,
      });
    }
    expect(db.connection(driver).tokenState()).toMatchObject({ status: 'valid', signCount: 1, credentialResolutions: 1, signedHost: RDS_HOST, signedPort: RDS_PORT[driver], user: IAM_USER, region: 'us-east-1' });
  });

  it('commits a transaction and rolls back one that throws, as the real server sees it', async () => {
    const connection = db.connection(driver);
    const table = uniqueName('iam_e2e_tx');
    await connection.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, label VARCHAR(20))`);
    try {
      const p = (n: number) => placeholder(driver, n);
      const committed = await connection.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id, label) VALUES (${p(1)}, ${p(2)})`, [1, 'one']);
        await tx.query(`INSERT INTO ${table} (id, label) VALUES (${p(1)}, ${p(2)})`, [2, 'two']);
        return 'done';
      });
      expect(committed).toBe('done');

      const failure = new Error('business rule broken');
      await expect(
        connection.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id, label) VALUES (${p(1)}, ${p(2)})`, [3, 'three']);
          throw failure;
        }),
      ).rejects.toBe(failure);

      const rows = await direct<{ id: number; label: string }>(driver, `SELECT id, label FROM ${table} ORDER BY id`);
      expect(rows.map((row) => [Number(row.id), row.label])).toEqual([
        [1, 'one'],
        [2, 'two'],
      ]);
    } finally {
      await direct(driver, `DROP TABLE IF EXISTS ${table}`);
    }
  });
});
