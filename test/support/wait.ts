import pg from 'pg';
import { PG_URL } from './databases.js';

/** Polls a condition until it holds or the deadline passes (no fixed sleeps). */
export async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Server sessions whose application_name is `applicationName`, counted by PostgreSQL itself. */
export async function pgSessionCount(applicationName: string): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}
