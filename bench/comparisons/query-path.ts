/**
 * Query path on one engine (`postgres` or `mysql` as argument): the bare driver pool vs
 * `connection.query` vs `connection.pool` vs the wrapper's pool client, for `SELECT 1` and a
 * primary-key lookup, at concurrency 1 and 32 with pools of 10; directly (wrapper IAM plugin off)
 * and through the local RDS IAM endpoint (every contender authenticating with IAM over TLS).
 */

import { wrapperMysqlIamAsDocumented } from '../contenders/mysql.js';
import type { Route } from '../contenders/target.js';
import { IAM_USER_PREFIX, rdsHostname, useBenchCredentialsInEnv } from '../lib/aws.js';
import { runComparison } from '../lib/child.js';
import { CONCURRENCIES, WORKLOADS, type ContenderKind, type Workload } from '../lib/contender-protocol.js';
import { ensureBenchTable, upstreamUrl, type Engine } from '../lib/databases.js';
import { startEmulatorProcess } from '../lib/emulator-host.js';
import { integer, ms, ratioCell } from '../lib/format.js';
import type { MarkdownTable, TargetCheck, ThroughputStats } from '../lib/result.js';
import { queryRounds } from '../lib/profile.js';
import { openRemoteContender, workloadContender, type RemoteContender } from '../lib/remote-contender.js';
import { compareThroughput } from '../lib/rounds.js';

// dbmodule-query-unchecked: what check_idle_sessions costs, beside the default (no target of its own)
const CONTENDERS: readonly ContenderKind[] = ['bare', 'dbmodule-query', 'dbmodule-query-unchecked', 'dbmodule-pool', 'wrapper'];
type RouteName = 'direct' | 'iam';

interface CaseResult {
  route: RouteName;
  workload: Workload;
  concurrency: number;
  contenders: ThroughputStats[];
  /** A second measurement of a cell whose first one missed a target: missed only if both miss. */
  recheck?: ThroughputStats[];
}

const ENGINE_LABEL: Record<Engine, string> = { postgres: 'PostgreSQL', mysql: 'MariaDB' };

runComparison(async (profile, args) => {
  const engine: Engine = args.includes('mysql') ? 'mysql' : 'postgres';
  await ensureBenchTable(engine);
  useBenchCredentialsInEnv();
  const signingHost = rdsHostname('query');
  const signingPort = engine === 'postgres' ? 5432 : 3306;
  const endpoint = { upstream: upstreamUrl(engine), advertisedPort: signingPort };
  const emulator = await startEmulatorProcess({ hostnames: ['localhost', signingHost], ...(engine === 'postgres' ? { postgres: endpoint } : { mysql: endpoint }) });
  const port = engine === 'postgres' ? emulator.postgresPort : emulator.mysqlPort;
  const routes: Record<RouteName, Route> = {
    direct: { kind: 'direct' },
    iam: { kind: 'iam', port: port!, caFile: emulator.caFile, caPem: emulator.caPem, signingHost, signingPort, user: `${IAM_USER_PREFIX}_query` },
  };
  const findings: string[] = [];
  let listenerWarnings = 0;
  if (engine === 'mysql') {
    // Before any other wrapper pool exists: ending a wrapper pool client ends every one of them.
    const failure = await wrapperMysqlIamAsDocumented({ ...(routes.iam as Extract<Route, { kind: 'iam' }>), user: `${IAM_USER_PREFIX}_probe` });
    findings.push(
      failure === undefined
        ? "The wrapper's MySQL IAM login worked without enableCleartextPlugin."
        : `The wrapper's MySQL IAM login as documented (plugins 'iam', no enableCleartextPlugin) fails with mysql2 3.x: "${failure.slice(0, 160)}…"; it is measured here with enableCleartextPlugin: true (fixed upstream after 2.0.1, PR #693).`,
    );
  }
  const cases: CaseResult[] = [];
  try {
    for (const routeName of ['direct', 'iam'] as const) {
      const targets = await openTargets(engine, routes[routeName], profile.contenderWarmupMs);
      try {
        const measure = (workload: Workload, concurrency: number): Promise<ThroughputStats[]> =>
          compareThroughput({
            contenders: targets.map((target) => workloadContender(target, target.name, target.label, workload)),
            baseline: 'bare',
            concurrency,
            ...queryRounds(profile),
          });
        const routeCases: CaseResult[] = [];
        for (const workload of WORKLOADS) {
          for (const concurrency of CONCURRENCIES) routeCases.push({ route: routeName, workload, concurrency, contenders: await measure(workload, concurrency) });
        }
        // A cell that missed is measured once more, after the others, before it is called missed.
        for (const c of routeCases) {
          if (DBMODULE.some((name) => !meetsTargets(stat(c.contenders, name)))) c.recheck = await measure(c.workload, c.concurrency);
        }
        cases.push(...routeCases);
      } finally {
        for (const target of targets) listenerWarnings += await target.close().catch(() => 0);
      }
    }
  } finally {
    await emulator.close();
  }

  return {
    name: `query-path-${engine}`,
    title: `Query path, ${ENGINE_LABEL[engine]}`,
    method:
      `Closed loop at concurrency 1 and 32, pools of 10, ${profile.queryRounds} rounds; in each round every contender runs ${profile.querySlices} slices of ${profile.querySliceMs / profile.querySlices} ms, ` +
      'alternating with the others (order rotated each slice); ratios are per round against the bare pool of the same route. ' +
      'A cell where dbmodule missed a target is measured once more after the others (rows marked "rerun"); it counts as missed only when both runs miss. ' +
      'Each contender runs in a process of its own (one pool per process, as in an application), driven slice by slice by the comparison. ' +
      `"direct": straight to the server, wrapper with plugins ''. "iam": through the local RDS IAM endpoint (TLS verify-full, a token per new session), wrapper with plugins 'iam'.`,
    tables: (['direct', 'iam'] as const).map((route) => table(engine, route, cases)),
    checks: checks(engine, cases),
    findings: [
      ...findings,
      ...(listenerWarnings > 0
        ? [`The wrapper's pool client made node print ${listenerWarnings} MaxListenersExceededWarning(s) during the run: it adds an 'error' listener to the pooled session on every query and never removes it (issue #598).`]
        : []),
    ],
    data: { engine, cases },
  };
});

/**
 * Each contender in a process of its own (see processes/contender.ts), opened one after the
 * other: the wrapper keeps pools in static state and must not race its own set-up.
 */
async function openTargets(engine: Engine, route: Route, warmupMs: number): Promise<RemoteContender[]> {
  const targets: RemoteContender[] = [];
  try {
    for (const kind of CONTENDERS) targets.push(await openRemoteContender(engine, route, kind, warmupMs));
  } catch (error) {
    for (const target of targets) await target.close().catch(() => 0);
    throw error;
  }
  return targets;
}

function table(engine: Engine, route: RouteName, cases: readonly CaseResult[]): MarkdownTable {
  const row = (c: CaseResult, s: ThroughputStats, run: string): string[] => [
    c.workload === 'select1' ? 'SELECT 1' : 'PK lookup',
    String(c.concurrency),
    `${s.label}${run}`,
    integer(s.opsPerSecond.median),
    s.name === 'bare' ? '1' : ratioCell(s.throughputRatio),
    ms(s.p50Ms),
    ms(s.p99Ms),
    s.name === 'bare' ? '1' : ratioCell(s.p99Ratio),
    `${s.cpuMicrosPerOp.median.toFixed(1)} µs`,
  ];
  const rows = cases
    .filter((c) => c.route === route)
    .flatMap((c) => [...c.contenders.map((s) => row(c, s, '')), ...(c.recheck ?? []).map((s) => row(c, s, ' (rerun)'))]);
  return {
    title: `${ENGINE_LABEL[engine]}, ${route === 'direct' ? 'direct (no IAM)' : 'through the RDS IAM endpoint (IAM + TLS)'}`,
    columns: ['workload', 'conc.', 'contender', 'ops/s (median)', 'throughput vs bare: median (IQR)', 'p50', 'p99', 'p99 vs bare: median (IQR)', 'client CPU/op'],
    rows,
  };
}

const DBMODULE = ['dbmodule-query', 'dbmodule-pool'] as const;
const THROUGHPUT_TARGET = 0.97;
const P99_TARGET = 1.05;

function stat(stats: readonly ThroughputStats[], name: string): ThroughputStats {
  return stats.find((s) => s.name === name)!;
}

function meetsTargets(s: ThroughputStats): boolean {
  return s.throughputRatio.median >= THROUGHPUT_TARGET && s.p99Ratio.median <= P99_TARGET;
}

/** "first run; rerun" when the cell was measured twice. */
function bothRuns(first: ThroughputStats, again: ThroughputStats | undefined, describe: (s: ThroughputStats) => string): string {
  return again === undefined ? describe(first) : `${describe(first)}; rerun ${describe(again)}`;
}

function checks(engine: Engine, cases: readonly CaseResult[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const c of cases) {
    const where = `${ENGINE_LABEL[engine]} ${c.route} ${c.workload} c=${c.concurrency}`;
    const wrapper = stat(c.contenders, 'wrapper');
    for (const name of DBMODULE) {
      const s = stat(c.contenders, name);
      const again = c.recheck && stat(c.recheck, name);
      const runs = again ? [s, again] : [s];
      out.push({
        target: `${where}: ${s.label} throughput >= ${THROUGHPUT_TARGET}x bare`,
        passed: runs.some((r) => r.throughputRatio.median >= THROUGHPUT_TARGET),
        detail: bothRuns(s, again, (r) => `median ratio ${r.throughputRatio.median.toFixed(3)} (IQR ${r.throughputRatio.p25.toFixed(3)}–${r.throughputRatio.p75.toFixed(3)})`),
      });
      out.push({
        target: `${where}: ${s.label} p99 within 5% of bare`,
        passed: runs.some((r) => r.p99Ratio.median <= P99_TARGET),
        detail: bothRuns(s, again, (r) => `median p99 ratio ${r.p99Ratio.median.toFixed(3)} (IQR ${r.p99Ratio.p25.toFixed(3)}–${r.p99Ratio.p75.toFixed(3)})`),
      });
      out.push({
        target: `${where}: ${s.label} faster than the wrapper`,
        passed: s.throughputRatio.median > wrapper.throughputRatio.median,
        detail: `${s.throughputRatio.median.toFixed(3)}x vs wrapper ${wrapper.throughputRatio.median.toFixed(3)}x of bare`,
      });
    }
  }
  return out;
}

