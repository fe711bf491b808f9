/**
 * Memory of idle pools: `node --expose-gc memory.js <contender> <json settings>` opens three pools
 * of 10 sessions one after the other (each session opened, then all given back, so the pool is
 * idle and full) and prints heap and RSS after each, garbage collected. The first pool also pays
 * for modules loaded lazily; the cost of one more pool is the mean step over the next two.
 *
 * Contenders: bare-pg, dbmodule-pg, bare-mysql, dbmodule-mysql.
 */

import type { Pool as PgPool } from 'pg';
import type { Pool as MysqlPool, PoolConnection } from 'mysql2';

const POOLS = 3;
const SESSIONS = 10;

interface Settings {
  readonly pgUrl: string;
  readonly mysqlUrl: string;
}

interface Sample {
  heapUsed: number;
  rss: number;
  external: number;
}

const [contender = '', json = '{}'] = process.argv.slice(2);
const settings = JSON.parse(json) as Settings;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function sample(): Sample {
  gc!();
  gc!();
  const { heapUsed, rss, external } = process.memoryUsage();
  return { heapUsed, rss, external };
}

async function fillPg(pool: PgPool): Promise<void> {
  const clients = await Promise.all(Array.from({ length: SESSIONS }, () => pool.connect()));
  for (const client of clients) client.release();
  if (pool.idleCount !== SESSIONS) throw new Error(`expected ${SESSIONS} idle sessions, pg.Pool has ${pool.idleCount}`);
}

async function fillMysql(pool: MysqlPool): Promise<void> {
  const connections = await Promise.all(
    Array.from({ length: SESSIONS }, () => new Promise<PoolConnection>((resolve, reject) => pool.getConnection((e, c) => (e ? reject(e) : resolve(c))))),
  );
  for (const connection of connections) connection.release();
  const free = (pool as unknown as { _freeConnections: { length: number } })._freeConnections.length;
  if (free !== SESSIONS) throw new Error(`expected ${SESSIONS} idle sessions, the mysql2 pool has ${free}`);
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Loads what every contender of the engine needs before the first sample, so it measures pools, not modules. */
async function openPool(): Promise<unknown> {
  switch (contender) {
    case 'bare-pg': {
      const { default: pg } = await import('pg');
      const pool = new pg.Pool({ connectionString: settings.pgUrl, max: SESSIONS });
      await fillPg(pool);
      return pool;
    }
    case 'bare-mysql': {
      const mysql = await import('mysql2');
      const pool = mysql.createPool({ uri: settings.mysqlUrl, connectionLimit: SESSIONS, maxIdle: SESSIONS });
      await fillMysql(pool);
      return pool;
    }
    case 'dbmodule-pg':
    case 'dbmodule-mysql': {
      const { createDatabase } = await import('../../src/index.js');
      const driver = contender === 'dbmodule-pg' ? 'postgres' : 'mysql';
      const db = await createDatabase(
        { connections: { main: { driver, dsn: driver === 'postgres' ? settings.pgUrl : settings.mysqlUrl, max_open_connections: SESSIONS } } },
        { logger: silent },
      );
      if (driver === 'postgres') await fillPg(db.connection().pool as PgPool);
      else await fillMysql(db.connection().pool as MysqlPool);
      return db;
    }
    default:
      throw new Error(`unknown memory contender "${contender}"`);
  }
}

// The driver itself is loaded before the first sample by every contender alike.
await import(contender.endsWith('pg') ? 'pg' : 'mysql2');
const samples: Sample[] = [sample()];
const held: unknown[] = [];
for (let i = 0; i < POOLS; i++) {
  held.push(await openPool());
  samples.push(sample());
}
process.stdout.write(`${JSON.stringify({ samples, pools: held.length })}\n`);
process.exit(0);
