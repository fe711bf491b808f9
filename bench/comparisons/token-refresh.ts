/**
 * Over a token refresh: p99 query latency in a window with a token refresh in its middle vs a
 * window without one, on an IAM connection through the local RDS IAM endpoint, under steady load
 * (32 callers, pool of 10) with the pool replacing one session every 100 ms so that new sessions
 * ask for tokens throughout. A fake clock (shared with the endpoint) jumps to half a window
 * before the refresh is due; the refresh then happens on real time, in the middle of the window.
 */

import type { Pool as PgPool } from 'pg';
import type { Pool as MysqlPool, PoolConnection } from 'mysql2';
import type { Connection, Database } from '../../src/index.js';
import { openDbmodule } from '../contenders/dbmodule.js';
import type { Route } from '../contenders/target.js';
import { IAM_USER_PREFIX, rdsHostname, useBenchCredentialsInEnv } from '../lib/aws.js';
import { runComparison } from '../lib/child.js';
import { BENCH_ROWS, ensureBenchTable, lookupSql, upstreamUrl, type Engine } from '../lib/databases.js';
import { startEmulatorProcess, type EmulatorProcess } from '../lib/emulator-host.js';
import { mark, ms, ratioCell } from '../lib/format.js';
import { keySequence, runClosedLoop, type LoadResult } from '../lib/load.js';
import type { MarkdownTable, TargetCheck } from '../lib/result.js';
import { collectGarbage } from '../lib/rounds.js';
import { quantile, roundSummary, summarize } from '../lib/stats.js';

const CONCURRENCY = 32;
const CHURN_EVERY_MS = 100;
type WindowKind = 'quiet' | 'refresh';

interface WindowResult {
  kind: WindowKind;
  p50Ms: number;
  p99Ms: number;
  ops: number;
  signings: number;
  /** When the refresh landed, in ms from the window's start (refresh windows). */
  refreshedAtMs: number | undefined;
  sessionsReplaced: number;
}

/** A clock running `offset` ms ahead of the system clock. */
class ShiftedClock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

runComparison(async (profile) => {
  useBenchCredentialsInEnv();
  const rounds: Record<Engine, WindowResult[][]> = { postgres: [], mysql: [] };
  for (const engine of ['postgres', 'mysql'] as const) {
    await ensureBenchTable(engine);
    const signingHost = rdsHostname(`refresh-${engine}`);
    const signingPort = engine === 'postgres' ? 5432 : 3306;
    const endpoint = { upstream: upstreamUrl(engine), advertisedPort: signingPort };
    const emulator = await startEmulatorProcess({ hostnames: ['localhost', signingHost], ...(engine === 'postgres' ? { postgres: endpoint } : { mysql: endpoint }) });
    try {
      for (let round = 0; round < profile.refreshRounds; round++) {
        const route: Route = {
          kind: 'iam',
          port: (engine === 'postgres' ? emulator.postgresPort : emulator.mysqlPort)!,
          caFile: emulator.caFile,
          caPem: emulator.caPem,
          signingHost,
          signingPort,
          user: `${IAM_USER_PREFIX}_refresh_${round}`,
        };
        const order: WindowKind[] = round % 2 === 0 ? ['quiet', 'refresh'] : ['refresh', 'quiet'];
        rounds[engine].push(await measureRound(engine, route, emulator, order, profile.refreshWindowMs));
      }
    } finally {
      await emulator.close();
    }
  }

  const checks: TargetCheck[] = [];
  const tables: MarkdownTable[] = [];
  const data: Record<string, unknown> = {};
  for (const engine of ['postgres', 'mysql'] as const) {
    const windows = rounds[engine];
    const ratios = windows.map((w) => byKind(w, 'refresh').p99Ms / byKind(w, 'quiet').p99Ms);
    const ratio = roundSummary(summarize(ratios));
    const refreshSignings = windows.map((w) => byKind(w, 'refresh').signings);
    const quietSignings = windows.map((w) => byKind(w, 'quiet').signings);
    const name = engine === 'postgres' ? 'PostgreSQL' : 'MariaDB';
    checks.push({
      target: `${name}: one signing per refresh window at concurrency ${CONCURRENCY}`,
      passed: refreshSignings.every((n) => n === 1) && quietSignings.every((n) => n === 0),
      detail: `refresh windows signed ${refreshSignings.join(', ')}; quiet windows ${quietSignings.join(', ')}`,
    });
    checks.push({
      target: `${name}: no visible p99 change across a refresh (median ratio <= 1.10)`,
      passed: ratio.median <= 1.1,
      detail: `p99 refresh/quiet per round: ${ratios.map((r) => r.toFixed(3)).join(', ')}`,
    });
    tables.push({
      title: `${name}, IAM through the endpoint, ${CONCURRENCY} callers, pool of 10, one session replaced every ${CHURN_EVERY_MS} ms`,
      columns: ['round', 'window', 'p50', 'p99', 'queries', 'sessions replaced', 'tokens signed', 'refresh landed at'],
      rows: windows.flatMap((w, i) =>
        w.map((x) => [
          String(i + 1),
          x.kind,
          ms(x.p50Ms),
          ms(x.p99Ms),
          String(x.ops),
          String(x.sessionsReplaced),
          String(x.signings),
          x.refreshedAtMs === undefined ? '–' : `${(x.refreshedAtMs / 1000).toFixed(2)} s`,
        ]),
      ),
      notes: [`p99 with a refresh / p99 without, per round: median ${ratioCell(ratio)}`, ...checks.slice(-2).map((c) => `${c.target}: ${mark(c.passed)}`)],
    });
    data[engine] = { rounds: windows, p99Ratio: ratio };
  }
  return {
    name: 'token-refresh',
    title: 'Over a token refresh',
    method:
      `${profile.refreshRounds} round(s) per engine, each with a fresh connection: one window without a refresh and one with the refresh due at its midpoint ` +
      `(order alternating), ${profile.refreshWindowMs / 1000} s each, PK lookups from ${CONCURRENCY} callers on a pool of 10 while the pool replaces one session every ${CHURN_EVERY_MS} ms ` +
      '(each new session asks for a token). The clock given to createDatabase, and the endpoint\'s, jump ahead to half a window before the refresh is due; the refresh itself then happens on real time.',
    tables,
    checks,
    findings: [],
    data,
  };
});

function byKind(windows: readonly WindowResult[], kind: WindowKind): WindowResult {
  return windows.find((w) => w.kind === kind)!;
}

async function measureRound(engine: Engine, route: Route, emulator: EmulatorProcess, order: readonly WindowKind[], windowMs: number): Promise<WindowResult[]> {
  const clock = new ShiftedClock();
  await emulator.setClockOffset(0);
  const db = await openDbmodule(engine, route, { clock });
  const connection = db.connection();
  const keys = keySequence(1 << 16, BENCH_ROWS, 7);
  const sql = lookupSql(engine);
  const query = (sequence: number) => connection.query(sql, [keys[sequence & 0xffff]]);
  try {
    await runClosedLoop(query, { concurrency: CONCURRENCY, durationMs: Math.min(2_000, windowMs / 2) });
    const results: WindowResult[] = [];
    for (const kind of order) {
      if (kind === 'refresh') {
        const state = connection.tokenState()!;
        const offset = state.refreshAt! - windowMs / 2 - Date.now();
        // The endpoint first, so it never sees a token dated ahead of its own clock.
        await emulator.setClockOffset(offset / 1000);
        clock.offset = offset;
      }
      results.push(await measureWindow(kind, db, connection, engine, query, windowMs));
    }
    return results;
  } finally {
    await db.close();
  }
}

async function measureWindow(
  kind: WindowKind,
  db: Database,
  connection: Connection,
  engine: Engine,
  query: (sequence: number) => Promise<unknown>,
  windowMs: number,
): Promise<WindowResult> {
  collectGarbage();
  const signedBefore = connection.tokenState()!.signCount;
  let refreshedAt: number | undefined;
  const onRefresh = () => (refreshedAt ??= performance.now());
  db.on('token.refreshed', onRefresh);
  const started = performance.now();
  const churn = startChurn(engine, connection.pool as PgPool | MysqlPool);
  let load: LoadResult;
  try {
    load = await runClosedLoop(query, { concurrency: CONCURRENCY, durationMs: windowMs });
  } finally {
    db.off('token.refreshed', onRefresh);
  }
  const sessionsReplaced = await churn.stop();
  return {
    kind,
    p50Ms: quantile(load.latenciesMs, 0.5),
    p99Ms: quantile(load.latenciesMs, 0.99),
    ops: load.ops,
    signings: connection.tokenState()!.signCount - signedBefore,
    refreshedAtMs: refreshedAt === undefined ? undefined : refreshedAt - started,
    sessionsReplaced,
  };
}

/** Every CHURN_EVERY_MS, takes one session from the pool and destroys it; the pool opens a replacement on demand. */
function startChurn(engine: Engine, pool: PgPool | MysqlPool): { stop(): Promise<number> } {
  let replaced = 0;
  let running: Promise<void> = Promise.resolve();
  const replaceOne = async (): Promise<void> => {
    if (engine === 'postgres') {
      const client = await (pool as PgPool).connect();
      client.release(true);
    } else {
      const connection = await new Promise<PoolConnection>((resolve, reject) => (pool as MysqlPool).getConnection((e, c) => (e ? reject(e) : resolve(c))));
      connection.destroy();
    }
    replaced += 1;
  };
  const timer = setInterval(() => {
    running = running.then(replaceOne);
  }, CHURN_EVERY_MS);
  return {
    async stop() {
      clearInterval(timer);
      await running;
      return replaced;
    },
  };
}
