/**
 * Real replication on private ports: a PostgreSQL primary with streaming standbys
 * (`pg_basebackup -R`, as RDS builds a read replica) and a MariaDB primary with binlog replicas.
 * Every server is a `PrivateServer`: the test can stop it, start it again, promote it, remove it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { freePort } from '../ports.js';
import { idsOf, pgTool, ping as greets, waitUntil } from '../resilience/private-servers.js';

const run = promisify(execFile);

export interface ReplicatedServer {
  readonly port: number;
  /** The `dbmodule_test` database as the superuser, without TLS. */
  readonly dsn: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

export interface PostgresReplication {
  readonly primary: ReplicatedServer;
  readonly standbys: readonly ReplicatedServer[];
  /** Resolves once every running standby has replayed all the primary had written when called. */
  waitForReplay(): Promise<void>;
  /** `pg_ctl promote` on standby `index`: it leaves recovery and accepts writes. */
  promote(index: number): Promise<void>;
  remove(): Promise<void>;
}

export interface MariadbReplication {
  readonly primary: ReplicatedServer;
  readonly replicas: readonly ReplicatedServer[];
  waitForReplay(): Promise<void>;
  /** Stops replication on replica `index` and makes it writable. */
  promote(index: number): Promise<void>;
  remove(): Promise<void>;
}

// ---- PostgreSQL ------------------------------------------------------------------------------

function privateDir(prefix: string, owner?: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (owner && process.getuid?.() === 0) {
    const { uid, gid } = idsOf(owner);
    chownSync(dir, uid, gid);
  }
  return dir;
}

function postgresServer(dir: string, port: number): ReplicatedServer & { data: string } {
  const data = join(dir, 'data');
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const stop = () => pgTool('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
  let removed = false;
  return {
    port,
    data,
    dsn: `postgresql://postgres@127.0.0.1:${port}/dbmodule_test?sslmode=disable`,
    start: () => pgTool('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']),
    stop,
    remove: async () => {
      if (removed) return;
      removed = true;
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A primary with `standbys` streaming standbys (default 1), each cloned by pg_basebackup -R. */
export async function startPostgresReplication(options: { standbys?: number } = {}): Promise<PostgresReplication> {
  const started: ReplicatedServer[] = [];
  try {
    const primary = postgresServer(privateDir('dbmodule-pgp-', 'postgres'), await freePort());
    started.push(primary);
    await pgTool('initdb', ['-D', primary.data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await primary.start();
    await withPostgres(primary.dsn.replace('/dbmodule_test', '/postgres'), (client) => client.query('CREATE DATABASE dbmodule_test'));
    const standbys: ReplicatedServer[] = [];
    for (let i = 0; i < (options.standbys ?? 1); i++) {
      const standby = postgresServer(privateDir('dbmodule-pgs-', 'postgres'), await freePort());
      started.push(standby);
      await pgTool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', standby.data, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
      await standby.start();
      standbys.push(standby);
    }
    return {
      primary,
      standbys,
      waitForReplay: async () => {
        const target = await withPostgres(primary.dsn, async (client) => (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
        for (const standby of standbys) {
          await waitUntil(
            () =>
              withPostgres(standby.dsn, async (client) => {
                const { rows } = await client.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [target]);
                return rows[0]!.done;
              }).catch(() => true), // a stopped standby has nothing to wait for
            30_000,
            `standby on port ${standby.port} to replay ${target}`,
            () => false,
          );
        }
      },
      promote: async (index) => {
        const standby = standbys[index] as ReturnType<typeof postgresServer> | undefined;
        if (!standby) throw new Error(`no standby ${index}`);
        await pgTool('pg_ctl', ['-D', standby.data, '-w', '-t', '30', 'promote']);
      },
      remove: () => removeAll(started),
    };
  } catch (error) {
    await removeAll(started);
    throw error;
  }
}

async function withPostgres<T>(dsn: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: dsn, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A failover from `from` (the primary) to `to` (its standby), nothing committed lost: `promote`
 * waits for the old primary's sessions to end and `to` to replay all it wrote, then promotes it;
 * `demote` rebuilds the old primary as a streaming standby of the new one (pg_basebackup -R).
 */
export function postgresFailover(from: ReplicatedServer, to: ReplicatedServer): { promote(): Promise<void>; demote(): Promise<void> } {
  return {
    promote: async () => {
      const target = await withPostgres(from.dsn, async (client) => {
        // the writer crashed: what is left of its sessions (an upstream session still being opened
        // when the emulator cut the instance) ends as with a restart
        const others = "FROM pg_stat_activity WHERE datname = 'dbmodule_test' AND backend_type = 'client backend' AND pid <> pg_backend_pid()";
        await waitUntil(
          async () => (await client.query<{ n: number }>(`SELECT count(pg_terminate_backend(pid))::int AS n ${others}`)).rows[0]!.n === 0,
          30_000,
          `the sessions of port ${from.port} to end`,
          () => false,
        );
        return (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
      });
      await waitUntil(
        () => withPostgres(to.dsn, async (client) => (await client.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [target])).rows[0]!.done),
        30_000,
        `port ${to.port} to replay ${target}`,
        () => false,
      );
      await pgTool('pg_ctl', ['-D', (to as ReplicatedServer & { data: string }).data, '-w', '-t', '30', 'promote']);
    },
    demote: async () => {
      const data = (from as ReplicatedServer & { data: string }).data;
      await from.stop();
      rmSync(data, { recursive: true, force: true });
      await pgTool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(to.port), '-U', 'postgres', '-D', data, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
      await from.start();
    },
  };
}

// ---- MariaDB ---------------------------------------------------------------------------------

async function mariadbServer(serverId: number, readOnly: boolean): Promise<ReplicatedServer> {
  const dir = privateDir('dbmodule-myr-');
  const data = join(dir, 'data');
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  await run('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db'], { timeout: 60_000 });
  const args = [
    '--no-defaults',
    `--datadir=${data}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${join(dir, 'sock')}`,
    `--pid-file=${join(dir, 'pid')}`,
    ...user,
    `--server-id=${serverId}`,
    `--log-bin=${join(dir, 'binlog')}`,
    '--binlog-format=ROW',
    ...(readOnly ? ['--read-only=1'] : []),
    '--skip-name-resolve',
    '--innodb-flush-log-at-trx-commit=2',
    `--log-error=${join(dir, 'error.log')}`,
  ];
  let child: ChildProcess | undefined;
  const start = async () => {
    const proc = spawn('mariadbd', args, { stdio: 'ignore' });
    child = proc;
    await waitUntil(() => greets(port), 30_000, `MariaDB on port ${port}`, () => proc.exitCode !== null);
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  };
  await start();
  let removed = false;
  return {
    port,
    dsn: `mysql://root@127.0.0.1:${port}/dbmodule_test`,
    start,
    stop,
    remove: async () => {
      if (removed) return;
      removed = true;
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A primary (server-id 1) with `replicas` read-only replicas (server-id 2, 3, ...; default 1) on GTID replication. */
export async function startMariadbReplication(options: { replicas?: number } = {}): Promise<MariadbReplication> {
  const started: ReplicatedServer[] = [];
  try {
    const primary = await mariadbServer(1, false);
    started.push(primary);
    const replicas: ReplicatedServer[] = [];
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      const replica = await mariadbServer(i + 2, true);
      started.push(replica);
      replicas.push(replica);
    }
    // Replicas start from an empty binlog position, so everything from here on replicates,
    // dbmodule_test included.
    for (const replica of replicas) {
      await withMariadb(replica.port, undefined, async (connection) => {
        await connection.query(`CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${primary.port}, MASTER_USER = 'root', MASTER_USE_GTID = slave_pos`);
        await connection.query('START SLAVE');
      });
    }
    await withMariadb(primary.port, undefined, (connection) => connection.query('CREATE DATABASE dbmodule_test'));
    const replication: MariadbReplication = {
      primary,
      replicas,
      waitForReplay: async () => {
        const position = await withMariadb(primary.port, undefined, async (connection) => {
          const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT @@gtid_binlog_pos AS pos');
          return String(rows[0]!.pos);
        });
        for (const replica of replicas) {
          await withMariadb(replica.port, undefined, async (connection) => {
            const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 30) AS waited', [position]);
            if (Number(rows[0]!.waited) !== 0) throw new Error(`replica on port ${replica.port} did not reach ${position}`);
          }).catch((error: unknown) => {
            if ((error as { code?: string }).code !== 'ECONNREFUSED') throw error;
          });
        }
      },
      promote: async (index) => {
        const replica = replicas[index];
        if (!replica) throw new Error(`no replica ${index}`);
        await withMariadb(replica.port, undefined, async (connection) => {
          await connection.query('STOP SLAVE');
          await connection.query('RESET SLAVE ALL');
          await connection.query('SET GLOBAL read_only = 0');
        });
      },
      remove: () => removeAll(started),
    };
    await replication.waitForReplay();
    return replication;
  } catch (error) {
    await removeAll(started);
    throw error;
  }
}

/**
 * The same failover on MariaDB: `promote` ends what is left of the old primary's sessions, waits
 * for `to` to apply all it wrote, stops replication there and makes it writable; `demote` makes
 * the old primary read only and a GTID replica of the new one.
 */
export function mariadbFailover(from: ReplicatedServer, to: ReplicatedServer, user: string): { promote(): Promise<void>; demote(): Promise<void> } {
  return {
    promote: async () => {
      const position = await withMariadb(from.port, undefined, async (connection) => {
        // the writer crashed: its sessions end, and KILL only flags a thread (one committing
        // finishes first), so the position is read once none is left
        await waitUntil(
          async () => {
            const [threads] = await connection.query<mysql.RowDataPacket[]>('SELECT id FROM information_schema.processlist WHERE user = ?', [user]);
            for (const thread of threads) await connection.query(`KILL ${Number(thread.id)}`).catch(() => {});
            return threads.length === 0;
          },
          30_000,
          `the sessions of ${user} on port ${from.port} to end`,
          () => false,
        );
        const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT @@gtid_binlog_pos AS pos');
        return String(rows[0]!.pos);
      });
      await withMariadb(to.port, undefined, async (connection) => {
        const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 30) AS waited', [position]);
        if (Number(rows[0]!.waited) !== 0) throw new Error(`port ${to.port} did not reach ${position}`);
        await connection.query('STOP SLAVE');
        await connection.query('RESET SLAVE ALL');
        await connection.query('SET GLOBAL read_only = 0');
      });
    },
    demote: () =>
      withMariadb(from.port, undefined, async (connection) => {
        await connection.query('SET GLOBAL read_only = 1');
        await connection.query(`CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${to.port}, MASTER_USER = 'root', MASTER_USE_GTID = current_pos`);
        await connection.query('START SLAVE');
      }),
  };
}

async function withMariadb<T>(port: number, database: string | undefined, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', ...(database ? { database } : {}), connectTimeout: 5_000 });
  try {
    return await use(connection);
  } finally {
    await connection.end().catch(() => {});
  }
}

// ---- shared ----------------------------------------------------------------------------------

async function removeAll(servers: readonly ReplicatedServer[]): Promise<void> {
  // standbys first, so the primary's shutdown does not wait on their walsenders
  for (const server of [...servers].reverse()) await server.remove().catch(() => {});
}
