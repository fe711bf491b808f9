import type { Queryable } from '../../../src/index.js';
import type { IamDriver } from './rds.js';
import { directQuery } from '../direct.js';

/** Runs `sql` on the shared server directly (see test/support/direct.ts). */
export const direct = <T = Record<string, unknown>>(driver: IamDriver, sql: string, params: unknown[] = []): Promise<T[]> => directQuery<T>(driver, sql, params);

/** The statement that reports the server session serving the query: a backend pid or a connection id. */
export const SESSION_ID_SQL: Record<IamDriver, string> = {
  postgres: 'SELECT pg_backend_pid() AS id',
  mysql: 'SELECT CONNECTION_ID() AS id',
};

/** The server session `queryable` runs its query on. */
export async function sessionId(queryable: Queryable, driver: IamDriver): Promise<number> {
  const { rows } = await queryable.query<{ id: number | string }>(SESSION_ID_SQL[driver]);
  return Number(rows[0]?.id);
}

/** The driver's placeholder for parameter `n` (1-based). */
export const placeholder = (driver: IamDriver, n: number): string => (driver === 'postgres' ? `$${n}` : '?');
