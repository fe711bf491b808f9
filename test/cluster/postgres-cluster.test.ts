// Topology and reader routing on a real PostgreSQL primary and streaming standby (pg_basebackup -R):
// Aurora's topology functions and RDS Multi-AZ's rds_tools are created on the primary the way the
// real ones answer (same names, columns and semantics), from a table the test controls.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TopologyHost } from '../../src/cluster/types.js';
import { createDatabase, type Database } from '../../src/index.js';
import type { Queryable } from '../../src/transaction.js';
import { startPostgresReplication, type PostgresReplication } from '../support/cluster/replication.js';
import { captureLogger } from '../support/logger.js';
import { rejectionOf } from '../support/rejection.js';
import { waitFor } from '../support/wait.js';
import { DbModuleError } from '../../src/errors.js';

const CLUSTER = 'abc123';
const endpoint = (id: string) => `${id}.${CLUSTER}.us-east-1.rds.amazonaws.com`;

let servers: PostgresReplication;
let admin: pg.Client;
let db: Database | undefined;

beforeAll(async () => {
  servers = await startPostgresReplication();
  admin = new pg.Client({ connectionString: servers.primary.dsn });
  await admin.connect();
  await admin.query(`
    CREATE SCHEMA aurora_emulation;
    CREATE TABLE aurora_emulation.replica_status (
      server_id text PRIMARY KEY, session_id text NOT NULL, replica_lag_in_msec double precision,
      last_update_timestamp timestamptz, cpu double precision DEFAULT 1);
    CREATE TABLE aurora_emulation.broken (yes boolean NOT NULL);
    INSERT INTO aurora_emulation.broken VALUES (false);
    CREATE FUNCTION pg_catalog.aurora_replica_status()
      RETURNS SETOF aurora_emulation.replica_status LANGUAGE plpgsql STABLE AS $$
      BEGIN
        IF (SELECT yes FROM aurora_emulation.broken) THEN RAISE EXCEPTION 'aurora_replica_status is unavailable'; END IF;
        RETURN QUERY SELECT * FROM aurora_emulation.replica_status;
      END $$;
    CREATE FUNCTION pg_catalog.aurora_db_instance_identifier() RETURNS text LANGUAGE sql
      AS $$ SELECT CASE WHEN pg_is_in_recovery() THEN 'db-2' ELSE 'db-1' END $$;`);
  await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2' }]);
  await servers.waitForReplay();
}, 180_000);

afterEach(async () => {
  await db?.close();
  db = undefined;
});

afterAll(async () => {
  await admin?.end();
  await servers?.remove();
});

interface EmulatedInstance {
  id: string;
  writer?: boolean;
  lagMs?: number;
  /** Seconds since the instance last reported (Aurora keeps rows of departed instances). */
  silentFor?: number;
}

async function setInstances(instances: EmulatedInstance[]): Promise<void> {
  await admin.query('DELETE FROM aurora_emulation.replica_status');
  for (const instance of instances) {
    await admin.query(
      "INSERT INTO aurora_emulation.replica_status VALUES ($1, $2, $3, now() - make_interval(secs => $4))",
      [instance.id, instance.writer ? 'MASTER_SESSION_ID' : `session-${instance.id}`, instance.writer ? null : (instance.lagMs ?? 0), instance.silentFor ?? 0],
    );
  }
}

function addresses(): Record<string, string> {
  return {
    [endpoint('db-1')]: `127.0.0.1:${servers.primary.port}`,
    [endpoint('db-2')]: `127.0.0.1:${servers.standbys[0]!.port}`,
  };
}

async function open(cluster: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Database> {
  db = await createDatabase(
    {
      connections: {
        app: {
          dsn: servers.primary.dsn,
          cluster: { enabled: true, instance_host_pattern: `?.${CLUSTER}.us-east-1.rds.amazonaws.com`, topology_refresh: '100ms', instance_addresses: addresses(), ...cluster },
          ...extra,
        },
      },
    },
    { logger: captureLogger().logger },
  );
  return db;
}

/** True when the session `queryable` ran on is the standby's. */
async function inRecovery(queryable: Queryable): Promise<boolean> {
  const { rows } = await queryable.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
  return rows[0]!.standby;
}

const standbyAnswers = (database: Database) => inRecovery(database.connection().reader());
const ids = (hosts: readonly TopologyHost[]) => hosts.map((host) => host.id);

describe('Aurora PostgreSQL topology (aurora_replica_status)', () => {
  it('is discovered from the writer: the writer by MASTER_SESSION_ID, readers with their lag, endpoints by the instance pattern', async () => {
    await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2', lagMs: 12.5 }]);
    const topology = (await open()).connection().topology();
    expect(topology?.source).toBe('aurora-postgresql');
    expect(topology?.writer).toMatchObject({ id: 'db-1', host: endpoint('db-1'), port: servers.primary.port, role: 'writer', healthy: true });
    expect(topology?.readers).toEqual([{ id: 'db-2', host: endpoint('db-2'), port: servers.primary.port, role: 'reader', lagMs: 12.5, healthy: true }]);
  });

  it('reads land on the standby, writes on the primary', async () => {
    await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2' }]);
    const database = await open();
    expect(await standbyAnswers(database)).toBe(true);
    expect(await inRecovery(database.connection())).toBe(false);
  });

  it('a transaction on reader() stays on one session of the standby', async () => {
    await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2' }]);
    const database = await open();
    const seen = await database.connection().reader().transaction(async (tx) => {
      const first = await tx.query<{ pid: number; standby: boolean }>('SELECT pg_backend_pid() AS pid, pg_is_in_recovery() AS standby');
      const second = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return { first: first.rows[0]!, second: second.rows[0]! };
    });
    expect(seen.first.standby).toBe(true);
    expect(seen.second.pid).toBe(seen.first.pid);
  });

  it('drops rows not updated for 5 minutes, unless the writer\'s', async () => {
    await setInstances([{ id: 'db-1', writer: true, silentFor: 600 }, { id: 'db-2' }, { id: 'db-9', silentFor: 301 }]);
    const topology = (await open()).connection().topology();
    expect(topology?.writer?.id).toBe('db-1');
    expect(ids(topology?.readers ?? [])).toEqual(['db-2']);
  });

  it('a reader lagging beyond max_replica_lag is skipped: reads go to the writer, or fail with read_from: readers', async () => {
    await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2', lagMs: 10_000 }]);
    const database = await open({ max_replica_lag: '5s' });
    expect(await standbyAnswers(database)).toBe(false);
    await db?.close();
    const strict = await open({ max_replica_lag: '5s', read_from: 'readers' });
    const error = await rejectionOf(() => strict.connection().reader().query('SELECT 1'), DbModuleError);
    expect([error.code, error.retryable]).toEqual(['CONNECT_FAILED', true]);
    expect(error.message).toContain('no reader is available (read_from: readers)');
  });

  it('read_from: writer sends reads to the writer', async () => {
    await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2' }]);
    expect(await standbyAnswers(await open({ read_from: 'writer' }))).toBe(false);
  });

  it('an added reader gets reads after one refresh, and topology.changed names it; a removed one stops getting them', async () => {
    await setInstances([{ id: 'db-1', writer: true }]);
    const database = await open();
    expect(await standbyAnswers(database)).toBe(false);
    const changed = new Promise<{ added: string[]; readers: string[] }>((resolve) => database.on('topology.changed', resolve));
    await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2' }]);
    const event = await changed;
    expect(event).toMatchObject({ connection: 'app', source: 'aurora-postgresql', writer: 'db-1', readers: ['db-2'], added: ['db-2 (reader)'] });
    expect(await standbyAnswers(database)).toBe(true);

    await setInstances([{ id: 'db-1', writer: true }]);
    await database.connection().refreshTopology();
    expect(database.connection().topology()?.readers).toEqual([]);
    expect(await standbyAnswers(database)).toBe(false);
  });

  it('a failed refresh keeps the last good topology and says so in health()', async () => {
    await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2' }]);
    const database = await open();
    const failed = new Promise<{ code: string }>((resolve) => database.on('topology.refresh_failed', resolve));
    await admin.query('UPDATE aurora_emulation.broken SET yes = true');
    try {
      await expect(database.connection().refreshTopology()).rejects.toMatchObject({ code: 'QUERY_FAILED' });
      expect((await failed).code).toBe('QUERY_FAILED');
      const health = await database.health();
      const topology = health.connections.app?.topology;
      expect(ids(topology?.readers ?? [])).toEqual(['db-2']);
      expect(topology?.refreshError?.message).toContain('aurora_replica_status is unavailable');
      expect(await standbyAnswers(database)).toBe(true);
    } finally {
      await admin.query('UPDATE aurora_emulation.broken SET yes = false');
    }
    await database.connection().refreshTopology();
    expect(database.connection().topology()?.refreshError).toBeUndefined();
  });

  it('connections to one cluster share one monitor: a refresh by one is seen by the other', async () => {
    await setInstances([{ id: 'db-1', writer: true }]);
    const cluster = { enabled: true, instance_host_pattern: `?.${CLUSTER}.us-east-1.rds.amazonaws.com`, topology_refresh: '1h', instance_addresses: addresses() };
    db = await createDatabase({ default: 'a', connections: { a: { dsn: servers.primary.dsn, cluster }, b: { dsn: servers.primary.dsn, cluster } } }, { logger: captureLogger().logger });
    await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2' }]);
    await db.connection('a').refreshTopology();
    expect(ids(db.connection('b').topology()?.readers ?? [])).toEqual(['db-2']);
  });

  it('a stopped reader\'s reads move to the writer without failing; once it answers again it gets them back', async () => {
    await setInstances([{ id: 'db-1', writer: true }, { id: 'db-2' }]);
    const database = await open();
    expect(await standbyAnswers(database)).toBe(true);
    const standby = servers.standbys[0]!;
    await standby.stop();
    try {
      for (let i = 0; i < 5; i++) expect(await standbyAnswers(database)).toBe(false);
      expect(database.connection().topology()?.readers[0]?.healthy).toBe(false);
    } finally {
      await standby.start();
    }
    await waitFor(() => database.connection().topology()?.readers[0]?.healthy === true, 10_000, 'the restarted standby to be healthy again');
    expect(await standbyAnswers(database)).toBe(true);
  });

  it('cluster.enabled: true on a server without topology is an error naming the setting', async () => {
    const plain = servers.primary.dsn.replace('/dbmodule_test', '/postgres');
    const error = await rejectionOf(
      () => createDatabase({ connections: { app: { dsn: plain, cluster: { enabled: true, instance_host_pattern: '?.example.com' } } } }, { logger: captureLogger().logger }),
      DbModuleError,
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('cluster.enabled is true, but');
  });

  it('cluster.enabled: auto on a server without topology is a plain connection', async () => {
    const plain = servers.primary.dsn.replace('/dbmodule_test', '/postgres');
    db = await createDatabase({ connections: { app: { dsn: plain, cluster: { enabled: 'auto' } } } }, { logger: captureLogger().logger });
    expect(db.connection().topology()).toBeUndefined();
    expect(await inRecovery(db.connection().reader())).toBe(false);
  });
});

describe('plain replication (replicas:)', () => {
  it('reads go to the replica, whose role and lag are asked of it; writes to the primary', async () => {
    await servers.waitForReplay(); // caught up, the standby reports no lag
    const replicated = await createDatabase(
      { connections: { app: { dsn: servers.primary.dsn, replicas: [servers.standbys[0]!.dsn], cluster: { topology_refresh: '100ms' } } } },
      { logger: captureLogger().logger },
    );
    db = replicated;
    const topology = replicated.connection().topology();
    expect(topology?.source).toBe('replicas');
    expect(topology?.writer).toMatchObject({ host: '127.0.0.1', port: servers.primary.port, role: 'writer' });
    expect(topology?.readers).toMatchObject([{ host: '127.0.0.1', port: servers.standbys[0]!.port, role: 'reader', lagMs: 0, healthy: true }]);
    expect(await standbyAnswers(replicated)).toBe(true);
    expect(await inRecovery(replicated.connection())).toBe(false);
  });

  it('a replica that is not read-only is not a reader', async () => {
    db = await createDatabase(
      { connections: { app: { dsn: servers.primary.dsn, replicas: [servers.primary.dsn.replace('127.0.0.1', 'localhost')] } } },
      { logger: captureLogger().logger },
    );
    expect(db.connection().topology()?.readers).toEqual([]);
    expect(await standbyAnswers(db)).toBe(false);
  });
});

describe('RDS Multi-AZ DB cluster, PostgreSQL (rds_tools)', () => {
  // the rds_tools functions as RDS answers them, in a database of their own (the one above is Aurora's)
  const ids = { writer: 'db-ABCDEFGHIJKL', reader: 'db-MNOPQRSTUVWX' };
  const dsnOf = (dsn: string) => dsn.replace('/dbmodule_test', '/multiaz');
  const multiAzAddresses = () => ({
    [`${endpoint('writer-1')}:5432`]: `127.0.0.1:${servers.primary.port}`,
    [`${endpoint('reader-1')}:5432`]: `127.0.0.1:${servers.standbys[0]!.port}`,
  });

  beforeAll(async () => {
    await admin.query('CREATE DATABASE multiaz');
    const client = new pg.Client({ connectionString: dsnOf(servers.primary.dsn) });
    await client.connect();
    try {
      await client.query(`
        CREATE SCHEMA rds_tools;
        CREATE TABLE rds_tools.topology_rows (id text PRIMARY KEY, endpoint text NOT NULL, port int NOT NULL);
        INSERT INTO rds_tools.topology_rows VALUES ('${ids.writer}', '${endpoint('writer-1')}', 5432), ('${ids.reader}', '${endpoint('reader-1')}', 5432);
        CREATE FUNCTION rds_tools.show_topology(client text) RETURNS TABLE (id text, endpoint text, port int)
          LANGUAGE sql STABLE AS $$ SELECT id, endpoint, port FROM rds_tools.topology_rows $$;
        CREATE FUNCTION rds_tools.dbi_resource_id() RETURNS text LANGUAGE sql
          AS $$ SELECT CASE WHEN pg_is_in_recovery() THEN '${ids.reader}' ELSE '${ids.writer}' END $$;
        CREATE FUNCTION rds_tools.multi_az_db_cluster_source_dbi_resource_id() RETURNS text LANGUAGE sql
          AS $$ SELECT CASE WHEN pg_is_in_recovery() THEN '${ids.writer}' ELSE NULL END $$;`);
    } finally {
      await client.end();
    }
    await servers.waitForReplay();
  });

  // an instance is named by its endpoint's first label (as the AWS wrapper does), not its dbi resource id
  it('is discovered from the writer: endpoints from show_topology, the writer by its dbi resource id', async () => {
    db = await createDatabase({ connections: { app: { dsn: dsnOf(servers.primary.dsn), cluster: { enabled: true, instance_addresses: multiAzAddresses() } } } }, { logger: captureLogger().logger });
    const topology = db.connection().topology();
    expect(topology?.source).toBe('multi-az-postgresql');
    expect(topology?.writer).toMatchObject({ id: 'writer-1', host: endpoint('writer-1'), port: 5432, role: 'writer' });
    expect(topology?.readers).toMatchObject([{ id: 'reader-1', host: endpoint('reader-1'), port: 5432, role: 'reader', healthy: true }]);
    expect(await standbyAnswers(db)).toBe(true);
    expect(await inRecovery(db.connection())).toBe(false);
  });

  it('asked on the reader, multi_az_db_cluster_source_dbi_resource_id() names the writer', async () => {
    db = await createDatabase({ connections: { app: { dsn: dsnOf(servers.standbys[0]!.dsn), cluster: { enabled: true, instance_addresses: multiAzAddresses() } } } }, { logger: captureLogger().logger });
    expect(db.connection().topology()?.writer?.id).toBe('writer-1');
    expect(db.connection().topology()?.readers.map((reader) => reader.id)).toEqual(['reader-1']);
  });
});
