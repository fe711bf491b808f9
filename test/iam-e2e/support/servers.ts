import mysql from 'mysql2/promise';
import pg from 'pg';
import { MYSQL_URL, PG_URL } from '../../support/databases.js';
import type { IamDriver } from './rds.js';

/**
 * Runs one statement on the real server directly, not through the emulator or dbmodule, so
 * suites can check what really happened.
 */
export async function direct<T = Record<string, unknown>>(driver: IamDriver, sql: string, params: unknown[] = []): Promise<T[]> {
  if (driver === 'postgres') {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  }
  const connection = await mysql.createConnection(MYSQL_URL);
  try {
    const [rows] = await connection.query(sql, params);
    return (Array.isArray(rows) ? rows : []) as T[];
  } finally {
    await connection.end();
  }
}

/** The statement that reports the server session serving the query: a backend pid or a connection id. */
export const SESSION_ID_SQL: Record<IamDriver, string> = {
  postgres: 'SELECT pg_backend_pid() AS id',
  mysql: 'SELECT CONNECTION_ID() AS id',
};

/** The driver's placeholder for parameter `n` (1-based). */
export const placeholder = (driver: IamDriver, n: number): string => (driver === 'postgres' ? `$${n}` : '?');
