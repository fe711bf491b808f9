import net from 'node:net';
import pg from 'pg';
import type { ConnectionConfig } from '../../../src/config/types.js';
import type { ParsedDsn } from '../../../src/dsn/types.js';
import type { DriverPool } from '../../../src/drivers/types.js';
import { createPostgresPool } from '../../../src/drivers/postgres/index.js';
import { PG_URL, uniqueName } from '../databases.js';
import { connectionConfig } from '../connection-config.js';
import { driverPoolOptions, type DriverTestOptions } from '../plan.js';

const url = new URL(PG_URL);

/** The test server's DSN as a parser would hand it over, with a per-test application_name to count its sessions. */
export function testDsn(appName: string, overrides: Partial<ParsedDsn> = {}): ParsedDsn {
  return {
    family: 'postgres-url',
    driver: 'postgres',
    user: decodeURIComponent(url.username) || 'postgres',
    host: url.hostname,
    port: Number(url.port || 5432),
    database: url.pathname.slice(1) || 'dbmodule_test',
    ...overrides,
    params: { sslmode: 'disable', application_name: appName, ...overrides.params },
  };
}

export function testConfig(overrides: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return connectionConfig('postgres', { name: 'pgtest', dsn: 'postgresql://redacted' }, overrides);
}

export { fakeClock } from '../fake-clock.js';
export { gate } from '../gate.js';

export interface TestPoolOptions extends DriverTestOptions {
  config?: Partial<ConnectionConfig>;
  dsn?: Partial<ParsedDsn>;
}

const opened: DriverPool[] = [];

/** A pool on the test server with its own application_name; closed by {@link closeTestPools}. */
export async function openTestPool(options: TestPoolOptions = {}): Promise<{ pool: DriverPool; native: pg.Pool; appName: string }> {
  const appName = uniqueName('pgdrv');
  const pool = await createPostgresPool(driverPoolOptions(testConfig(options.config), testDsn(appName, options.dsn), options));
  opened.push(pool);
  return { pool, native: pool.native as pg.Pool, appName };
}

export async function closeTestPools(): Promise<void> {
  await Promise.all(opened.splice(0).map((pool) => pool.close()));
}

/** Runs `sql` on a separate superuser connection, the independent observer of the server. */
export async function admin<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Backend pids PostgreSQL lists for an application_name. */
export async function backendPids(appName: string): Promise<number[]> {
  const rows = await admin<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid', [appName]);
  return rows.map((row) => row.pid);
}

export async function backendExists(pid: number): Promise<boolean> {
  const rows = await admin<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid]);
  return rows[0]?.n === 1;
}

/**
 * A TCP proxy to the test server that holds back the ReadyForQuery following an ErrorResponse
 * until `deliverHeld()`, so a test can act while pg has seen the error but not yet the end of
 * the exchange (on localhost both usually arrive in one read).
 */
export async function readyHoldingProxy(): Promise<{ port: number; deliverHeld(): void; close(): void }> {
  const sockets = new Set<net.Socket>();
  const releases: Array<() => void> = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(url.port || 5432), url.hostname);
    sockets.add(client).add(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    let sawError = false;
    let holding: Buffer[] | undefined;
    releases.push(() => {
      if (holding) client.write(Buffer.concat(holding));
      holding = undefined;
    });
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 1 + pending.readInt32BE(1)) {
        const size = 1 + pending.readInt32BE(1);
        const message = pending.subarray(0, size);
        pending = pending.subarray(size);
        const type = String.fromCharCode(message[0]!);
        if (type === 'Z' && sawError) holding = [];
        if (type === 'E') sawError = true;
        if (type === 'Z') sawError = false;
        if (holding) holding.push(message);
        else client.write(message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    deliverHeld: () => releases.forEach((release) => release()),
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
