/**
 * Writer failover on Aurora PostgreSQL (emulated): the emulator's cluster endpoints (IAM, TLS) in
 * front of a private PostgreSQL primary and streaming standby. 16 writers insert rows while
 * `cluster.failover()` stops the writer, promotes the standby, names it the writer (the cluster
 * endpoint's DNS stays stale for 2 s) and rebuilds the old primary as its standby; then the same
 * back. Per failover: from the topology naming the promoted writer (it accepts writes from then
 * on) to the first acknowledged write, and to every writer's; and the statements that failed.
 * dbmodule (`connection.query`) against the AWS Advanced NodeJS Wrapper (`AwsPGClient`, plugins
 * `iam,failover2`, one client per writer, the client its failover tests use), one after the other
 * against the same cluster.
 */

import { readFileSync } from 'node:fs';
import { createDatabase } from '../../src/index.js';
import { startEmulator, type EmulatedCluster, type Emulator } from '../../src/emulator/index.js';
import { DbModuleError } from '../../src/errors.js';
import { postgresFailover, startPostgresReplication, type ReplicatedServer } from '../../test/support/cluster/replication.js';
import { BENCH_CREDENTIALS, BENCH_REGION } from '../lib/aws.js';
import { runComparison } from '../lib/child.js';
import { installEndpointDns } from '../lib/endpoint-dns.js';
import { integer, mark } from '../lib/format.js';
import type { MarkdownTable, TargetCheck } from '../lib/result.js';
import { roundSummary, summarize, type Summary } from '../lib/stats.js';

const WRITERS = 16;
/** The IAM user in the DSN; the emulator logs in upstream as its instances' URLs say. */
const USER = 'app_user';
const STALE_DNS_MS = 2_000;
/** Load before each failover, and after every writer is back. */
const SETTLE_MS = 500;
const RECOVERY_TIMEOUT_MS = 60_000;

/** What each contender gives the writers: one insert as writer `writer` sends it. */
interface FailoverContender {
  readonly name: 'dbmodule' | 'wrapper';
  insert(writer: number, seq: number): Promise<unknown>;
  close(): Promise<void>;
}

interface FailoverResult {
  readonly contender: FailoverContender['name'];
  readonly direction: 'there' | 'back';
  /** From the topology naming the new writer to the first acknowledged write, and to the last writer's first. */
  readonly firstWriteMs: number;
  readonly everyWriterMs: number;
  readonly failed: number;
  /** Failures by error (`code`, or the wrapper's error class). */
  readonly failures: Record<string, number>;
  readonly acknowledged: number;
}

runComparison(async (profile) => {
  const servers = await startPostgresReplication({ standbys: 1 });
  const results: FailoverResult[] = [];
  let emulator: Emulator | undefined;
  try {
    await createTable(servers.primary);
    await servers.waitForReplay();
    emulator = await startEmulator({
      credentials: [BENCH_CREDENTIALS],
      cluster: {
        engine: 'postgres',
        instances: [
          { id: 'db-1', upstream: upstreamOf(servers.primary) },
          { id: 'db-2', upstream: upstreamOf(servers.standbys[0]!) },
        ],
      },
    });
    const cluster = emulator.cluster!;
    const opened = { dbmodule: () => openDbmodule(emulator!, cluster), wrapper: () => openWrapper(emulator!, cluster) };
    const uninstall = installEndpointDns(cluster.addressOf);
    try {
      for (let round = 0; round < profile.failoverRounds; round++) {
        for (const name of ['dbmodule', 'wrapper'] as const) {
          const contender = await opened[name]();
          try {
            results.push(await failOver(contender, cluster, 'there', servers.primary, servers.standbys[0]!));
            results.push(await failOver(contender, cluster, 'back', servers.standbys[0]!, servers.primary));
          } finally {
            await contender.close();
          }
        }
      }
    } finally {
      uninstall();
    }
  } finally {
    await emulator?.close();
    await servers.remove();
  }
  const summaries = summarizeAll(results);
  return {
    name: 'failover',
    title: 'Writer failover, Aurora PostgreSQL (emulated): dbmodule vs the AWS wrapper',
    method:
      `The emulator's Aurora endpoints (IAM tokens, TLS) in front of a private PostgreSQL 15 primary and streaming standby on this machine. ${WRITERS} writers insert rows in a closed loop; ` +
      'emulator.cluster.failover() stops the writer (its sessions reset, connections refused), waits for the standby to replay everything and promotes it, names it the writer in the topology ' +
      `(the cluster endpoint resolves to the old writer for another ${STALE_DNS_MS / 1000} s), rebuilds the old primary as its standby (pg_basebackup -R) and brings it back as a reader; then the same back. ` +
      'Times run from the moment the topology names the promoted writer, which accepts writes from then on. A failed statement is counted and the writer goes on with its next row (the wrapper asks the application to re-run a statement after FailoverSuccessError). ' +
      `dbmodule: connection.query, a pool of ${WRITERS}, defaults (topology_refresh 30s, failover_refresh 100ms). The wrapper 2.0.1: one AwsPGClient per writer, plugins 'iam,failover2', defaults (clusterTopologyRefreshRateMs 30000, clusterTopologyHighRefreshRateMs 100); ` +
      'it dials the RDS names itself, so the benchmark answers its DNS with the emulator\'s addresses (bench/lib/endpoint-dns.ts). ' +
      `${profile.failoverRounds} round(s) per contender, each a failover there and one back, contenders alternating.`,
    tables: [table(summaries)],
    checks: checks(summaries),
    findings: [],
    data: { results, summaries },
  };
});

// --- contenders ---

async function openDbmodule(emulator: Emulator, cluster: EmulatedCluster): Promise<FailoverContender> {
  const db = await createDatabase(
    {
      connections: {
        bench: {
          driver: 'postgres',
          dsn: `postgresql://${USER}@${cluster.clusterEndpoint}:${cluster.port}/dbmodule_test?sslmode=verify-full&sslrootcert=${encodeURIComponent(emulator.caFile)}`,
          aws_iam_auth: { enabled: true, max_connects_per_second: 1000 },
          max_open_connections: WRITERS,
          cluster: { failover_timeout: '30s', instance_addresses: cluster.addressOf },
        },
      },
    },
    { credentials: BENCH_CREDENTIALS, logger: silent },
  );
  const connection = db.connection();
  await connection.ping();
  return {
    name: 'dbmodule',
    insert: (writer, seq) => connection.query('INSERT INTO bench_failover (writer, seq) VALUES ($1, $2)', [writer, seq]),
    close: () => db.close(),
  };
}

async function openWrapper(emulator: Emulator, cluster: EmulatedCluster): Promise<FailoverContender> {
  const { AwsPGClient } = await import('aws-advanced-nodejs-wrapper/pg');
  const ca = readFileSync(emulator.caFile, 'utf8');
  const clients = Array.from(
    { length: WRITERS },
    () =>
      new AwsPGClient({
        host: cluster.clusterEndpoint,
        port: cluster.port,
        user: USER,
        database: 'dbmodule_test',
        plugins: 'iam,failover2',
        iamRegion: BENCH_REGION,
        ssl: { ca },
        failoverTimeoutMs: 30_000,
        customAwsCredentialProviderHandler: { getAwsCredentialsProvider: () => async () => BENCH_CREDENTIALS },
      }),
  );
  await Promise.all(clients.map((client) => client.connect()));
  return {
    name: 'wrapper',
    insert: (writer, seq) => clients[writer]!.query('INSERT INTO bench_failover (writer, seq) VALUES ($1, $2)', [writer, seq]),
    close: async () => {
      await Promise.all(clients.map((client) => client.end().catch(() => {})));
    },
  };
}

// --- one failover under load ---

async function failOver(contender: FailoverContender, cluster: EmulatedCluster, direction: FailoverResult['direction'], from: ReplicatedServer, to: ReplicatedServer): Promise<FailoverResult> {
  const toId = direction === 'there' ? 'db-2' : 'db-1';
  // the switch is known only once failover() returns: every acknowledgement is kept until then
  let switchedAt: number | undefined;
  const acknowledgedAt: number[][] = Array.from({ length: WRITERS }, () => []);
  /** Each writer's first acknowledgement after the switch (epoch ms). */
  const firstAfter = (id: number): number | undefined => acknowledgedAt[id]!.find((at) => switchedAt !== undefined && at >= switchedAt);
  const failures: Record<string, number> = {};
  let acknowledged = 0;
  let running = true;
  const writer = async (id: number) => {
    for (let seq = 0; running; seq++) {
      try {
        await contender.insert(id, seq);
        acknowledged++;
        acknowledgedAt[id]!.push(Date.now());
      } catch (error) {
        const kind = error instanceof DbModuleError ? error.code : error instanceof Error ? error.constructor.name : 'unknown';
        failures[kind] = (failures[kind] ?? 0) + 1;
      }
    }
  };
  const load = Promise.all(Array.from({ length: WRITERS }, (_, id) => writer(id)));
  try {
    await delay(SETTLE_MS);
    ({ switchedAt } = await cluster.failover({ to: toId, staleDnsMs: STALE_DNS_MS, ...postgresFailover(from, to) }));
    const deadline = Date.now() + RECOVERY_TIMEOUT_MS;
    const writers = [...acknowledgedAt.keys()];
    while (writers.some((id) => firstAfter(id) === undefined) && Date.now() < deadline) await delay(20);
    await delay(SETTLE_MS);
  } finally {
    running = false;
    await load;
  }
  const back = acknowledgedAt.map((_, id) => {
    const at = firstAfter(id);
    return at === undefined || switchedAt === undefined ? RECOVERY_TIMEOUT_MS : at - switchedAt;
  });
  return {
    contender: contender.name,
    direction,
    firstWriteMs: Math.min(...back),
    everyWriterMs: Math.max(...back),
    failed: Object.values(failures).reduce((sum, n) => sum + n, 0),
    failures,
    acknowledged,
  };
}

// --- results ---

interface ContenderSummary {
  readonly contender: FailoverContender['name'];
  readonly label: string;
  readonly failovers: number;
  readonly firstWriteMs: Summary;
  readonly everyWriterMs: Summary;
  readonly failedPerFailover: Summary;
  readonly failures: Record<string, number>;
}

const LABELS: Record<FailoverContender['name'], string> = {
  dbmodule: 'dbmodule connection.query',
  wrapper: "wrapper AwsPGClient (plugins 'iam,failover2')",
};

function summarizeAll(results: readonly FailoverResult[]): ContenderSummary[] {
  return (['dbmodule', 'wrapper'] as const).map((contender) => {
    const mine = results.filter((result) => result.contender === contender);
    const failures: Record<string, number> = {};
    for (const result of mine) for (const [kind, n] of Object.entries(result.failures)) failures[kind] = (failures[kind] ?? 0) + n;
    return {
      contender,
      label: LABELS[contender],
      failovers: mine.length,
      firstWriteMs: roundSummary(summarize(mine.map((result) => result.firstWriteMs)), 0),
      everyWriterMs: roundSummary(summarize(mine.map((result) => result.everyWriterMs)), 0),
      failedPerFailover: roundSummary(summarize(mine.map((result) => result.failed)), 1),
      failures,
    };
  });
}

function range(summary: Summary): string {
  return `${integer(summary.median)} (${integer(summary.min)}–${integer(summary.max)})`;
}

function table(summaries: readonly ContenderSummary[]): MarkdownTable {
  return {
    title: 'Per failover: median (min–max)',
    columns: ['contender', 'failovers', 'new writer named → first acknowledged write, ms', '→ every writer’s, ms', 'failed statements', 'failures by kind (all failovers)'],
    rows: summaries.map((s) => [
      s.label,
      String(s.failovers),
      range(s.firstWriteMs),
      range(s.everyWriterMs),
      range(s.failedPerFailover),
      Object.entries(s.failures)
        .map(([kind, n]) => `${kind} ${n}`)
        .join(', ') || 'none',
    ]),
  };
}

function checks(summaries: readonly ContenderSummary[]): TargetCheck[] {
  const [dbmodule, wrapper] = summaries as [ContenderSummary, ContenderSummary];
  const first = dbmodule.firstWriteMs.median;
  const ahead = first < wrapper.firstWriteMs.median && dbmodule.everyWriterMs.median < wrapper.everyWriterMs.median;
  return [
    {
      target: 'dbmodule writes again ≤ 1 s after the new writer accepts (median)',
      passed: first <= 1000,
      detail: `${mark(first <= 1000)}: first acknowledged write after ${integer(first)} ms, every writer's after ${integer(dbmodule.everyWriterMs.median)} ms`,
    },
    {
      target: 'dbmodule writes again sooner than the wrapper (median, first write and every writer)',
      passed: ahead,
      detail: `${mark(ahead)}: ${integer(first)} vs ${integer(wrapper.firstWriteMs.median)} ms, every writer ${integer(dbmodule.everyWriterMs.median)} vs ${integer(wrapper.everyWriterMs.median)} ms`,
    },
  ];
}

// --- setup ---

function upstreamOf(server: ReplicatedServer): string {
  return server.dsn.replace('?sslmode=disable', '');
}

async function createTable(primary: ReplicatedServer): Promise<void> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: primary.dsn });
  await client.connect();
  try {
    await client.query('CREATE TABLE bench_failover (writer int NOT NULL, seq int NOT NULL)');
  } finally {
    await client.end();
  }
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
