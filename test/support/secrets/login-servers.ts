/**
 * Servers whose passwords are checked, for the Secrets Manager rotation tests: a private
 * PostgreSQL (SCRAM for every user but postgres; the shared one trusts everyone) and the shared
 * MariaDB (which checks every password). Each makes users, changes their passwords as a rotation
 * does (`ALTER ROLE` / `ALTER USER`), and says who a session is.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { MYSQL_URL, uniqueName } from '../databases.js';
import { startPrivatePostgres } from '../resilience/private-servers.js';

export interface LoginServer {
  readonly driver: 'postgres' | 'mysql';
  /** A DSN of the test database as `user` with `password` (what a connection's `dsn` says). */
  dsn(user: string, password: string): string;
  /** Creates a user that logs in with `password` and may use the test database; returns its name. */
  createUser(prefix: string, password: string): Promise<string>;
  setPassword(user: string, password: string): Promise<void>;
  /** SQL answering `{ u: <the session's user>, pid: <the session's id> }`. */
  readonly whoami: string;
  close(): Promise<void>;
}

export async function privatePostgresLogins(): Promise<LoginServer> {
  const server = await startPrivatePostgres({ checkPasswords: true });
  const admin = new pg.Client({ connectionString: server.dsn });
  await admin.connect();
  return {
    driver: 'postgres',
    dsn: (user, password) => `postgresql://${user}:${password}@127.0.0.1:${server.port}/dbmodule_test?sslmode=disable`,
    createUser: async (prefix, password) => {
      const user = uniqueName(prefix);
      await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
      await admin.query(`GRANT ALL ON DATABASE dbmodule_test TO ${user}`);
      return user;
    },
    setPassword: async (user, password) => {
      await admin.query(`ALTER ROLE ${user} PASSWORD '${password}'`);
    },
    whoami: 'SELECT current_user AS u, pg_backend_pid() AS pid',
    close: async () => {
      await admin.end().catch(() => {});
      await server.remove();
    },
  };
}

export async function sharedMariadbLogins(): Promise<LoginServer> {
  const url = new URL(MYSQL_URL);
  const host = url.hostname;
  const port = Number(url.port || 3306);
  const admin = await mysql.createConnection({ host, port, user: decodeURIComponent(url.username || 'root'), password: decodeURIComponent(url.password) });
  const users: string[] = [];
  const hosts = ['%', 'localhost'];
  return {
    driver: 'mysql',
    dsn: (user, password) => `mysql://${user}:${password}@${host}:${port}/dbmodule_test`,
    createUser: async (prefix, password) => {
      const user = uniqueName(prefix);
      for (const at of hosts) {
        await admin.query(`CREATE USER '${user}'@'${at}' IDENTIFIED BY '${password}'`);
        await admin.query(`GRANT ALL ON \`dbmodule_test\`.* TO '${user}'@'${at}'`);
      }
      users.push(user);
      return user;
    },
    setPassword: async (user, password) => {
      for (const at of hosts) await admin.query(`ALTER USER '${user}'@'${at}' IDENTIFIED BY '${password}'`);
    },
    whoami: "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AS u, CONNECTION_ID() AS pid",
    close: async () => {
      for (const user of users) for (const at of hosts) await admin.query(`DROP USER IF EXISTS '${user}'@'${at}'`).catch(() => {});
      await admin.end().catch(() => {});
    },
  };
}
