import mysql from 'mysql2/promise';
import pg from 'pg';
import { MYSQL_URL, PG_URL } from './databases.js';

/**
 * Runs one statement on the shared real server over a connection of its own (no pool, no proxy,
 * no emulator, no dbmodule), so suites can check what really happened.
 */
export async function directQuery<T = Record<string, unknown>>(driver: 'postgres' | 'mysql', sql: string, params: unknown[] = []): Promise<T[]> {
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
