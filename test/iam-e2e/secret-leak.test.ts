import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { Pool as MysqlPool } from 'mysql2';
import type { Pool as PgPool } from 'pg';
import { afterEach, expect, it } from 'vitest';
import { createDatabase, DbModuleError, type Database } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import type { AwsCredentialProvider } from '../../src/iam/types.js';
import { clockFromNow, credentialsSource } from '../support/iam-e2e/credentials.js';
import { iamConnection, RDS_PORT, startRdsEmulator } from '../support/iam-e2e/rds.js';
import { expectedToken, SecretNeedles, tokenFingerprints } from '../support/iam-e2e/secret-scan.js';
import { everyEvent, Transcript } from '../support/iam-e2e/transcript.js';
import { uniqueName } from '../support/databases.js';

const MINUTE = 60_000;
const DSN_PASSWORD = 'Sup3r-Secret_pw!42';

let emulator: Emulator | undefined;
let db: Database | undefined;

afterEach(async () => {
  await db?.close();
  await emulator?.close();
});

/**
 * What a token for these inputs is, from the AWS SDK's own signer (not the code under test) with
 * the system time set to the test clock's instant.
 */
it('no token, secret key, session token or DSN password appears in a log line, event, error, health report or config', async () => {
  const clock = clockFromNow();
  const instants = [clock.now()];
  const advance = (ms: number) => {
    clock.advance(ms);
    instants.push(clock.now());
  };
  emulator = await startRdsEmulator({ clock });
  // 30-minute credentials: 20 minutes on, they are too close to expiry to sign with, so the provider is asked.
  const source = credentialsSource(emulator, clock, { lifetimeMs: 30 * MINUTE });
  let broken = false;
  const provider: AwsCredentialProvider = (options) => (broken ? Promise.reject(new Error('STS is unavailable')) : source.provider(options));
  const transcript = new Transcript();
  // Sessions live a minute: every clock move below makes the next query open a new one.
  const pool = { connection_max_lifetime: '1m', max_open_connections: 4 };
  // Migrations on the PostgreSQL connection: one applies, the next fails.
  const migrations = mkdtempSync(join(tmpdir(), 'dbmodule-leak-mig-'));
  const migrated = uniqueName('leak');
  writeFileSync(join(migrations, '1_table.up.sql'), `CREATE TABLE ${migrated} (id int);`);
  writeFileSync(join(migrations, '1_table.down.sql'), `DROP TABLE ${migrated};`);
  writeFileSync(join(migrations, '2_broken.up.sql'), `INSERT INTO ${migrated}_missing VALUES (1);`);
  const config = {
    connections: {
      pg: { ...iamConnection(emulator, 'postgres', { password: DSN_PASSWORD, pool }), migrations: { directory: migrations, table: `${migrated}_history` } },
      my: iamConnection(emulator, 'mysql', { password: DSN_PASSWORD, pool }),
    },
    default: 'pg',
  };
  db = await createDatabase(config, { clock, credentials: provider, logger: transcript.logger });
  transcript.listen(db);
  const pg = db.connection('pg');
  const my = db.connection('my');

  // Tokens as the drivers really sent them, for sessions that opened.
  const sent = new Set<string>();
  (pg.pool as PgPool).on('connect', (client) => sent.add(String((client as unknown as { password: unknown }).password)));
  (my.pool as MysqlPool).on('connection', (connection) => sent.add(String((connection as unknown as { config: { password: unknown } }).config.password)));

  // Ordinary work, a failing query, a rolled-back transaction.
  for (const connection of [pg, my]) {
    await connection.query('SELECT 1 AS one');
    await connection.transaction(async (tx) => tx.query('SELECT 2 AS two'));
    await transcript.failure(connection.query('SELECT * FROM no_such_table_for_leak_test'));
    await transcript.failure(connection.transaction(async () => Promise.reject(new DbModuleError('QUERY_FAILED', 'rolled back on purpose'))));
  }

  await transcript.failure(db.migrate('pg'));
  await db.rollback('pg');
  await pg.query(`DROP TABLE ${migrated}_history`);
  rmSync(migrations, { recursive: true, force: true });

  // Recovery: the key is revoked and rotated while a session is pinned (auth.retried, token.refreshed).
  await pg.transaction(async (tx) => {
    await tx.query('SELECT 1');
    emulator?.revoke(source.current.accessKeyId);
    source.rotate();
    await pg.query('SELECT 1');
  });

  // The credentials provider fails when a new token is needed (token.refresh_failed).
  advance(20 * MINUTE);
  broken = true;
  await transcript.failure(pg.query('SELECT 1'));
  broken = false;
  advance(MINUTE);
  await pg.query('SELECT 1');

  // The key is revoked with nothing to replace it: IAM_AUTH_FAILED after retries.
  emulator.revoke(source.current.accessKeyId);
  advance(2 * MINUTE);
  const refused = await transcript.failure(pg.query('SELECT 1'));
  expect(refused.code).toBe('IAM_AUTH_FAILED');

  // what an ORM or a debugging user prints: the pools and their sessions, deep
  transcript.texts.push(inspect(pg.pool, { depth: 6 }), inspect(my.pool, { depth: 6 }));
  const health = await db.health();
  transcript.texts.push(JSON.stringify(health), inspect(health, { depth: 8 }));
  transcript.texts.push(JSON.stringify(db.config), inspect(db.config, { depth: 8 }), JSON.stringify(pg.config), JSON.stringify(my.config));
  transcript.texts.push(JSON.stringify(pg.tokenState()), JSON.stringify(my.tokenState()), JSON.stringify(emulator.authLog.entries()));
  await db.close();
  db = undefined;

  // The scenario reached every path it claims to. (connection.error fires only while
  // createDatabase opens, before a listener can be attached, or on close.)
  const said = transcript.texts.join('\n');
  for (const name of ['config.loaded', 'connected', 'query.executed', 'query.error', 'transaction.committed', 'transaction.rolled_back', 'auth.retried', 'token.refreshed', 'token.refresh_failed', 'disconnected', 'migration.started', 'migration.completed', 'migration.failed']) {
    expect(said, name).toContain(`${name} {`);
  }
  expect(said).toContain('AWS_CREDENTIALS_UNAVAILABLE');
  expect(everyEvent).toBe(true);

  // Every token that could have been signed: each credential set at each instant, for each port.
  const tokens = new Set<string>();
  for (const credentials of source.issued) {
    for (const at of instants) for (const port of [RDS_PORT.postgres, RDS_PORT.mysql]) tokens.add(await expectedToken(credentials, port, at));
  }
  expect(sent.size).toBeGreaterThanOrEqual(2);
  for (const token of sent) expect(tokens, 'a token the driver sent was computed independently').toContain(token);
  // The emulator fingerprints every token presented, refused ones included: all are in the set.
  const fingerprints = tokenFingerprints(tokens);
  const presented = emulator.authLog.entries().map((attempt) => attempt.tokenId);
  expect(presented.length).toBeGreaterThan(10);
  for (const id of presented) expect(fingerprints, 'a token presented to the server was computed independently').toContain(id);

  // every piece of every secret, raw and percent-encoded, is searched for
  const needles = new SecretNeedles().add(DSN_PASSWORD, 'DSN password').addCredentials(source.issued).addTokens(tokens);
  expect(needles.findIn(transcript.texts)).toEqual([]);
});
