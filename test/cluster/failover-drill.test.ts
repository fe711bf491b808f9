// The failover drill (issue 13): an emulated Aurora cluster in front of a real PostgreSQL primary
// and streaming standby, or a real MariaDB primary and binlog replica; 16 writers inserting numbered rows (no unique key) and 16 readers, IAM
// on. The writer fails over to the standby and back; nothing acknowledged may be lost or doubled.
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { DbModuleError } from '../../src/errors.js';
import type { DatabaseEvents } from '../../src/events.js';
import { createDatabase, type Database } from '../../src/index.js';
import { mariadbFailover, postgresFailover, startMariadbReplication, startPostgresReplication, type ReplicatedServer } from '../support/cluster/replication.js';
import { credentialsSource } from '../support/iam-e2e/credentials.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';

const WRITERS = 16;
const READERS = 16;

interface Outcome {
  /** When each acknowledgement arrived (epoch ms). */
  readonly ackedAt?: number[];
  readonly acknowledged: Set<string>;
  readonly unknown: Set<string>;
  readonly failed: Map<string, number>;
}

interface Engine {
  readonly name: 'postgres' | 'mysql';
  /** The primary and its replica, with the upstream URL the emulator logs in with (a user read_only binds). */
  start(): Promise<{ primary: ReplicatedServer; replica: ReplicatedServer; upstream: (server: ReplicatedServer) => string; remove(): Promise<void> }>;
  failover(from: ReplicatedServer, to: ReplicatedServer): { promote(): Promise<void>; demote(): Promise<void> };
  rows(server: ReplicatedServer): Promise<Array<{ writer: number; seq: number }>>;
  readonly insert: string;
  readonly tls: (caFile: string) => string;
}

const ENGINES: Engine[] = [
  {
    name: 'postgres',
    start: async () => {
      const servers = await startPostgresReplication({ standbys: 1 });
      return { primary: servers.primary, replica: servers.standbys[0]!, upstream: (server) => server.dsn.replace('?sslmode=disable', ''), remove: () => servers.remove() };
    },
    failover: postgresFailover,
    rows: async (server) => {
      const client = new pg.Client({ connectionString: server.dsn });
      await client.connect();
      try {
        return (await client.query<{ writer: number; seq: number }>('SELECT writer, seq FROM drill')).rows;
      } finally {
        await client.end();
      }
    },
    insert: 'INSERT INTO drill (writer, seq) VALUES ($1, $2)',
    tls: (caFile) => `sslmode=verify-full&sslrootcert=${caFile}`,
  },
  {
    name: 'mysql',
    start: async () => {
      const servers = await startMariadbReplication({ replicas: 1 });
      // root would write through read_only (READ_ONLY ADMIN): the emulator logs in as a plain user
      const admin = await mysql.createConnection({ host: '127.0.0.1', port: servers.primary.port, user: 'root' });
      await admin.query("CREATE USER 'drill'@'%'");
      await admin.query("GRANT ALL ON dbmodule_test.* TO 'drill'@'%'");
      await admin.end();
      await servers.waitForReplay();
      return { primary: servers.primary, replica: servers.replicas[0]!, upstream: (server) => `mysql://drill@127.0.0.1:${server.port}/dbmodule_test`, remove: () => servers.remove() };
    },
    failover: (from, to) => mariadbFailover(from, to, 'drill'),
    rows: async (server) => {
      const connection = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user: 'root', database: 'dbmodule_test' });
      try {
        const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT writer, seq FROM drill');
        return rows.map((row) => ({ writer: Number(row.writer), seq: Number(row.seq) }));
      } finally {
        await connection.end();
      }
    },
    insert: 'INSERT INTO drill (writer, seq) VALUES (?, ?)',
    tls: (caFile) => `ssl-mode=VERIFY_IDENTITY&ssl-ca=${caFile}`,
  },
];

describe.each(ENGINES)('writer failover drill: Aurora $name (emulated), IAM on', (engine) => {
  let servers: Awaited<ReturnType<Engine['start']>>;
  let emulator: Emulator;
  let db: Database;
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);

  beforeAll(async () => {
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    servers = await engine.start();
    emulator = await startEmulator({
      credentials: [],
      cluster: {
        engine: engine.name,
        instances: [
          { id: 'db-1', upstream: servers.upstream(servers.primary) },
          { id: 'db-2', upstream: servers.upstream(servers.replica) },
        ],
      },
    });
    const cluster = emulator.cluster!;
    db = await createDatabase(
      {
        connections: {
          app: {
            driver: engine.name,
            dsn: `${engine.name === 'postgres' ? 'postgresql' : 'mysql'}://app_user@${cluster.clusterEndpoint}:${cluster.port}/dbmodule_test?${engine.tls(emulator.caFile)}`,
            aws_iam_auth: { enabled: true, max_connects_per_second: 1000 },
            max_open_connections: 20,
            connection_timeout: '3s',
            cluster: { topology_refresh: '1s', failover_refresh: '100ms', failover_timeout: '30s', instance_addresses: cluster.addressOf },
          },
        },
      },
      { logger: captureLogger().logger, credentials: credentialsSource(emulator, { now: () => Date.now() }).provider },
    );
    await db.connection().query('CREATE TABLE drill (writer int NOT NULL, seq int NOT NULL)');
  }, 180_000);

  afterAll(async () => {
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    await db?.close();
    await emulator?.close();
    await servers?.remove();
  });

  let round = 0;

  /** Writers and readers run until `stop` resolves; each insert is acknowledged, failed (not applied) or unknown. */
  async function underLoad(stop: Promise<unknown>): Promise<Outcome & { reads: number; ackedAt: number[] }> {
    const base = round++ * 1_000_000;
    const connection = db.connection();
    const outcome = { acknowledged: new Set<string>(), unknown: new Set<string>(), failed: new Map<string, number>(), ackedAt: [] as number[] };
    let running = true;
    void stop.finally(() => (running = false));
    let reads = 0;
    const writer = async (id: number) => {
      for (let seq = base; running; seq++) {
        const row = `${id}:${seq}`;
        try {
          await connection.query(engine.insert, [id, seq]);
          outcome.acknowledged.add(row);
          outcome.ackedAt.push(Date.now());
        } catch (error) {
          const code = error instanceof DbModuleError ? error.code : 'UNKNOWN';
          // an insert in flight when the writer went away may or may not have been applied; any other failure was not
          if (code === 'CONNECTION_LOST' && !(error as DbModuleError).retryable) outcome.unknown.add(row);
          outcome.failed.set(code, (outcome.failed.get(code) ?? 0) + 1);
        }
      }
    };
    const reader = async () => {
      while (running) {
        await connection.reader().query('SELECT count(*) FROM drill').then(() => reads++, () => {});
      }
    };
    await Promise.all([...Array.from({ length: WRITERS }, (_, i) => writer(i)), ...Array.from({ length: READERS }, reader)]);
    return { ...outcome, reads };
  }

  async function failOver(from: ReplicatedServer, to: ReplicatedServer, toId: string): Promise<{ completed: DatabaseEvents['failover.completed'][]; outcome: Outcome & { reads: number; ackedAt: number[] }; recoveryMs: number }> {
    const completed: DatabaseEvents['failover.completed'][] = [];
    const onCompleted = (event: DatabaseEvents['failover.completed']) => completed.push(event);
    db.on('failover.completed', onCompleted);
    try {
      let switchedAt = 0;
      const drill = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        ({ switchedAt } = await emulator.cluster!.failover({ to: toId, staleDnsMs: 2_000, ...engine.failover(from, to) }));
        await waitFor(() => completed.length > 0, 30_000);
        // load goes on after the new writer took over
        await new Promise((resolve) => setTimeout(resolve, 500));
      })();
      const outcome = await underLoad(drill);
      await drill;
      // from the topology naming the promoted writer to the first write it acknowledged
      const recoveryMs = Math.min(...outcome.ackedAt.filter((at) => at >= switchedAt)) - switchedAt;
      return { completed, outcome, recoveryMs };
    } finally {
      db.off('failover.completed', onCompleted);
    }
  }

  async function rowsOn(server: ReplicatedServer): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const row of await engine.rows(server)) counts.set(`${row.writer}:${row.seq}`, (counts.get(`${row.writer}:${row.seq}`) ?? 0) + 1);
    return counts;
  }

  function expectNothingLost(rows: Map<string, number>, outcome: Outcome): void {
    expect(outcome.acknowledged.size).toBeGreaterThan(100);
    for (const row of outcome.acknowledged) expect(rows.get(row), `acknowledged row ${row}`).toBe(1);
    for (const [row, count] of rows) {
      expect(count, `row ${row} present once`).toBe(1);
      expect(outcome.acknowledged.has(row) || outcome.unknown.has(row), `row ${row} was acknowledged or reported unknown`).toBe(true);
    }
  }

  it('fails over to the standby under load: every acknowledged row once, one failover.completed, no crash; and back again', async () => {
    const { primary, replica: standby } = servers;
    const first = await failOver(primary, standby, 'db-2');
    expect(first.completed).toHaveLength(1);
    expect(first.completed[0]).toMatchObject({ connection: 'app', from: 'db-1', to: 'db-2' });
    expect(db.connection().topology()?.writer?.id).toBe('db-2');
    expectNothingLost(await rowsOn(standby), first.outcome);
    expect(first.outcome.reads).toBeGreaterThan(0);

    const second = await failOver(standby, primary, 'db-1');
    expect(second.completed).toHaveLength(1);
    expect(second.completed[0]).toMatchObject({ from: 'db-2', to: 'db-1' });
    const all: Outcome = {
      acknowledged: new Set([...first.outcome.acknowledged, ...second.outcome.acknowledged]),
      unknown: new Set([...first.outcome.unknown, ...second.outcome.unknown]),
      failed: new Map(),
    };
    expectNothingLost(await rowsOn(primary), all);
    expect(crashes).toEqual([]);
    console.log(`[failover] drill ${engine.name}`, JSON.stringify({ first: { durationMs: first.completed[0]!.durationMs, recoveryMs: first.recoveryMs, failed: Object.fromEntries(first.outcome.failed) }, second: { durationMs: second.completed[0]!.durationMs, recoveryMs: second.recoveryMs, failed: Object.fromEntries(second.outcome.failed) } }));
  }, 180_000);
});
