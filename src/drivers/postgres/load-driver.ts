import { createDriverLoader } from '../load-driver.js';

/** The `pg` module as its ESM entry exports it (Pool, Client, Connection, DatabaseError, ...). */
export type PgModule = typeof import('pg')['default'];

/** Loads `pg` on first use; `DRIVER_NOT_INSTALLED` with `npm install pg` when it is missing. */
export const loadPg = createDriverLoader<PgModule>('pg', 'PostgreSQL', async () => (await import('pg')).default);
