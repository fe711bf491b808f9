import type mysql from 'mysql2/promise';

/** One server thread (session) as SHOW PROCESSLIST lists it. */
export interface MysqlThread {
  readonly id: number;
  readonly user: string;
  readonly state: string | null;
}

/**
 * The server's threads, for tests that count or watch sessions.
 *
 * SHOW PROCESSLIST rather than information_schema.PROCESSLIST: MariaDB 10.11 copies the latter
 * into an Aria temporary table per query, and freeing one crashed the server under this suite's
 * load (signal 11 in ha_maria::drop_table, 2026-11-28). SHOW PROCESSLIST reads the thread list.
 */
export const SHOW_THREADS = 'SHOW PROCESSLIST';

export function threadsOf(rows: readonly Record<string, unknown>[]): MysqlThread[] {
  return rows.map((row) => ({ id: Number(row.Id), user: String(row.User), state: typeof row.State === 'string' ? row.State : null }));
}

export async function mysqlThreads(connection: mysql.Connection): Promise<MysqlThread[]> {
  const [rows] = await connection.query<mysql.RowDataPacket[]>(SHOW_THREADS);
  return threadsOf(rows);
}
