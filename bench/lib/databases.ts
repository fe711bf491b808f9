/** The servers the suite runs against, and the 10,000-row table of the primary-key lookup. */

import { MYSQL_URL, PASSWORD_USER, PASSWORD_USER_SECRET, PG_URL } from '../../test/support/databases.js';

export { MYSQL_URL, PASSWORD_USER, PASSWORD_USER_SECRET, PG_URL };

export type Engine = 'postgres' | 'mysql';

export const BENCH_TABLE = 'dbmodule_bench_rows';
export const BENCH_ROWS = 10_000;

/** Connection fields of the server URL, for drivers configured field by field. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
}

export function serverAddress(engine: Engine): ServerAddress {
  return addressOf(engine === 'postgres' ? PG_URL : MYSQL_URL);
}

/** Connection fields of any server URL (postgresql:// or mysql://). */
export function addressOf(serverUrl: string): ServerAddress {
  const url = new URL(serverUrl);
  return {
    host: url.hostname,
    port: Number(url.port) || (url.protocol.startsWith('mysql') ? 3306 : 5432),
    user: decodeURIComponent(url.username),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: url.pathname.slice(1),
  };
}

/** The server URL without driver-specific query parameters (the emulator's upstream form). */
export function upstreamUrl(engine: Engine): string {
  const a = serverAddress(engine);
  const auth = a.password ? `${encodeURIComponent(a.user)}:${encodeURIComponent(a.password)}` : encodeURIComponent(a.user);
  return `${engine === 'postgres' ? 'postgresql' : 'mysql'}://${auth}@${a.host}:${a.port}/${a.database}`;
}

/** The primary-key lookup, in the engine's placeholder style. */
export function lookupSql(engine: Engine): string {
  return `SELECT id, name, email FROM ${BENCH_TABLE} WHERE id = ${engine === 'postgres' ? '$1' : '?'}`;
}

/** Creates and fills the lookup table if needed; throws unless it holds exactly ids 1..10000. */
export async function ensureBenchTable(engine: Engine, url?: string): Promise<void> {
  if (engine === 'postgres') await ensurePostgres(url ? addressOf(url) : serverAddress('postgres'));
  else await ensureMysql();
}

async function ensurePostgres(a: ServerAddress): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ host: a.host, port: a.port, user: a.user, password: a.password, database: a.database });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS ${BENCH_TABLE} (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL)`);
    await client.query(
      `INSERT INTO ${BENCH_TABLE} SELECT g, 'user ' || g, 'user' || g || '@example.com' FROM generate_series(1, ${BENCH_ROWS}) AS g ON CONFLICT (id) DO NOTHING`,
    );
    const { rows } = await client.query<{ n: string; lo: number; hi: number }>(`SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM ${BENCH_TABLE}`);
    assertFilled(serverName('postgres'), Number(rows[0]?.n), rows[0]?.lo, rows[0]?.hi);
    await client.query(`ANALYZE ${BENCH_TABLE}`);
  } finally {
    await client.end();
  }
}

async function ensureMysql(): Promise<void> {
  const mysql = await import('mysql2/promise');
  const a = serverAddress('mysql');
  const connection = await mysql.createConnection({ host: a.host, port: a.port, user: a.user, password: a.password ?? '', database: a.database });
  try {
    await connection.query(`CREATE TABLE IF NOT EXISTS ${BENCH_TABLE} (id int PRIMARY KEY, name varchar(64) NOT NULL, email varchar(128) NOT NULL)`);
    // The recursion cap is named differently on MySQL and MariaDB; each ignores the other's.
    await connection.query(`SET SESSION cte_max_recursion_depth = ${BENCH_ROWS * 2}`).catch(() => {});
    await connection.query(`SET SESSION max_recursive_iterations = ${BENCH_ROWS * 2}`).catch(() => {});
    await connection.query(
      `INSERT IGNORE INTO ${BENCH_TABLE} (id, name, email)
       WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${BENCH_ROWS})
       SELECT n, CONCAT('user ', n), CONCAT('user', n, '@example.com') FROM seq`,
    );
    const [rows] = await connection.query(`SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM ${BENCH_TABLE}`);
    const row = (rows as { n: number; lo: number; hi: number }[])[0];
    assertFilled(serverName('mysql'), Number(row?.n), row?.lo, row?.hi);
    await connection.query(`ANALYZE TABLE ${BENCH_TABLE}`);
  } finally {
    await connection.end();
  }
}

function serverName(name: Engine): string {
  return name === 'postgres' ? 'PostgreSQL' : 'MariaDB/MySQL';
}

function assertFilled(server: string, count: number, low: unknown, high: unknown): void {
  if (count !== BENCH_ROWS || Number(low) !== 1 || Number(high) !== BENCH_ROWS) {
    throw new Error(`${server}: ${BENCH_TABLE} should hold ids 1..${BENCH_ROWS}, it holds ${count} rows (${String(low)}..${String(high)}); drop it and rerun`);
  }
}

/** `max_connections` and the sessions open right now, to size the connection storm by what the server allows. */
export async function connectionHeadroom(engineName: Engine): Promise<{ max: number; used: number }> {
  if (engineName === 'postgres') {
    const { default: pg } = await import('pg');
    const a = serverAddress('postgres');
    const client = new pg.Client({ host: a.host, port: a.port, user: a.user, password: a.password, database: a.database });
    await client.connect();
    try {
      const max = await client.query<{ max_connections: string }>('SHOW max_connections');
      const used = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity');
      return { max: Number(max.rows[0]?.max_connections), used: Number(used.rows[0]?.n) };
    } finally {
      await client.end();
    }
  }
  const mysql = await import('mysql2/promise');
  const a = serverAddress('mysql');
  const connection = await mysql.createConnection({ host: a.host, port: a.port, user: a.user, password: a.password ?? '', database: a.database });
  try {
    const [max] = await connection.query("SHOW VARIABLES LIKE 'max_connections'");
    const [used] = await connection.query("SHOW STATUS LIKE 'Threads_connected'");
    return { max: Number((max as { Value: string }[])[0]?.Value), used: Number((used as { Value: string }[])[0]?.Value) };
  } finally {
    await connection.end();
  }
}

/** Polls until the server has at most `limit` sessions (closed sessions linger briefly), or fails after `timeoutMs`. */
export async function waitForSessionsAtMost(engineName: Engine, limit: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { used } = await connectionHeadroom(engineName);
    if (used <= limit) return;
    if (Date.now() > deadline) throw new Error(`${serverName(engineName)} still has ${used} sessions, expected at most ${limit}, after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
