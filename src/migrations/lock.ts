import { setTimeout as delay } from 'node:timers/promises';
import type { DriverName } from '../driver-name.js';
import type { DriverSession } from '../drivers/types.js';
import { DbModuleError, QueryError } from '../errors.js';

/**
 * One migrator at a time across processes and machines, held on the run's own session:
 * PostgreSQL a session-level advisory lock (so migrations outside a transaction, CREATE INDEX
 * CONCURRENTLY among them, run under it), MySQL `GET_LOCK`, SQLite the write lock of
 * `BEGIN IMMEDIATE` (the run is then one transaction; each migration a savepoint in it). A holder
 * that dies loses the lock with its session: the server releases it.
 */
export interface MigrationLock {
  /** True when holding the lock is a transaction (SQLite): migrations run as savepoints in it. */
  readonly isTransaction: boolean;
  /** @throws DbModuleError `MIGRATION_LOCKED` naming the holder once `timeoutMs` has passed. */
  acquire(session: DriverSession): Promise<void>;
  /** Releases on the session that acquired (a release on another one would leave it held); SQLite commits what was applied. */
  release(session: DriverSession): Promise<void>;
}

export interface LockTarget {
  readonly connection: string;
  /** The history table: one lock per table, so two applications sharing a server do not wait on each other. */
  readonly table: string;
  readonly timeoutMs: number;
}

export function migrationLock(driver: DriverName, target: LockTarget): MigrationLock {
  if (driver === 'postgres') return postgresLock(target);
  if (driver === 'mysql') return mysqlLock(target);
  return sqliteLock(target);
}

// --- internal ---

/** The advisory lock's first key: "dbmo" as an int4. */
const PG_LOCK_CLASS = 0x64626d6f;

/** The two int4 keys of a history table's advisory lock (pg_locks: classid, objid, objsubid 2). */
export function postgresLockKey(table: string): readonly [number, number] {
  return [PG_LOCK_CLASS, hash31(table)];
}

function postgresLock(target: LockTarget): MigrationLock {
  const key = postgresLockKey(target.table);
  return {
    isTransaction: false,
    async acquire(session) {
      if (target.timeoutMs <= 0) {
        await watchForClientLoss(session);
        const { rows } = await session.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS got', key);
        if (!rows[0]?.got) throw locked(target, await postgresHolder(session, key));
        return;
      }
      await watchForClientLoss(session);
      const { rows } = await session.query<{ setting: string }>("SELECT current_setting('lock_timeout') AS setting");
      await session.query("SELECT set_config('lock_timeout', $1, false)", [`${target.timeoutMs}ms`]);
      try {
        await session.query('SELECT pg_advisory_lock($1, $2)', key);
      } catch (error) {
        // 55P03 lock_not_available: lock_timeout ran out
        if (error instanceof QueryError && error.driverCode === '55P03') throw locked(target, await postgresHolder(session, key), error);
        throw error;
      } finally {
        await session.query("SELECT set_config('lock_timeout', $1, false)", [rows[0]?.setting ?? '0']);
      }
    },
    async release(session) {
      await session.query('SELECT pg_advisory_unlock($1, $2)', key);
    },
  };
}

/**
 * A backend busy with a long statement notices a vanished client only when it next talks to it:
 * a migrator killed mid-statement would keep the lock until the statement ends. PostgreSQL 14+
 * checks the socket every `client_connection_check_interval` and ends such a session; older
 * servers do not know the setting, and the run goes on without it.
 */
async function watchForClientLoss(session: DriverSession): Promise<void> {
  await session.query("SELECT set_config('client_connection_check_interval', '1000', false)").catch(() => {});
}

async function postgresHolder(session: DriverSession, key: readonly [number, number]): Promise<string | undefined> {
  const { rows } = await session.query<{ pid: number; application_name: string | null; client: string | null; backend_start: Date | null }>(
    `SELECT l.pid, a.application_name, host(a.client_addr) AS client, a.backend_start FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2 AND l.granted`,
    key,
  );
  const holder = rows[0];
  if (!holder) return undefined;
  const parts = [`backend pid ${holder.pid}`, holder.client ? `from ${holder.client}` : undefined, holder.application_name ? `application "${holder.application_name}"` : undefined, holder.backend_start ? `connected since ${new Date(holder.backend_start).toISOString()}` : undefined];
  return parts.filter(Boolean).join(', ');
}

function mysqlLock(target: LockTarget): MigrationLock {
  // lock names are server-wide: the database scopes it (MySQL allows 64 characters)
  let name = '';
  return {
    isTransaction: false,
    async acquire(session) {
      const { rows } = await session.query<{ db: string | null }>('SELECT DATABASE() AS db');
      name = `dbmodule_migrate:${rows[0]?.db ?? ''}.${target.table}`.slice(0, 64);
      const got = await session.query<{ got: number | null }>('SELECT GET_LOCK(?, ?) AS got', [name, Math.max(0, target.timeoutMs) / 1000]);
      if (Number(got.rows[0]?.got) === 1) return;
      const holder = await session.query<{ id: number | null }>('SELECT IS_USED_LOCK(?) AS id', [name]);
      const id = holder.rows[0]?.id;
      throw locked(target, id === null || id === undefined ? undefined : `connection id ${id}`);
    },
    async release(session) {
      await session.query('SELECT RELEASE_LOCK(?)', [name]);
    },
  };
}

function sqliteLock(target: LockTarget): MigrationLock {
  return {
    isTransaction: true,
    async acquire(session) {
      const deadline = Date.now() + Math.max(0, target.timeoutMs);
      for (;;) {
        try {
          await session.query('BEGIN IMMEDIATE');
          return;
        } catch (error) {
          const busy = error instanceof QueryError && error.driverCode?.startsWith('SQLITE_BUSY');
          if (!busy) throw error;
          if (Date.now() >= deadline) throw locked(target, 'another connection holding the database write lock', error);
          await delay(Math.min(50, Math.max(1, deadline - Date.now())));
        }
      }
    },
    async release(session) {
      await session.query('COMMIT');
    },
  };
}

function locked(target: LockTarget, holder: string | undefined, cause?: unknown): DbModuleError {
  return new DbModuleError(
    'MIGRATION_LOCKED',
    `connection "${target.connection}": another migrator holds the migration lock of ${target.table}${holder ? ` (${holder})` : ''}; waited ${target.timeoutMs} ms (migrations.lock_timeout)`,
    {
      connection: target.connection,
      retryable: true,
      ...(cause === undefined ? {} : { cause }),
      possibleCauses: ['another instance of the service is migrating now', 'a migration is running long'],
      solutions: ['wait for it and run again (dbmodule migrate status shows where it is)', 'raise migrations.lock_timeout'],
    },
  );
}

/** A stable non-negative int4 of `text` (FNV-1a), the advisory lock's second key. */
function hash31(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}
