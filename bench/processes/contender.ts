/**
 * One query-path contender in a process of its own, driven over IPC by its comparison
 * (lib/remote-contender.ts): opens its pool, checks it answers the lookup right, then runs
 * closed-loop slices on request.
 *
 * Why a process each: the contenders share driver code (pg, mysql2). In one process the JIT
 * optimises that code for whichever pool ran first, and the others run on code shaped for it;
 * measured with mysql2 at concurrency 32, the same two pools swapped ±20% with their order of
 * creation. An application has one of them, so each is measured alone, still slice by slice in
 * turn with the others so that machine noise hits them alike.
 */

import { dbmodulePool, dbmoduleQuery, dbmoduleQueryOtel, dbmoduleQueryUnchecked, dbmoduleReader } from '../contenders/dbmodule.js';
import { bareDriverOtel } from '../contenders/driver-otel.js';
import { bareMysqlPool, wrapperMysqlPool } from '../contenders/mysql.js';
import { barePgPool, wrapperPgPool } from '../contenders/postgres.js';
import type { QueryTarget, Route } from '../contenders/target.js';
import { CONCURRENCIES, WORKLOADS, type ContenderCall, type ContenderKind, type Workload } from '../lib/contender-protocol.js';
import { BENCH_ROWS, lookupSql, type Engine } from '../lib/databases.js';
import { keySequence, runClosedLoop } from '../lib/load.js';
import { collectGarbage } from '../lib/rounds.js';

const KEYS = keySequence(1 << 16, BENCH_ROWS);
let target: QueryTarget | undefined;
let lookup = '';
let listenerWarnings = 0;
process.on('warning', (warning) => {
  if (warning.name === 'MaxListenersExceededWarning') listenerWarnings += 1;
});

async function handle(call: ContenderCall): Promise<object> {
  switch (call.op) {
    case 'open':
      lookup = lookupSql(call.engine);
      target = await open(call.engine, call.route, call.kind);
      await verifyLookup(target, lookup);
      for (const workload of WORKLOADS) {
        for (const concurrency of CONCURRENCIES) await runClosedLoop(operation(workload), { concurrency, durationMs: call.warmupMs });
      }
      return { label: target.label, ...(target.verify ? { verified: await target.verify() } : {}) };
    case 'slice': {
      const result = await runClosedLoop(operation(call.workload), { concurrency: call.concurrency, durationMs: call.durationMs });
      return { ops: result.ops, elapsedMs: result.elapsedMs, latenciesMs: Array.from(result.latenciesMs), cpuMicros: result.cpuMicros };
    }
    case 'gc':
      collectGarbage(call.kind);
      return {};
    case 'close':
      await target?.close();
      return { listenerWarnings };
  }
}

function open(engine: Engine, route: Route, kind: ContenderKind): Promise<QueryTarget> {
  switch (kind) {
    case 'bare':
      return engine === 'postgres' ? barePgPool(route) : bareMysqlPool(route);
    case 'bare-otel':
      return bareDriverOtel(engine, route);
    case 'dbmodule-query':
      return dbmoduleQuery(engine, route);
    case 'dbmodule-query-unchecked':
      return dbmoduleQueryUnchecked(engine, route);
    case 'dbmodule-query-otel':
      return dbmoduleQueryOtel(engine, route, false);
    case 'dbmodule-query-otel-sampled':
      return dbmoduleQueryOtel(engine, route, true);
    case 'dbmodule-pool':
      return dbmodulePool(engine, route);
    case 'dbmodule-reader':
      return dbmoduleReader(engine, route);
    case 'wrapper':
      return engine === 'postgres' ? wrapperPgPool(route) : wrapperMysqlPool(route);
  }
}

function operation(workload: Workload): (sequence: number) => Promise<unknown> {
  const t = target;
  if (!t) throw new Error('contender not opened');
  return workload === 'select1' ? () => t.run('SELECT 1') : (sequence) => t.run(lookup, [KEYS[sequence & 0xffff]]);
}

/** Every contender must answer the lookup with the row the fixture wrote, or its numbers mean nothing. */
async function verifyLookup(t: QueryTarget, sql: string): Promise<void> {
  const rows = rowsOf(await t.run(sql, [4321]));
  const row = rows[0] as { id?: unknown; email?: unknown } | undefined;
  if (rows.length !== 1 || Number(row?.id) !== 4321 || row?.email !== 'user4321@example.com') {
    throw new Error(`${t.label}: the lookup of id 4321 returned ${JSON.stringify(rows)}`);
  }
}

/** pg and dbmodule answer `{ rows }`, mysql2 an array of rows, the wrapper's mysql client `[rows, fields]`. */
function rowsOf(result: unknown): unknown[] {
  if (Array.isArray(result)) return Array.isArray(result[0]) ? (result[0] as unknown[]) : result;
  return ((result as { rows?: unknown[] }).rows ?? []) as unknown[];
}

process.on('message', (message: ContenderCall & { id: number }) => {
  handle(message).then(
    (answer) => {
      process.send?.({ id: message.id, ...answer }, () => {
        // pools and SDK timers a contender leaves behind must not keep the process alive
        if (message.op === 'close') process.exit(0);
      });
    },
    (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
