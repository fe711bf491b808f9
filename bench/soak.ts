/**
 * Soak: steady load on a PostgreSQL and a MariaDB connection, each through a fault proxy that
 * flaps every 30 s (drops every connection, resets them, refuses new ones, goes silent, adds
 * latency), for 10 minutes. Reports queries, errors by code, recovery after each fault, heap,
 * RSS, open handles and listener counts at the start and the end, and fails (exit code 1)
 * when anything grew without bound, an error was not a coded DbModuleError, or Node warned
 * about listeners.
 *
 *   npm run soak -- [--minutes 10] [--flap-seconds 30] [--workers 8] [--out report.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createDatabase, type Connection, type Database } from '../src/index.js';
import { DbModuleError } from '../src/errors.js';
import { silentLogger } from '../src/logging.js';
import { MYSQL_URL, PG_URL } from '../test/support/databases.js';
import { startFaultProxy, type FaultProxy } from '../test/support/fault-proxy.js';

type Driver = 'postgres' | 'mysql';
const DRIVERS: readonly Driver[] = ['postgres', 'mysql'];

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'flap-seconds': { type: 'string', default: '30' },
    workers: { type: 'string', default: '8' },
    out: { type: 'string' },
  },
});
const DURATION_MS = Number(args.minutes) * 60_000;
const FLAP_MS = Number(args['flap-seconds']) * 1_000;
const WORKERS = Number(args.workers);
/** How long each fault lasts before the proxy is healthy again. */
const FAULT_MS = 3_000;
const TABLE = `dbmodule_soak_${process.pid}`;

interface Fault {
  readonly name: string;
  start(proxy: FaultProxy): Promise<void>;
  end(proxy: FaultProxy): Promise<void>;
}

/** The faults, in turn, one per flap. */
const FAULTS: readonly Fault[] = [
  { name: 'drop (FIN)', start: (proxy) => proxy.dropAll('end'), end: async () => {} },
  { name: 'drop (RST)', start: (proxy) => proxy.dropAll('reset'), end: async () => {} },
  { name: 'refuse + drop (restart)', start: async (proxy) => { await proxy.refuse(); await proxy.dropAll(); }, end: (proxy) => proxy.accept() },
  { name: 'blackhole', start: async (proxy) => proxy.blackhole(), end: async (proxy) => proxy.restore() },
  { name: 'latency 300 ms', start: async (proxy) => proxy.setLatency(300), end: async (proxy) => proxy.setLatency(0) },
];

interface Sample {
  atS: number;
  heapUsedMiB: number;
  rssMiB: number;
  handles: Record<string, number>;
  listeners: number;
  sessions: Record<Driver, number>;
}

interface FlapRecord {
  fault: string;
  atS: number;
  /** ms from the fault's end to the first successful query, per driver. */
  recoveryMs: Partial<Record<Driver, number>>;
}

const counts = { ok: { postgres: 0, mysql: 0 }, errors: new Map<string, number>() };
const warnings: string[] = [];
process.on('warning', (warning) => warnings.push(`${warning.name}: ${warning.message}`));

function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

function handleCounts(): Record<string, number> {
  const result: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) result[type] = (result[type] ?? 0) + 1;
  return result;
}

/** Listeners on everything long-lived the soak can reach: the native pools and the process. */
function listenerCount(db: Database | undefined): number {
  const emitters: NodeJS.EventEmitter[] = [process];
  if (db) for (const name of db.names) emitters.push(db.connection(name).pool as NodeJS.EventEmitter);
  return emitters.reduce((sum, emitter) => sum + emitter.eventNames().reduce((n, event) => n + emitter.listenerCount(event), 0), 0);
}

function sample(started: number, db: Database | undefined): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  return {
    atS: Math.round((performance.now() - started) / 1000),
    heapUsedMiB: mib(memory.heapUsed),
    rssMiB: mib(memory.rss),
    handles: handleCounts(),
    listeners: listenerCount(db),
    sessions: { postgres: db?.connection('postgres').stats().total ?? 0, mysql: db?.connection('mysql').stats().total ?? 0 },
  };
}

function viaProxy(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}

function record(driver: Driver, error: unknown): void {
  const key = error instanceof DbModuleError ? `${driver} ${error.code}${error.retryable ? ' (retryable)' : ''}` : `${driver} UNTYPED ${String(error)}`;
  counts.errors.set(key, (counts.errors.get(key) ?? 0) + 1);
}

/** One step of the steady load: a read, a write, or a small transaction. */
async function step(connection: Connection, driver: Driver, worker: number, n: number): Promise<void> {
  const p = (i: number) => (driver === 'postgres' ? `$${i}` : '?');
  switch (n % 4) {
    case 0:
      await connection.query('SELECT 1 AS one');
      return;
    case 1:
      await connection.query(`INSERT INTO ${TABLE} (worker, n) VALUES (${p(1)}, ${p(2)})`, [worker, n]);
      return;
    case 2:
      await connection.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${TABLE} (worker, n) VALUES (${p(1)}, ${p(2)})`, [worker, -n]);
        await tx.query(`SELECT COUNT(*) AS c FROM ${TABLE} WHERE worker = ${p(1)}`, [worker]);
      });
      return;
    default:
      await connection.query(`SELECT n FROM ${TABLE} WHERE worker = ${p(1)} ORDER BY n DESC LIMIT 1`, [worker]);
  }
}

async function main(): Promise<void> {
  const baseline = handleCounts();
  const proxies = {
    postgres: await startFaultProxy({ host: new URL(PG_URL).hostname, port: Number(new URL(PG_URL).port || 5432) }),
    mysql: await startFaultProxy({ host: new URL(MYSQL_URL).hostname, port: Number(new URL(MYSQL_URL).port || 3306) }),
  };
  const settings = { max_open_connections: WORKERS, query_timeout: '2s', connection_timeout: '2s', connection_max_idle_time: '1m' };
  const db = await createDatabase(
    {
      default: 'postgres',
      connections: {
        postgres: { driver: 'postgres', dsn: viaProxy(PG_URL, proxies.postgres.port), ...settings },
        mysql: { driver: 'mysql', dsn: viaProxy(MYSQL_URL, proxies.mysql.port), ...settings },
      },
    },
    { logger: silentLogger },
  );
  for (const driver of DRIVERS) await db.connection(driver).query(`CREATE TABLE ${TABLE} (worker INT NOT NULL, n INT NOT NULL)`);

  const started = performance.now();
  let stopped = false;
  const lastSuccess: Record<Driver, number> = { postgres: 0, mysql: 0 };
  const workers = DRIVERS.flatMap((driver) =>
    Array.from({ length: WORKERS }, async (_, worker) => {
      const connection = db.connection(driver);
      for (let n = 0; !stopped; n++) {
        try {
          await step(connection, driver, worker, n);
          counts.ok[driver]++;
          lastSuccess[driver] = performance.now();
        } catch (error) {
          record(driver, error);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }),
  );

  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const samples: Sample[] = [sample(started, db)];
  const flaps: FlapRecord[] = [];
  const sampler = setInterval(() => samples.push(sample(started, db)), 30_000);
  for (let flap = 0; performance.now() - started + FLAP_MS < DURATION_MS; flap++) {
    await new Promise((resolve) => setTimeout(resolve, FLAP_MS - FAULT_MS));
    const fault = FAULTS[flap % FAULTS.length]!;
    const entry: FlapRecord = { fault: fault.name, atS: Math.round((performance.now() - started) / 1000), recoveryMs: {} };
    for (const driver of DRIVERS) await fault.start(proxies[driver]);
    await new Promise((resolve) => setTimeout(resolve, FAULT_MS));
    for (const driver of DRIVERS) await fault.end(proxies[driver]);
    const healed = performance.now();
    for (const driver of DRIVERS) {
      const deadline = healed + 15_000;
      while (lastSuccess[driver] < healed && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      entry.recoveryMs[driver] = lastSuccess[driver] >= healed ? Math.round(lastSuccess[driver] - healed) : Number.POSITIVE_INFINITY;
    }
    flaps.push(entry);
    process.stderr.write(`[soak ${entry.atS}s] ${fault.name}: recovered postgres ${entry.recoveryMs.postgres} ms, mysql ${entry.recoveryMs.mysql} ms\n`);
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, DURATION_MS - (performance.now() - started))));
  stopped = true;
  await Promise.all(workers);
  clearInterval(sampler);
  // sessions idle again and the idle reapers' turn: what is left now is what stays
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  samples.push(sample(started, db));

  for (const driver of DRIVERS) await db.connection(driver).query(`DROP TABLE ${TABLE}`);
  await db.close({ timeoutMs: 5_000 });
  await proxies.postgres.close();
  await proxies.mysql.close();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const afterClose = handleCounts();

  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const handleTotal = (handles: Record<string, number>) => Object.values(handles).reduce((a, b) => a + b, 0);
  const untyped = [...counts.errors.keys()].filter((key) => key.includes('UNTYPED'));
  const problems = [
    ...untyped.map((key) => `error that is not a coded DbModuleError: ${key}`),
    ...warnings.filter((warning) => warning.startsWith('MaxListenersExceeded')).map((warning) => `warning: ${warning}`),
    ...flaps.filter((flap) => Object.values(flap.recoveryMs).some((ms) => !Number.isFinite(ms) || ms > 5_000)).map((flap) => `no recovery within 5 s after ${flap.fault} at ${flap.atS}s`),
    ...(last.heapUsedMiB > first.heapUsedMiB * 1.5 + 10 ? [`heap grew from ${first.heapUsedMiB} to ${last.heapUsedMiB} MiB`] : []),
    ...(last.listeners !== first.listeners ? [`listeners changed from ${first.listeners} to ${last.listeners}`] : []),
    ...(handleTotal(afterClose) > handleTotal(baseline) ? [`handles left after close: ${JSON.stringify(afterClose)} (before start: ${JSON.stringify(baseline)})`] : []),
  ];
  const report = {
    minutes: DURATION_MS / 60_000,
    flapSeconds: FLAP_MS / 1000,
    workersPerConnection: WORKERS,
    queries: counts.ok,
    errors: Object.fromEntries([...counts.errors].sort(([a], [b]) => a.localeCompare(b))),
    flaps,
    start: first,
    end: last,
    maxHandles: Math.max(...samples.map((s) => handleTotal(s.handles))),
    handlesBeforeStart: baseline,
    handlesAfterClose: afterClose,
    warnings,
    problems,
  };
  const text = JSON.stringify(report, (_, value: unknown) => (value === Number.POSITIVE_INFINITY ? 'never' : value), 2);
  if (args.out) writeFileSync(args.out, `${text}\n`);
  process.stdout.write(`${text}\n`);
  process.exitCode = problems.length > 0 ? 1 : 0;
}

await main();
