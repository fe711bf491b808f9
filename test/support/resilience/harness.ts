import { afterEach } from 'vitest';
/**
 * What the resilience suites share: a Database opened through a fault proxy (or straight to a
 * server), per-test server-side identities to count sessions by, and an admin view of the
 * server that goes around dbmodule and the proxy.
 */
import { createDatabase, type Database } from '../../../src/index.js';
import { DbModuleError } from '../../../src/errors.js';
import { silentLogger, type Logger } from '../../../src/logging.js';
import { MYSQL_URL, PG_URL, uniqueName } from '../databases.js';
import type { ProxyTarget } from '../fault-proxy.js';
import { directQuery } from '../direct.js';
import { SHOW_THREADS, threadsOf } from '../mysql-threads.js';

export type NetDriver = 'postgres' | 'mysql';
export const NET_DRIVERS: readonly NetDriver[] = ['postgres', 'mysql'];

const pgUrl = new URL(PG_URL);
const myUrl = new URL(MYSQL_URL);

/** The shared servers, as proxy targets. */
export const SERVER: Record<NetDriver, ProxyTarget> = {
  postgres: { host: pgUrl.hostname, port: Number(pgUrl.port || 5432) },
  mysql: { host: myUrl.hostname, port: Number(myUrl.port || 3306) },
};

/**
 * A server-side identity for one test: PostgreSQL sessions carry it as application_name,
 * MariaDB sessions log in as a user of that name. Sessions are counted by it.
 */
export interface Identity {
  readonly driver: NetDriver;
  readonly tag: string;
  /** DSN of the shared server's test database at `host:port` (default: the server itself). */
  dsn(port?: number, host?: string): string;
}

/** A fresh identity; MariaDB users are created here and dropped by {@link dropIdentities}. */
export async function newIdentity(driver: NetDriver, prefix = 'dbm_res'): Promise<Identity> {
  const tag = uniqueName(prefix).slice(0, 32);
  if (driver === 'mysql') {
    await admin('mysql', `CREATE USER '${tag}'@'%'`);
    await admin('mysql', `GRANT ALL ON dbmodule_test.* TO '${tag}'@'%'`);
    created.push(tag);
  }
  return {
    driver,
    tag,
    dsn: (port = SERVER[driver].port, host = SERVER[driver].host) =>
      driver === 'postgres'
        ? `postgresql://postgres@${host}:${port}/dbmodule_test?sslmode=disable&application_name=${tag}`
        : `mysql://${tag}@${host}:${port}/dbmodule_test`,
  };
}

const created: string[] = [];

export async function dropIdentities(): Promise<void> {
  for (const user of created.splice(0)) await admin('mysql', `DROP USER IF EXISTS '${user}'@'%'`);
}

/** Runs `sql` on the shared server directly (see test/support/direct.ts). */
export const admin = <T = Record<string, unknown>>(driver: NetDriver, sql: string, params: unknown[] = []): Promise<T[]> => directQuery<T>(driver, sql, params);

/** Server session ids (backend pids / connection ids) of an identity, as the server lists them. */
export async function sessionIds(identity: Identity): Promise<number[]> {
  const rows =
    identity.driver === 'postgres'
      ? await admin<{ id: number }>('postgres', 'SELECT pid AS id FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid', [identity.tag])
      : threadsOf(await admin('mysql', SHOW_THREADS))
          .filter((thread) => thread.user === identity.tag)
          .sort((a, b) => a.id - b.id);
  return rows.map((row) => Number(row.id));
}

/** Ends every server session of an identity from the server side (pg_terminate_backend / KILL CONNECTION). */
export async function terminateSessions(identity: Identity): Promise<number[]> {
  const ids = await sessionIds(identity);
  for (const id of ids) {
    if (identity.driver === 'postgres') await admin('postgres', 'SELECT pg_terminate_backend($1)', [id]);
    else await admin('mysql', `KILL CONNECTION ${id}`).catch(() => {}); // already gone
  }
  return ids;
}

/** The statement that names the server session serving it. */
export const SESSION_ID_SQL: Record<NetDriver, string> = {
  postgres: 'SELECT pg_backend_pid() AS id',
  mysql: 'SELECT CONNECTION_ID() AS id',
};

/** A statement that sleeps `seconds` on the server. */
export function sleepSql(driver: NetDriver, seconds: number): string {
  return driver === 'postgres' ? `SELECT pg_sleep(${seconds})` : `SELECT SLEEP(${seconds})`;
}

/** The driver's placeholder for parameter `n` (1-based). */
export function placeholder(driver: NetDriver, n: number): string {
  return driver === 'postgres' ? `$${n}` : '?';
}

/** Opens a Database with one connection, `main`, with the given settings (snake_case, as in a file). */
export async function openMain(driver: NetDriver, dsn: string, settings: Record<string, unknown> = {}, logger: Logger = silentLogger): Promise<Database> {
  return createDatabase({ connections: { main: { driver, dsn, ...settings } } }, { logger });
}

/** The session id a query on `db` ran on. */
export async function sessionOf(db: Database, driver: NetDriver): Promise<number> {
  const { rows } = await db.connection().query<{ id: number | string }>(SESSION_ID_SQL[driver]);
  return Number(rows[0]?.id);
}

/** What an awaited operation ended with, keeping the error for inspection. */
export type Outcome<T> = { ok: true; value: T; startedAt: number; endedAt: number } | { ok: false; error: unknown; startedAt: number; endedAt: number };

export async function outcomeOf<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  const startedAt = performance.now();
  try {
    const value = await work();
    return { ok: true, value, startedAt, endedAt: performance.now() };
  } catch (error) {
    return { ok: false, error, startedAt, endedAt: performance.now() };
  }
}

/** A short description of a failure for assertion messages: its class, code and message. */
export function describeFailure(error: unknown): string {
  if (error instanceof DbModuleError) return `${error.name} ${error.code} retryable=${error.retryable}: ${error.message}`;
  return `${error instanceof Error ? error.constructor.name : typeof error}: ${String(error)}`;
}

/**
 * Runs `workers` loops of `step` until `stop()` resolves, keeping every outcome. A loop that
 * fails moves on to its next step: the callers of a service do not stop because one request failed.
 */
export async function underLoad<T>(workers: number, step: (worker: number, n: number) => Promise<T>, stop: Promise<void>): Promise<Array<Outcome<T>>> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const outcomes: Array<Outcome<T>> = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let n = 0; !stopped; n++) {
        outcomes.push(await outcomeOf(() => step(worker, n)));
        // a failed step returns at once: yield so the loop can't starve the event loop
        await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
  return outcomes;
}

/** Resolves after `ms` of wall time: the length of a load phase, not a wait for something to happen. */
export function phase(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}


/** Prints a scenario's measurements (one `[resilience]` line), the numbers RELIABILITY.md quotes. */
export function report(scenario: string, numbers: Record<string, unknown>): void {
  console.info(`[resilience] ${scenario}: ${JSON.stringify(numbers)}`);
}

/**
 * Per-test cleanup, run in reverse order after each test: `track` closes (or stops) a resource,
 * `defer` runs any other step. Call once at the top of a test file.
 */
export function perTestCleanup(): { track<T extends { close(): unknown } | { stop(): unknown }>(resource: T): T; defer(step: () => unknown): void } {
  const steps: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) await step();
  });
  return {
    track(resource) {
      steps.push(() => ('stop' in resource ? resource.stop() : resource.close()));
      return resource;
    },
    defer(step) {
      steps.push(step);
    },
  };
}
