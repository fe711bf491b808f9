// The failover drill (issue 13): an emulated Aurora cluster in front of a real PostgreSQL primary
// and streaming standby, or a real MariaDB primary and binlog replica; 16 writers inserting numbered rows (no unique key) and 16 readers, IAM
// on; every fourth writer inserts its rows in pairs, in a transaction. The writer fails over to the
// standby and back; nothing acknowledged may be lost or doubled, and no transaction half applied.
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { DbModuleError, TransactionError } from '../../src/errors.js';
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
  /** The row pairs of transactions whose outcome was reported unknown: each must be all there or not at all. */
  readonly unknownTransactions: Array<readonly [string, string]>;
}

interface Engine {
  readonly name: 'postgres' | 'mysql';
  /** The primary and its replica, with the upstream URL the emulator logs in with (a user read_only binds). */
  start(): Promise<{ primary: ReplicatedServer; replica: ReplicatedServer; upstream: (server: ReplicatedServer) => string; remove(): Promise<void> }>;
  failover(from: ReplicatedServer, to: ReplicatedServer): { promote(): Promise<void>; demote(): Promise<void> };
  rows(server: ReplicatedServer): Promise<Array<{ writer: number; seq: number; part: number }>>;
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
        return (await client.query<{ writer: number; seq: number; part: number }>('SELECT writer, seq, part FROM drill')).rows;
      } finally {
        await client.end();
      }
    },
    insert: 'INSERT INTO drill (writer, seq, part) VALUES ($1, $2, $3)',
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
        const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT writer, seq, part FROM drill');
        return rows.map((row) => ({ writer: Number(row.writer), seq: Number(row.seq), part: Number(row.part) }));
      } finally {
        await connection.end();
      }
    },
    insert: 'INSERT INTO drill (writer, seq, part) VALUES (?, ?, ?)',
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
    await db.connection().query('CREATE TABLE drill (writer int NOT NULL, seq int NOT NULL, part int NOT NULL)');
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
  /** The insert of `row`, tagged so the emulator can tell which instance each row's statement reached. */
  const insertOf = (row: string) => `/* drill ${row} */ ${engine.insert}`;

  /**
   * Writers and readers run until `stop` resolves; each insert is acknowledged, failed (not
   * applied) or unknown. `startedAfter` collects the rows whose statement (or transaction) was
   * issued once `issuedAfter()` became true.
   */
  async function underLoad(stop: Promise<unknown>, issuedAfter: () => boolean = () => false, startedAfter = new Set<string>()): Promise<Outcome & { reads: number; ackedAt: number[] }> {
    const base = round++ * 1_000_000;
    const connection = db.connection();
    const outcome = { acknowledged: new Set<string>(), unknown: new Set<string>(), failed: new Map<string, number>(), unknownTransactions: [] as Array<readonly [string, string]>, ackedAt: [] as number[] };
    let running = true;
    void stop.finally(() => (running = false));
    let reads = 0;
    const acknowledge = (...rows: string[]) => {
      for (const row of rows) outcome.acknowledged.add(row);
      outcome.ackedAt.push(Date.now());
    };
    const fail = (error: unknown) => {
      const code = error instanceof TransactionError ? `${error.code} (${error.outcome})` : error instanceof DbModuleError ? error.code : 'UNKNOWN';
      outcome.failed.set(code, (outcome.failed.get(code) ?? 0) + 1);
    };
    const writer = async (id: number) => {
      for (let seq = base; running; seq++) {
        const row = `${id}:${seq}:0`;
        if (issuedAfter()) startedAfter.add(row);
        try {
          await connection.query(insertOf(row), [id, seq, 0]);
          acknowledge(row);
        } catch (error) {
          // an insert in flight when the writer went away may or may not have been applied; any other failure was not
          if (error instanceof DbModuleError && error.code === 'CONNECTION_LOST' && !error.retryable) outcome.unknown.add(row);
          fail(error);
        }
      }
    };
    const transactionWriter = async (id: number) => {
      for (let seq = base; running; seq++) {
        const pair = [`${id}:${seq}:1`, `${id}:${seq}:2`] as const;
        if (issuedAfter()) for (const row of pair) startedAfter.add(row);
        try {
          await connection.transaction(async (tx) => {
            await tx.query(insertOf(pair[0]), [id, seq, 1]);
            await tx.query(insertOf(pair[1]), [id, seq, 2]);
          });
          acknowledge(...pair);
        } catch (error) {
          // only a COMMIT in flight leaves the outcome open; a transaction that failed otherwise was rolled back
          if (error instanceof TransactionError && error.outcome === 'unknown') {
            for (const row of pair) outcome.unknown.add(row);
            outcome.unknownTransactions.push(pair);
          }
          fail(error);
        }
      }
    };
    const reader = async () => {
      while (running) {
        await connection.reader().query('SELECT count(*) FROM drill').then(() => reads++, () => {});
      }
    };
    await Promise.all([...Array.from({ length: WRITERS }, (_, i) => (i % 4 === 0 ? transactionWriter(i) : writer(i))), ...Array.from({ length: READERS }, reader)]);
    return { ...outcome, reads };
  }

  interface Drill {
    /** The failover.completed events that moved the writer. */
    completed: DatabaseEvents['failover.completed'][];
    /** Failovers that ended on the writer they started from (it answered again). */
    checks: number;
    started: DatabaseEvents['failover.started'][];
    outcome: Outcome & { reads: number; ackedAt: number[] };
    recoveryMs: number;
    /** Rows whose insert was issued after failover.completed, and the rows whose insert reached the old writer. */
    issuedAfter: Set<string>;
    onOldWriter: Set<string>;
  }

  async function failOver(from: ReplicatedServer, to: ReplicatedServer, toId: string): Promise<Drill> {
    const fromId = db.connection().topology()!.writer!.id;
    const completed: DatabaseEvents['failover.completed'][] = [];
    const started: DatabaseEvents['failover.started'][] = [];
    const onCompleted = (event: DatabaseEvents['failover.completed']) => completed.push(event);
    const onStarted = (event: DatabaseEvents['failover.started']) => started.push(event);
    db.on('failover.completed', onCompleted);
    db.on('failover.started', onStarted);
    // a check that found the same writer answering again ends with to = from: it moved nothing
    const moved = () => completed.filter((event) => event.to !== event.from);
    const onOldWriter = new Set<string>();
    const stopWatching = emulator.cluster!.onStatement(({ instance, sql }) => {
      const row = /^\/\* drill (\S+) \*\//.exec(sql)?.[1];
      if (row && instance === fromId) onOldWriter.add(row);
    });
    try {
      let switchedAt = 0;
      const drill = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        ({ switchedAt } = await emulator.cluster!.failover({ to: toId, staleDnsMs: 2_000, ...engine.failover(from, to) }));
        await waitFor(() => moved().length > 0, 30_000);
        // load goes on after the new writer took over
        await new Promise((resolve) => setTimeout(resolve, 500));
      })();
      const issuedAfter = new Set<string>();
      const outcome = await underLoad(drill, () => moved().length > 0, issuedAfter);
      await drill;
      // from the topology naming the promoted writer to the first write it acknowledged
      const recoveryMs = Math.min(...outcome.ackedAt.filter((at) => at >= switchedAt)) - switchedAt;
      return { completed: moved(), checks: completed.length - moved().length, started, outcome, recoveryMs, issuedAfter, onOldWriter };
    } finally {
      stopWatching();
      db.off('failover.completed', onCompleted);
      db.off('failover.started', onStarted);
    }
  }

  /** Writes issued after failover.completed all went to the new writer (and the watcher did see writes on the old one before). */
  function expectNoWriteOnTheOldWriter(drill: Drill): void {
    expect(drill.onOldWriter.size).toBeGreaterThan(0);
    expect(drill.issuedAfter.size).toBeGreaterThan(0);
    expect([...drill.issuedAfter].filter((row) => drill.onOldWriter.has(row))).toEqual([]);
  }

  async function rowsOn(server: ReplicatedServer): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const { writer, seq, part } of await engine.rows(server)) {
      const row = `${writer}:${seq}:${part}`;
      counts.set(row, (counts.get(row) ?? 0) + 1);
    }
    return counts;
  }

  function expectNothingLost(rows: Map<string, number>, outcome: Outcome): void {
    // the load ran (on a starved machine a round may ack only a few dozen)
    expect(outcome.acknowledged.size).toBeGreaterThan(WRITERS);
    const missing = [...outcome.acknowledged].filter((row) => rows.get(row) === undefined);
    expect(missing.slice(0, 20), `${missing.length} of ${outcome.acknowledged.size} acknowledged rows missing (writer:seq:part)`).toEqual([]);
    for (const row of outcome.acknowledged) expect(rows.get(row), `acknowledged row ${row}`).toBe(1);
    for (const [row, count] of rows) {
      expect(count, `row ${row} present once`).toBe(1);
      expect(outcome.acknowledged.has(row) || outcome.unknown.has(row), `row ${row} was acknowledged or reported unknown`).toBe(true);
    }
    for (const [first, second] of outcome.unknownTransactions) expect(rows.has(first), `transaction ${first} applied whole or not at all`).toBe(rows.has(second));
  }

  it('fails over to the standby under load: every acknowledged row once, one failover.completed, no crash; and back again', async () => {
    const { primary, replica: standby } = servers;
    const first = await failOver(primary, standby, 'db-2');
    expectNoWriteOnTheOldWriter(first);
    expect(first.completed, JSON.stringify(first.started)).toHaveLength(1);
    expect(first.completed[0]).toMatchObject({ connection: 'app', from: 'db-1', to: 'db-2' });
    expect(db.connection().topology()?.writer?.id).toBe('db-2');
    expectNothingLost(await rowsOn(standby), first.outcome);
    expect(first.outcome.reads).toBeGreaterThan(0);

    const second = await failOver(standby, primary, 'db-1');
    expect(second.completed, JSON.stringify(second.started)).toHaveLength(1);
    expect(second.completed[0]).toMatchObject({ from: 'db-2', to: 'db-1' });
    expectNoWriteOnTheOldWriter(second);
    const all: Outcome = {
      acknowledged: new Set([...first.outcome.acknowledged, ...second.outcome.acknowledged]),
      unknown: new Set([...first.outcome.unknown, ...second.outcome.unknown]),
      failed: new Map(),
      unknownTransactions: [...first.outcome.unknownTransactions, ...second.outcome.unknownTransactions],
    };
    expectNothingLost(await rowsOn(primary), all);
    expect(crashes).toEqual([]);
    console.log(`[failover] drill ${engine.name}`, JSON.stringify({ first: { durationMs: first.completed[0]!.durationMs, recoveryMs: first.recoveryMs, checks: first.checks, failed: Object.fromEntries(first.outcome.failed) }, second: { durationMs: second.completed[0]!.durationMs, recoveryMs: second.recoveryMs, checks: second.checks, failed: Object.fromEntries(second.outcome.failed) } }));
  }, 180_000);
});
