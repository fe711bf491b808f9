/**
 * Reads and the writer's query path on a PostgreSQL cluster: a private primary and a streaming
 * standby (pg_basebackup -R), the primary answering Aurora's topology function from a table.
 * - reads: `reader().query` (routed to the standby by the topology) vs a bare pg.Pool on the standby;
 * - the writer: `connection.query` while the topology is refreshed every 100 ms (300 times the
 *   default rate, so a cost would show) vs `connection.query` without a cluster, both vs a bare
 *   pg.Pool on the primary.
 */

import pg from 'pg';
import type { Route } from '../contenders/target.js';
import { runComparison } from '../lib/child.js';
import { CONCURRENCIES, WORKLOADS, type ContenderKind, type Workload } from '../lib/contender-protocol.js';
import { ensureBenchTable } from '../lib/databases.js';
import { integer, ms, ratioCell } from '../lib/format.js';
import type { MarkdownTable, TargetCheck, ThroughputStats } from '../lib/result.js';
import { queryRounds } from '../lib/profile.js';
import { openRemoteContender, workloadContender, type RemoteContender } from '../lib/remote-contender.js';
import { compareThroughput } from '../lib/rounds.js';
import { startPostgresReplication } from '../../test/support/cluster/replication.js';

const PATTERN = '?.bench.us-east-1.rds.amazonaws.com';
const endpoint = (id: string) => PATTERN.replace('?', id);

interface Contender {
  readonly kind: ContenderKind;
  readonly route: Route;
  /** Shown instead of the contender's own label. */
  readonly label?: string;
}

interface Case {
  readonly part: 'reads' | 'writer';
  readonly workload: Workload;
  readonly concurrency: number;
  readonly stats: ThroughputStats[];
}

runComparison(async (profile) => {
  const servers = await startPostgresReplication();
  const cases: Case[] = [];
  try {
    await ensureBenchTable('postgres', servers.primary.dsn);
    await installAuroraTopology(servers.primary.dsn);
    await servers.waitForReplay();
    const standby = servers.standbys[0]!;
    const cluster = (refresh: string) => ({
      cluster: {
        enabled: true,
        instance_host_pattern: PATTERN,
        topology_refresh: refresh,
        instance_addresses: { [endpoint('db-1')]: `127.0.0.1:${servers.primary.port}`, [endpoint('db-2')]: `127.0.0.1:${standby.port}` },
      },
    });
    const parts: Record<Case['part'], Contender[]> = {
      reads: [
        { kind: 'bare', route: { kind: 'direct', url: standby.dsn }, label: 'pg.Pool on the standby' },
        { kind: 'dbmodule-reader', route: { kind: 'direct', url: servers.primary.dsn, connection: cluster('30s') } },
      ],
      writer: [
        { kind: 'bare', route: { kind: 'direct', url: servers.primary.dsn }, label: 'pg.Pool on the primary' },
        { kind: 'dbmodule-query', route: { kind: 'direct', url: servers.primary.dsn }, label: 'connection.query, no cluster' },
        { kind: 'dbmodule-query', route: { kind: 'direct', url: servers.primary.dsn, connection: cluster('100ms') }, label: 'connection.query, topology refresh every 100 ms' },
      ],
    };
    for (const part of ['reads', 'writer'] as const) {
      const targets = await openAll(parts[part], profile.contenderWarmupMs);
      try {
        for (const workload of WORKLOADS) {
          for (const concurrency of CONCURRENCIES) {
            const stats = await compareThroughput({
              contenders: targets.map(({ target, name, label }) => workloadContender(target, name, label, workload)),
              baseline: 'bare',
              concurrency,
              ...queryRounds(profile),
            });
            cases.push({ part, workload, concurrency, stats });
          }
        }
      } finally {
        for (const { target } of targets) await target.close().catch(() => 0);
      }
    }
  } finally {
    await servers.remove();
  }
  return {
    name: 'cluster-reads',
    title: 'Cluster reads and the topology monitor, PostgreSQL',
    method:
      'A private PostgreSQL 15 primary and a streaming standby on this machine; the primary answers pg_catalog.aurora_replica_status() from a table (db-1 writer, db-2 reader), ' +
      'and instance_addresses maps the instance endpoints to the two servers. Closed loop at concurrency 1 and 32, pools of 10, each contender in its own process, ' +
      `${profile.queryRounds} rounds of interleaved slices; ratios per round against the bare pg.Pool on the same server.`,
    tables: [table(cases, 'reads', 'Reads: reader().query vs pg.Pool on the standby'), table(cases, 'writer', 'The writer: connection.query with and without a topology refresh every 100 ms')],
    checks: checks(cases),
    findings: [],
    data: { cases },
  };
});

/** Each contender in its own process, opened one after the other. */
async function openAll(contenders: readonly Contender[], warmupMs: number): Promise<Array<{ target: RemoteContender; name: string; label: string }>> {
  const opened: Array<{ target: RemoteContender; name: string; label: string }> = [];
  try {
    for (const [index, contender] of contenders.entries()) {
      const target = await openRemoteContender('postgres', contender.route, contender.kind, warmupMs);
      // two dbmodule-query contenders in one part: the name must tell them apart
      opened.push({ target, name: contender.kind === 'bare' ? 'bare' : `${contender.kind}-${index}`, label: contender.label ?? target.label });
    }
  } catch (error) {
    for (const { target } of opened) await target.close().catch(() => 0);
    throw error;
  }
  return opened;
}

/** Aurora's topology function as the real one answers, from a table on the primary. */
async function installAuroraTopology(dsn: string): Promise<void> {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS bench_replica_status (server_id text PRIMARY KEY, session_id text NOT NULL, replica_lag_in_msec double precision, last_update_timestamp timestamptz DEFAULT now());
      INSERT INTO bench_replica_status (server_id, session_id, replica_lag_in_msec) VALUES ('db-1', 'MASTER_SESSION_ID', NULL), ('db-2', 'reader-db-2', 0) ON CONFLICT DO NOTHING;
      CREATE OR REPLACE FUNCTION pg_catalog.aurora_replica_status()
        RETURNS TABLE (server_id text, session_id text, replica_lag_in_msec double precision, last_update_timestamp timestamptz)
        LANGUAGE sql STABLE AS $$ SELECT server_id, session_id, replica_lag_in_msec, now() FROM public.bench_replica_status $$;`);
  } finally {
    await client.end();
  }
}

function table(cases: readonly Case[], part: Case['part'], title: string): MarkdownTable {
  return {
    title,
    columns: ['workload', 'conc.', 'contender', 'ops/s (median)', 'throughput vs bare: median (IQR)', 'p50', 'p99', 'p99 vs bare: median (IQR)', 'client CPU/op'],
    rows: cases
      .filter((c) => c.part === part)
      .flatMap((c) =>
        c.stats.map((s) => [
          c.workload === 'select1' ? 'SELECT 1' : 'PK lookup',
          String(c.concurrency),
          s.label,
          integer(s.opsPerSecond.median),
          s.name === 'bare' ? '1' : ratioCell(s.throughputRatio),
          ms(s.p50Ms),
          ms(s.p99Ms),
          s.name === 'bare' ? '1' : ratioCell(s.p99Ratio),
          `${s.cpuMicrosPerOp.median.toFixed(1)} µs`,
        ]),
      ),
  };
}

function checks(cases: readonly Case[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const c of cases) {
    const where = `${c.workload} c=${c.concurrency}`;
    if (c.part === 'reads') {
      const reader = c.stats.find((s) => s.name.startsWith('dbmodule-reader'))!;
      out.push({
        target: `cluster reads ${where}: reader().query throughput >= 0.97x a bare pool on the standby`,
        passed: reader.throughputRatio.median >= 0.97,
        detail: `median ratio ${reader.throughputRatio.median.toFixed(3)} (IQR ${reader.throughputRatio.p25.toFixed(3)}–${reader.throughputRatio.p75.toFixed(3)})`,
      });
    } else {
      const [plain, refreshing] = c.stats.filter((s) => s.name.startsWith('dbmodule-query'));
      if (!plain || !refreshing) continue;
      const ratio = refreshing.throughputRatio.median / plain.throughputRatio.median;
      out.push({
        target: `cluster writer ${where}: a topology refresh every 100 ms costs no measurable throughput (>= 0.97x of no cluster)`,
        passed: ratio >= 0.97,
        detail: `${refreshing.throughputRatio.median.toFixed(3)}x vs ${plain.throughputRatio.median.toFixed(3)}x of bare: ${ratio.toFixed(3)}`,
      });
    }
  }
  return out;
}
