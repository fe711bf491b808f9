// An Aurora cluster on this machine: the emulator's endpoints (one per instance, the cluster and
// cluster-ro endpoints) in front of a real PostgreSQL primary + streaming standby and a real
// MariaDB primary + replica. Nothing is installed on the servers: every Aurora topology answer
// comes from the emulator, and every session authenticates with an IAM token it verified.
import { Kysely, sql } from 'kysely';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { DbModuleError } from '../../src/errors.js';
import { createDatabase, type Database } from '../../src/index.js';
import { kyselyDialect } from '../../src/integrations/kysely.js';
import type { Queryable } from '../../src/transaction.js';
import { startMariadbReplication, startPostgresReplication, type MariadbReplication, type PostgresReplication } from '../support/cluster/replication.js';
import { credentialsSource, type CredentialsSource } from '../support/iam-e2e/credentials.js';
import { captureLogger } from '../support/logger.js';
import { rejectionOf } from '../support/rejection.js';
import { waitFor } from '../support/wait.js';

const IAM_USER = 'app_user';

interface Setup {
  readonly emulator: Emulator;
  readonly credentials: CredentialsSource;
  readonly remove: () => Promise<void>;
}

let db: Database | undefined;

afterEach(async () => {
  await db?.close();
  db = undefined;
});

/** A dbmodule connection to the cluster endpoint, by name, as in production; instance_addresses says where each name listens. */
async function openCluster(setup: Setup, cluster: Record<string, unknown> = {}): Promise<Database> {
  const { emulator } = setup;
  const endpoints = emulator.cluster!;
  const scheme = endpoints.engine === 'postgres' ? 'postgresql' : 'mysql';
  const tls = endpoints.engine === 'postgres' ? `sslmode=verify-full&sslrootcert=${emulator.caFile}` : `ssl-mode=VERIFY_IDENTITY&ssl-ca=${emulator.caFile}`;
  db = await createDatabase(
    {
      connections: {
        app: {
          driver: endpoints.engine,
          dsn: `${scheme}://${IAM_USER}@${endpoints.clusterEndpoint}:${endpoints.port}/dbmodule_test?${tls}`,
          aws_iam_auth: { enabled: true, max_connects_per_second: 1000 },
          cluster: { topology_refresh: '100ms', instance_addresses: endpoints.addressOf, ...cluster },
        },
      },
    },
    { logger: captureLogger().logger, credentials: setup.credentials.provider },
  );
  return db;
}

/** Every token the emulator accepted was signed for the endpoint it was presented to. */
function expectTokensSignedForTheHostDialled(emulator: Emulator): string[] {
  const allowed = emulator.authLog.entries().filter((attempt) => attempt.decision === 'allow');
  expect(allowed.length).toBeGreaterThan(0);
  for (const attempt of allowed) expect(attempt.signedHost).toBe(`${attempt.endpoint}:${emulator.cluster!.port}`);
  return [...new Set(allowed.map((attempt) => attempt.endpoint ?? ''))].sort();
}

describe('an emulated Aurora PostgreSQL cluster', () => {
  let servers: PostgresReplication;
  let setup: Setup;

  beforeAll(async () => {
    servers = await startPostgresReplication({ standbys: 2 });
    const emulator = await startEmulator({
      credentials: [],
      cluster: {
        engine: 'postgres',
        instances: [
          { id: 'db-1', upstream: servers.primary.dsn.replace('?sslmode=disable', '') },
          { id: 'db-2', upstream: servers.standbys[0]!.dsn.replace('?sslmode=disable', '') },
        ],
      },
    });
    setup = { emulator, credentials: credentialsSource(emulator, { now: () => Date.now() }), remove: () => emulator.close() };
  }, 180_000);

  afterAll(async () => {
    await setup?.remove();
    await servers?.remove();
  });

  const standby = async (queryable: Queryable) => (await queryable.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')).rows[0]!.standby;

  it('the cluster endpoint is detected as Aurora from the emulator: topology, reads on the standby, writes on the primary, tokens per host', async () => {
    const database = await openCluster(setup);
    const cluster = setup.emulator.cluster!;
    const topology = database.connection().topology();
    expect(topology?.source).toBe('aurora-postgresql');
    expect(topology?.writer).toMatchObject({ id: 'db-1', host: cluster.instancePattern.replace('?', 'db-1'), port: 5432 });
    expect(topology?.readers).toMatchObject([{ id: 'db-2', host: cluster.instancePattern.replace('?', 'db-2'), port: 5432, lagMs: 0, healthy: true }]);
    expect(await standby(database.connection().reader())).toBe(true);
    expect(await standby(database.connection())).toBe(false);
    expect(expectTokensSignedForTheHostDialled(setup.emulator)).toEqual([cluster.clusterEndpoint, cluster.instancePattern.replace('?', 'db-2')].sort());
  });

  it('kyselyDialect: on reader() Kysely reads on the standby, on the connection it writes on the primary', async () => {
    const database = await openCluster(setup);
    const reads = new Kysely<Record<string, never>>({ dialect: kyselyDialect(database.connection().reader()) });
    const writes = new Kysely<Record<string, never>>({ dialect: kyselyDialect(database.connection()) });
    const instance = sql<{ id: string; standby: boolean }>`SELECT aurora_db_instance_identifier() AS id, pg_is_in_recovery() AS standby`;
    expect((await instance.execute(reads)).rows).toEqual([{ id: 'db-2', standby: true }]);
    expect((await instance.execute(writes)).rows).toEqual([{ id: 'db-1', standby: false }]);
    await Promise.all([reads.destroy(), writes.destroy()]);
    expect(await standby(database.connection().reader())).toBe(true);
  });

  it('refuses a token signed for another endpoint of the same cluster', async () => {
    const cluster = setup.emulator.cluster!;
    const { Signer } = await import('@aws-sdk/rds-signer');
    const token = await new Signer({ hostname: cluster.clusterEndpoint, port: 5432, username: IAM_USER, region: 'us-east-1', credentials: setup.credentials.current }).getAuthToken();
    const [host, port] = cluster.addresses()[`${cluster.instancePattern.replace('?', 'db-2')}:5432`]!.split(':');
    const client = new pg.Client({ host, port: Number(port), user: IAM_USER, password: token, database: 'dbmodule_test', ssl: { ca: setup.emulator.caPem, servername: cluster.instancePattern.replace('?', 'db-2') } });
    client.on('error', () => {});
    await expect(client.connect()).rejects.toThrow(`PAM authentication failed for user "${IAM_USER}"`);
    const denied = setup.emulator.authLog.entries().at(-1);
    expect(denied).toMatchObject({ decision: 'deny', endpoint: cluster.instancePattern.replace('?', 'db-2'), signedHost: `${cluster.clusterEndpoint}:5432` });
  });

  it('answers Aurora detection as peers ask it: pg_settings rds.extensions and aurora_db_instance_identifier()', async () => {
    const database = await openCluster(setup);
    const { rows } = await database.connection().query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'rds.extensions'");
    expect(rows[0]?.setting).toContain('aurora_stat_utils');
    const ids = await database.connection().query<{ aurora_db_instance_identifier: string }>('SELECT aurora_db_instance_identifier()');
    expect(ids.rows[0]?.aurora_db_instance_identifier).toBe('db-1');
    const onReader = await database.connection().reader().query<{ id: string }>('SELECT aurora_db_instance_identifier() AS id');
    expect(onReader.rows[0]?.id).toBe('db-2');
  });

  it('a reader lagging beyond max_replica_lag is skipped; an added reader gets reads within one refresh; a removed one loses them', async () => {
    const cluster = setup.emulator.cluster!;
    const database = await openCluster(setup, { max_replica_lag: '1s' });
    cluster.setLag('db-2', 5_000);
    await database.connection().refreshTopology();
    expect(await standby(database.connection().reader())).toBe(false);

    const changed = new Promise<{ added: string[] }>((resolve) => database.on('topology.changed', resolve));
    await cluster.addInstance({ id: 'db-3', upstream: servers.standbys[1]!.dsn.replace('?sslmode=disable', '') });
    try {
      expect((await changed).added).toEqual(['db-3 (reader)']);
      const { rows } = await database.connection().reader().query<{ id: string; standby: boolean }>('SELECT aurora_db_instance_identifier() AS id, pg_is_in_recovery() AS standby');
      expect(rows[0], JSON.stringify(database.connection().topology())).toEqual({ id: 'db-3', standby: true });
    } finally {
      await cluster.removeInstance('db-3');
      cluster.setLag('db-2', 0);
    }
    await database.connection().refreshTopology();
    expect(database.connection().topology()?.readers.map((reader) => reader.id)).toEqual(['db-2']);
    expect(await standby(database.connection().reader())).toBe(true);
  });

  it("an unhealthy reader's reads move to the writer without a failed query, and come back when it is healthy again", async () => {
    const cluster = setup.emulator.cluster!;
    const database = await openCluster(setup);
    expect(await standby(database.connection().reader())).toBe(true);
    await cluster.setHealthy('db-2', false);
    try {
      for (let i = 0; i < 5; i++) expect(await standby(database.connection().reader())).toBe(false);
      expect(database.connection().topology()?.readers[0]?.healthy).toBe(false);
    } finally {
      await cluster.setHealthy('db-2', true);
    }
    await waitFor(() => database.connection().topology()?.readers[0]?.healthy === true, 10_000, 'db-2 to answer again');
    expect(await standby(database.connection().reader())).toBe(true);
  });

  it('the reader endpoint sends sessions to a reader', async () => {
    const cluster = setup.emulator.cluster!;
    const [host, port] = cluster.addresses()[`${cluster.readerEndpoint}:5432`]!.split(':');
    const { Signer } = await import('@aws-sdk/rds-signer');
    const token = await new Signer({ hostname: cluster.readerEndpoint, port: 5432, username: IAM_USER, region: 'us-east-1', credentials: setup.credentials.current }).getAuthToken();
    const client = new pg.Client({ host, port: Number(port), user: IAM_USER, password: token, database: 'dbmodule_test', ssl: { ca: setup.emulator.caPem, servername: cluster.readerEndpoint } });
    await client.connect();
    try {
      expect((await client.query('SELECT pg_is_in_recovery() AS standby, aurora_db_instance_identifier() AS id')).rows[0]).toEqual({ standby: true, id: 'db-2' });
    } finally {
      await client.end();
    }
  });

  it('two connections to one cluster share one token per endpoint (one cache and one signing per endpoint)', async () => {
    const { emulator } = setup;
    const cluster = emulator.cluster!;
    const since = emulator.authLog.entries().length;
    const connection = {
      dsn: `postgresql://${IAM_USER}@${cluster.clusterEndpoint}:5432/dbmodule_test?sslmode=verify-full&sslrootcert=${emulator.caFile}`,
      aws_iam_auth: { enabled: true },
      cluster: { instance_addresses: cluster.addressOf },
    };
    db = await createDatabase({ default: 'a', connections: { a: connection, b: { ...connection, max_open_connections: 3 } } }, { logger: captureLogger().logger, credentials: setup.credentials.provider });
    await Promise.all(['a', 'b'].map((name) => db!.connection(name).reader().query('SELECT 1')));
    const tokensPerEndpoint = new Map<string, Set<string>>();
    for (const attempt of emulator.authLog.entries().slice(since).filter((entry) => entry.decision === 'allow')) {
      tokensPerEndpoint.set(attempt.endpoint!, (tokensPerEndpoint.get(attempt.endpoint!) ?? new Set()).add(attempt.tokenId!));
    }
    expect([...tokensPerEndpoint.keys()].sort()).toEqual([cluster.clusterEndpoint, cluster.instancePattern.replace('?', 'db-2')].sort());
    for (const tokens of tokensPerEndpoint.values()) expect(tokens.size).toBe(1);
    expect(db.connection('a').tokenState()?.signCount).toBe(1);
    expect(db.connection('b').tokenState()).toEqual(db.connection('a').tokenState());
  });

  it('over every test above, each token the emulator accepted was signed for the endpoint dialled', () => {
    const cluster = setup.emulator.cluster!;
    const instance = (id: string) => cluster.instancePattern.replace('?', id);
    expect(expectTokensSignedForTheHostDialled(setup.emulator)).toEqual([cluster.clusterEndpoint, cluster.readerEndpoint, instance('db-2'), instance('db-3')].sort());
  });
});

describe('an emulated Aurora MySQL cluster', () => {
  let servers: MariadbReplication;
  let setup: Setup;

  beforeAll(async () => {
    servers = await startMariadbReplication();
    const emulator = await startEmulator({
      credentials: [],
      cluster: {
        engine: 'mysql',
        instances: [
          { id: 'db-1', upstream: servers.primary.dsn },
          { id: 'db-2', upstream: servers.replicas[0]!.dsn, lagMs: 20 },
        ],
      },
    });
    setup = { emulator, credentials: credentialsSource(emulator, { now: () => Date.now() }), remove: () => emulator.close() };
  }, 180_000);

  afterAll(async () => {
    await setup?.remove();
    await servers?.remove();
  });

  const readOnly = async (queryable: Queryable) => Number((await queryable.query<{ ro: number }>('SELECT @@global.read_only AS ro')).rows[0]!.ro) === 1;

  it('is detected as Aurora MySQL (information_schema.replica_host_status): reads on the replica, writes on the primary, tokens per host', async () => {
    const database = await openCluster(setup);
    const cluster = setup.emulator.cluster!;
    const topology = database.connection().topology();
    expect(topology?.source).toBe('aurora-mysql');
    expect(topology?.writer).toMatchObject({ id: 'db-1', port: 3306 });
    expect(topology?.readers).toMatchObject([{ id: 'db-2', host: cluster.instancePattern.replace('?', 'db-2'), port: 3306, lagMs: 20, healthy: true }]);
    expect(await readOnly(database.connection().reader())).toBe(true);
    expect(await readOnly(database.connection())).toBe(false);
    expect(expectTokensSignedForTheHostDialled(setup.emulator)).toEqual([cluster.clusterEndpoint, cluster.instancePattern.replace('?', 'db-2')].sort());
  });

  it('kyselyDialect: on reader() Kysely reads on the replica, on the connection it writes on the primary', async () => {
    const database = await openCluster(setup);
    const reads = new Kysely<Record<string, never>>({ dialect: kyselyDialect(database.connection().reader()) });
    const writes = new Kysely<Record<string, never>>({ dialect: kyselyDialect(database.connection()) });
    const instance = sql<{ id: string; ro: number | string }>`SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro`;
    expect((await instance.execute(reads)).rows.map((row) => [row.id, Number(row.ro)])).toEqual([['db-2', 1]]);
    expect((await instance.execute(writes)).rows.map((row) => [row.id, Number(row.ro)])).toEqual([['db-1', 0]]);
    await Promise.all([reads.destroy(), writes.destroy()]);
    expect(await readOnly(database.connection().reader())).toBe(true);
  });

  it('answers @@aurora_server_id and @@innodb_read_only by the instance the session is on', async () => {
    const database = await openCluster(setup);
    const writer = await database.connection().query<{ id: string; ro: number | string }>('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro');
    expect(writer.rows[0]).toMatchObject({ id: 'db-1' });
    expect(Number(writer.rows[0]!.ro)).toBe(0);
    const reader = await database.connection().reader().query<{ id: string; ro: number | string }>('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro');
    expect(reader.rows[0]).toMatchObject({ id: 'db-2' });
    expect(Number(reader.rows[0]!.ro)).toBe(1);
  });

  it("an unhealthy reader's reads move to the writer without a failed query", async () => {
    const cluster = setup.emulator.cluster!;
    const database = await openCluster(setup);
    expect(await readOnly(database.connection().reader())).toBe(true);
    await cluster.setHealthy('db-2', false);
    try {
      for (let i = 0; i < 5; i++) expect(await readOnly(database.connection().reader())).toBe(false);
    } finally {
      await cluster.setHealthy('db-2', true);
    }
    await waitFor(() => database.connection().topology()?.readers[0]?.healthy === true, 10_000, 'db-2 to answer again');
    expect(await readOnly(database.connection().reader())).toBe(true);
  });

  it('dialled at a mapped address, mysql2 still checks the certificate against the endpoint name (VERIFY_IDENTITY)', async () => {
    const cluster = setup.emulator.cluster!;
    const address = cluster.addressOf({ host: cluster.clusterEndpoint, port: 3306 })!;
    const error = await rejectionOf(
      () =>
        createDatabase(
          {
            connections: {
              app: {
                driver: 'mysql',
                dsn: `mysql://${IAM_USER}@elsewhere.example.test:3306/dbmodule_test?ssl-mode=VERIFY_IDENTITY&ssl-ca=${setup.emulator.caFile}`,
                aws_iam_auth: { enabled: true, region: 'us-east-1' },
                cluster: { enabled: false, instance_addresses: { 'elsewhere.example.test:3306': address } },
              },
            },
          },
          { logger: captureLogger().logger, credentials: setup.credentials.provider },
        ),
      DbModuleError,
    );
    expect(error.code).toBe('TLS_FAILED');
    expect(error.message).toContain('elsewhere.example.test');
  });

  it('a plain mysql2 client sees the same answers through the cluster endpoint', async () => {
    const cluster = setup.emulator.cluster!;
    const [host, port] = cluster.addresses()[`${cluster.clusterEndpoint}:3306`]!.split(':');
    const { Signer } = await import('@aws-sdk/rds-signer');
    const token = await new Signer({ hostname: cluster.clusterEndpoint, port: 3306, username: IAM_USER, region: 'us-east-1', credentials: setup.credentials.current }).getAuthToken();
    const connection = await mysql.createConnection({ host, port: Number(port), user: IAM_USER, password: token, database: 'dbmodule_test', ssl: { ca: setup.emulator.caPem, rejectUnauthorized: true }, enableCleartextPlugin: true } as mysql.ConnectionOptions);
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>("SHOW VARIABLES LIKE 'aurora_version'");
      expect(rows[0]).toMatchObject({ Variable_name: 'aurora_version' });
      const [status] = await connection.query<mysql.RowDataPacket[]>('SELECT SERVER_ID, SESSION_ID, REPLICA_LAG_IN_MILLISECONDS FROM information_schema.replica_host_status ORDER BY SERVER_ID');
      expect(status.map((row) => [row.SERVER_ID, row.SESSION_ID === 'MASTER_SESSION_ID', Number(row.REPLICA_LAG_IN_MILLISECONDS)])).toEqual([
        ['db-1', true, 0],
        ['db-2', false, 20],
      ]);
    } finally {
      await connection.end();
    }
  });
});
