// check_idle_sessions (issue 11): the hand-over's wait for the sockets to be polled before a
// session that sat idle is handed out, and what turning it off gives up: the next caller gets a
// session the server ended a moment ago, and its statement fails. The server ends the
// pool's idle session while the event loop is blocked (a synchronous psql / mariadb call), so its
// FIN is in the kernel and not yet seen by the driver when the next caller asks, every time.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { SessionHandover } from '../../src/drivers/session-handover.js';
import { createDatabase, type Database } from '../../src/index.js';
import { MYSQL_SERVER, MYSQL_URL, PG_SERVER, PG_URL, uniqueName } from '../support/databases.js';
import { captureLogger } from '../support/logger.js';

describe('the setting', () => {
  const config = (connection: object, env: Record<string, string> = {}) =>
    validateConfig({ connections: { app: { dsn: 'postgresql://app@db.example.com/app', ...connection } } }, { source: 'object', env }).connections.app!;

  it('is on by default, and set from the file or the environment', () => {
    expect(config({}).check_idle_sessions).toBe(true);
    expect(config({ check_idle_sessions: false }).check_idle_sessions).toBe(false);
    expect(config({}, { DB_APP_CHECK_IDLE_SESSIONS: 'false' }).check_idle_sessions).toBe(false);
    expect(() => config({ check_idle_sessions: 'sometimes' })).toThrow('connections.app.check_idle_sessions: expected a boolean');
  });

  it('off, a session not known dead is handed over at once; on, only after the sockets were polled', async () => {
    const handed: string[] = [];
    const target = { firstCheckout: () => false, isAlive: () => true, deliver: (session: string) => handed.push(session), replace: () => handed.push('replaced') };
    new SessionHandover(target, false).handOver('off', undefined);
    new SessionHandover(target, true).handOver('on', undefined);
    expect(handed).toEqual(['off']);
    await new Promise((resolve) => setImmediate(() => setImmediate(() => setImmediate(resolve))));
    expect(handed).toEqual(['off', 'on']);
  });
});

const engines = [
  {
    driver: 'postgres',
    dsn: (app: string) => `${PG_URL}&application_name=${app}`,
    // pg_terminate_backend(pid, timeout) returns once the backend has exited: its FIN has been sent
    kill: (app: string) =>
      execFileSync('psql', ['-h', PG_SERVER.host, '-p', String(PG_SERVER.port), '-U', 'postgres', '-d', 'postgres', '-qtAc', `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = '${app}'`]),
  },
  {
    driver: 'mysql',
    dsn: () => MYSQL_URL,
    // KILL returns before the thread has closed the socket: the SLEEP gives it the time to
    kill: (_app: string, threadId: number) => execFileSync('mariadb', ['-h', MYSQL_SERVER.host, '-P', String(MYSQL_SERVER.port), '-uroot', '-e', `KILL CONNECTION ${threadId}; SELECT SLEEP(0.3)`]),
  },
] as const;

describe.each(engines)('$driver: the server ended the idle session a moment ago', ({ driver, dsn, kill }) => {
  let db: Database | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  async function openWithOneIdleSession(check: boolean): Promise<{ db: Database; app: string; session: number }> {
    const app = uniqueName('idle_check');
    const opened = await createDatabase(
      { connections: { app: { driver, dsn: dsn(app), max_open_connections: 2, check_idle_sessions: check } } },
      { logger: captureLogger().logger },
    );
    const idSql = driver === 'postgres' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id';
    const { rows } = await opened.connection().query<{ id: number }>(idSql);
    expect(opened.connection().stats()).toMatchObject({ idle: 1, inUse: 0 });
    return { db: opened, app, session: Number(rows[0]!.id) };
  }

  it('on (default): a transaction asking at once gets a live session', async () => {
    const opened = await openWithOneIdleSession(true);
    db = opened.db;
    kill(opened.app, opened.session);
    await expect(db.connection().transaction((tx) => tx.query('SELECT 1 AS one'))).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it('off: the next caller gets the dead session; its statement fails CONNECTION_LOST, in a transaction and through connection.query alike', async () => {
    for (const run of [(db: Database) => db.connection().transaction((tx) => tx.query('SELECT 1 AS one')), (db: Database) => db.connection().query('SELECT 1 AS one')]) {
      const opened = await openWithOneIdleSession(false);
      db = opened.db;
      kill(opened.app, opened.session);
      const failure = await run(db).catch((error: unknown) => error);
      const codes = [(failure as { code?: string }).code, (failure as { cause?: { code?: string } }).cause?.code];
      expect(codes).toContain('CONNECTION_LOST');
      // the pool goes on: the dead session was dropped
      await expect(db.connection().query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
      await db.close();
      db = undefined;
    }
  });
});
