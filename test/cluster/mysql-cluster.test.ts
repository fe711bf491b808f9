// Topology and reader routing on a real MariaDB primary and replica (binlog replication):
// plain `replicas:` and an RDS Multi-AZ DB cluster, whose mysql.rds_topology table and
// SHOW REPLICA STATUS answer as on RDS (the table is created on the primary and replicates).
import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import type { Queryable } from '../../src/transaction.js';
import { startMariadbReplication, type MariadbReplication } from '../support/cluster/replication.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';

const CLUSTER = 'abc123';
const endpoint = (id: string) => `${id}.${CLUSTER}.us-east-1.rds.amazonaws.com`;

let servers: MariadbReplication;
let db: Database | undefined;

beforeAll(async () => {
  servers = await startMariadbReplication();
  const admin = await mysql.createConnection(servers.primary.dsn);
  try {
    await admin.query('CREATE TABLE mysql.rds_topology (id INT UNSIGNED PRIMARY KEY, endpoint VARCHAR(255) NOT NULL, port INT NOT NULL)');
    await admin.query('INSERT INTO mysql.rds_topology VALUES (1, ?, 3306), (2, ?, 3306)', [endpoint('db-1'), endpoint('db-2')]);
  } finally {
    await admin.end();
  }
  await servers.waitForReplay();
}, 180_000);

afterEach(async () => {
  await db?.close();
  db = undefined;
});

afterAll(async () => {
  await servers?.remove();
});

/** True when the session `queryable` ran on is the replica's (read-only, with a replication source). */
async function onReplica(queryable: Queryable): Promise<boolean> {
  const { rows } = await queryable.query<{ readOnly: number | string }>('SELECT @@global.read_only AS readOnly');
  return Number(rows[0]!.readOnly) === 1;
}

const replicaAnswers = (database: Database) => onReplica(database.connection().reader());

describe('plain replication (replicas:)', () => {
  it('reads go to the read-only replica, writes to the primary; the replica reports its lag', async () => {
    db = await createDatabase({ connections: { app: { dsn: servers.primary.dsn, replicas: [servers.replicas[0]!.dsn] } } }, { logger: captureLogger().logger });
    const topology = db.connection().topology();
    expect(topology?.source).toBe('replicas');
    expect(topology?.readers).toMatchObject([{ host: '127.0.0.1', port: servers.replicas[0]!.port, role: 'reader', lagMs: 0, healthy: true }]);
    expect(await replicaAnswers(db)).toBe(true);
    expect(await onReplica(db.connection())).toBe(false);
  });

  it('a transaction on reader() stays on one replica session', async () => {
    db = await createDatabase({ connections: { app: { dsn: servers.primary.dsn, replicas: [servers.replicas[0]!.dsn] } } }, { logger: captureLogger().logger });
    const ids = await db.connection().reader().transaction(async (tx) => {
      const first = await tx.query<{ id: number; ro: number }>('SELECT CONNECTION_ID() AS id, @@global.read_only AS ro');
      const second = await tx.query<{ id: number }>('SELECT CONNECTION_ID() AS id');
      return [first.rows[0]!, second.rows[0]!] as const;
    });
    expect(Number(ids[0].ro)).toBe(1);
    expect(ids[1].id).toBe(ids[0].id);
  });

  it('reader().pool is a mysql2 pool shape whose checkouts land on the replica', async () => {
    db = await createDatabase({ connections: { app: { dsn: servers.primary.dsn, replicas: [servers.replicas[0]!.dsn] } } }, { logger: captureLogger().logger });
    const pool = (db.connection().reader().pool as import('mysql2').Pool).promise();
    const [rows] = await pool.query('SELECT @@global.read_only AS ro');
    expect(Number((rows as Array<{ ro: number }>)[0]!.ro)).toBe(1);
  });

  it("a stopped replica's reads move to the primary without failing, and come back when it answers", async () => {
    db = await createDatabase(
      { connections: { app: { dsn: servers.primary.dsn, replicas: [servers.replicas[0]!.dsn], cluster: { topology_refresh: '100ms' } } } },
      { logger: captureLogger().logger },
    );
    expect(await replicaAnswers(db)).toBe(true);
    const replica = servers.replicas[0]!;
    await replica.stop();
    try {
      for (let i = 0; i < 5; i++) expect(await replicaAnswers(db)).toBe(false);
      expect(db.connection().topology()?.readers[0]?.healthy).toBe(false);
    } finally {
      await replica.start();
    }
    await waitFor(() => db!.connection().topology()?.readers[0]?.healthy === true, 15_000, 'the restarted replica to be healthy again');
    expect(await replicaAnswers(db)).toBe(true);
  });
});

describe('RDS Multi-AZ DB cluster (mysql.rds_topology)', () => {
  it('is discovered: the writer is the server without a replication source, endpoints come from the table', async () => {
    const addresses = { [endpoint('db-1')]: `127.0.0.1:${servers.primary.port}`, [endpoint('db-2')]: `127.0.0.1:${servers.replicas[0]!.port}` };
    db = await createDatabase({ connections: { app: { dsn: servers.primary.dsn, cluster: { enabled: true, instance_addresses: addresses } } } }, { logger: captureLogger().logger });
    const topology = db.connection().topology();
    expect(topology?.source).toBe('multi-az-mysql');
    expect(topology?.writer).toMatchObject({ id: 'db-1', host: endpoint('db-1'), port: 3306, role: 'writer' });
    expect(topology?.readers).toMatchObject([{ id: 'db-2', host: endpoint('db-2'), port: 3306, role: 'reader' }]);
    expect(await replicaAnswers(db)).toBe(true);
    expect(await onReplica(db.connection())).toBe(false);
  });

  it('asked on the replica, SHOW REPLICA STATUS names the writer', async () => {
    const addresses = { [endpoint('db-1')]: `127.0.0.1:${servers.primary.port}`, [endpoint('db-2')]: `127.0.0.1:${servers.replicas[0]!.port}` };
    db = await createDatabase({ connections: { app: { dsn: servers.replicas[0]!.dsn, cluster: { enabled: true, instance_addresses: addresses } } } }, { logger: captureLogger().logger });
    expect(db.connection().topology()?.writer?.id).toBe('db-1');
  });
});
