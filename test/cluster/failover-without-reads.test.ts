// A connection that only writes still fails over, and back: the topology is read through the
// readers the topology names (each has its pool, whether or not it ever served a read), so the old
// writer is never needed to learn who replaced it. Two emulated instances over the shared server.
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { DbModuleError } from '../../src/errors.js';
import type { DatabaseEvents } from '../../src/events.js';
import { createDatabase, type Database } from '../../src/index.js';
import { PG_URL } from '../support/databases.js';
import { credentialsSource } from '../support/iam-e2e/credentials.js';
import { captureLogger } from '../support/logger.js';
import { rejectionOf } from '../support/rejection.js';

let emulator: Emulator;
let db: Database;

beforeAll(async () => {
  const upstream = PG_URL.replace('?sslmode=disable', '');
  emulator = await startEmulator({
    credentials: [],
    cluster: { engine: 'postgres', instances: [{ id: 'db-1', upstream }, { id: 'db-2', upstream }] },
  });
  db = await openCluster('app', '5s');
});

/** A connection named `name` to the cluster endpoint, IAM on, failing over within `failoverTimeout`. */
function openCluster(name: string, failoverTimeout: string): Promise<Database> {
  const cluster = emulator.cluster!;
  return createDatabase(
    {
      connections: {
        [name]: {
          driver: 'postgres',
          dsn: `postgresql://app_user@${cluster.clusterEndpoint}:${cluster.port}/dbmodule_test?sslmode=verify-full&sslrootcert=${emulator.caFile}`,
          aws_iam_auth: { enabled: true, max_connects_per_second: 1000 },
          // the steady refresh never comes within the test: only the failover's refreshes can find the writer
          cluster: { topology_refresh: '1h', failover_refresh: '100ms', failover_timeout: failoverTimeout, instance_addresses: cluster.addressOf },
        },
      },
    },
    { logger: captureLogger().logger, credentials: credentialsSource(emulator, { now: () => Date.now() }).provider },
  );
}

afterAll(async () => {
  await db?.close();
  await emulator?.close();
});

/** Fails the writer over to `to` and keeps the old writer down until dbmodule has completed the failover. */
async function failOverWhileWriting(to: string): Promise<DatabaseEvents['failover.completed']> {
  const connection = db.connection();
  let completedAt: DatabaseEvents['failover.completed'] | undefined;
  const completed = new Promise<DatabaseEvents['failover.completed']>((resolve) => db.once('failover.completed', resolve));
  void completed.then((event) => (completedAt = event));
  // the cluster endpoint stays on the old writer: only the topology can tell where the writer went
  const failover = emulator.cluster!.failover({ to, staleDnsMs: 60_000, demote: () => completed.then(() => {}) });
  // writes only: the first one after the writer stopped starts the failover, later ones wait for it
  while (completedAt === undefined) {
    await connection.query('SELECT 1').catch(() => {});
    // a failure can come without I/O (a session found dead): let the emulator's and the failover's own work run
    await new Promise((resolve) => setImmediate(resolve));
  }
  await failover;
  return completedAt;
}

/** The instance a statement sent through `connection.pool` (a pg.Pool, as an ORM is given it) reached, by checkout and by pool.query. */
async function poolLandsOn(): Promise<string[]> {
  const pool = db.connection().pool as pg.Pool;
  const seen: string[] = [];
  const tag = `/* pool-${Math.random().toString(36).slice(2)} */`;
  const stop = emulator.cluster!.onStatement(({ instance, sql }) => {
    if (sql.startsWith(tag)) seen.push(instance);
  });
  try {
    const client = await pool.connect();
    try {
      await client.query(`${tag} SELECT 1`);
    } finally {
      client.release();
    }
    await pool.query(`${tag} SELECT 2`);
  } finally {
    stop();
  }
  return seen;
}

it('fails over twice with no read ever made, the old writer down until each failover completed; connection.pool follows', async () => {
  await db.connection().query('SELECT 1');
  expect(await poolLandsOn()).toEqual(['db-1', 'db-1']);
  expect(await failOverWhileWriting('db-2')).toMatchObject({ from: 'db-1', to: 'db-2' });
  expect(await poolLandsOn()).toEqual(['db-2', 'db-2']);
  // db-1 is a reader now, never read from: it is where the second failover learns of the new writer
  expect(await failOverWhileWriting('db-1')).toMatchObject({ from: 'db-2', to: 'db-1' });
  expect(db.connection().topology()?.writer?.id).toBe('db-1');
  expect(await poolLandsOn()).toEqual(['db-1', 'db-1']);
}, 30_000);

it('no instance answers as the writer within failover_timeout: failover.failed, the waiting write fails FAILOVER_FAILED (retryable), and writes resume once the cluster is back', async () => {
  const cluster = emulator.cluster!;
  const quick = await openCluster('quick', '1s');
  try {
    const connection = quick.connection();
    await connection.query('SELECT 1');
    const writer = connection.topology()!.writer!.id;
    const failed: Array<DatabaseEvents['failover.failed']> = [];
    quick.on('failover.failed', (event) => failed.push(event));
    for (const instance of cluster.instances()) await cluster.setHealthy(instance.id, false);
    const error = await rejectionOf(connection.query('SELECT 1'), DbModuleError);
    expect(error).toMatchObject({ code: 'FAILOVER_FAILED', retryable: true, connection: 'quick' });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ connection: 'quick', from: writer });
    // it did not give up before failover_timeout
    expect(failed[0]!.durationMs).toBeGreaterThanOrEqual(1000);
    for (const instance of cluster.instances()) await cluster.setHealthy(instance.id, true);
    await expect(connection.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
  } finally {
    await quick.close();
  }
}, 30_000);
