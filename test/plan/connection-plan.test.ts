/**
 * One plan per connection, over every combination a user can write: driver x IAM on/off x TLS
 * mode x CA file x db_user. For each cell, the plan is asserted against rules written here by
 * hand, `dbmodule check --json` must report that plan, and the driver pool built from it must
 * receive exactly that user, endpoint and TLS. Every IAM cell that should log in does, through
 * `connection.query` and `connection.pool`, as a user named only by db_user (the DSN's user does
 * not exist), via the emulator that verifies tokens as RDS does.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { Pool as MysqlPool } from 'mysql2';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planConnection } from '../../src/config/plan.js';
import type { ConnectionPlanView } from '../../src/config/plan-view.js';
import { createDatabase, DbModuleError, loadConfig, rdsCaBundle } from '../../src/index.js';
import { loadDriver } from '../../src/drivers/index.js';
import type { DriverPool } from '../../src/drivers/types.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/logging.js';
import { cli } from '../support/cli.js';
import { MYSQL_URL, PG_URL, withoutUser } from '../support/databases.js';

type Driver = 'postgres' | 'mysql';
type Mode = 'absent' | 'require' | 'verify-ca' | 'verify-full' | 'disable';
type DbUser = 'absent' | 'same' | 'different';
interface Cell {
  readonly driver: Driver;
  readonly iam: boolean;
  readonly mode: Mode;
  readonly ca: boolean;
  readonly dbUser: DbUser;
}

const KEY = { accessKeyId: 'AKIAPLANTESTKEY00001', secretAccessKey: 'plan-test-secret-key-do-not-print' } as const;
const RDS_HOST = 'mydb.cluster-plantest.us-east-1.rds.amazonaws.com';
const RDS_PORT: Record<Driver, number> = { postgres: 5432, mysql: 3306 };
/** Exists on both servers (.ci/prepare-databases) and is named only by aws_iam_auth.db_user. */
const ROLE = 'dbmodule_iam_only';
/** Exists nowhere: the DSN's user in the `different` cells. */
const GHOST = 'dbmodule_no_such_user';
const DIRECT_USER: Record<Driver, string> = { postgres: 'postgres', mysql: 'root' };
/** The mysql spellings of the modes, as a MySQL user writes them. */
const MYSQL_MODE: Record<Exclude<Mode, 'absent'>, string> = { require: 'REQUIRED', 'verify-ca': 'VERIFY_CA', 'verify-full': 'VERIFY_IDENTITY', disable: 'DISABLED' };

const CELLS: Cell[] = (['postgres', 'mysql'] as const).flatMap((driver) =>
  [false, true].flatMap((iam) =>
    (['absent', 'require', 'verify-ca', 'verify-full', 'disable'] as const).flatMap((mode) =>
      [false, true].flatMap((ca) => (['absent', 'same', 'different'] as const).map((dbUser): Cell => ({ driver, iam, mode, ca, dbUser }))),
    ),
  ),
);

const nameOf = (cell: Cell): string => `${cell.driver}_${cell.iam ? 'iam' : 'direct'}_${cell.mode.replace('-', '_')}_${cell.ca ? 'ca' : 'noca'}_dbuser_${cell.dbUser}`;

let emulator: Emulator;
let connections: Record<string, unknown>;

/** The connection of a cell, as a user writes it in a config file. */
function connectionOf(cell: Cell): Record<string, unknown> {
  const port = cell.iam ? (cell.driver === 'postgres' ? emulator.postgres?.port : emulator.mysql?.port) : RDS_PORT[cell.driver];
  const host = cell.iam ? 'localhost' : '127.0.0.1';
  const dsnUser = cell.iam ? (cell.dbUser === 'different' ? GHOST : ROLE) : DIRECT_USER[cell.driver];
  const params: string[] = [];
  if (cell.mode !== 'absent') params.push(cell.driver === 'postgres' ? `sslmode=${cell.mode}` : `ssl-mode=${MYSQL_MODE[cell.mode]}`);
  if (cell.ca) params.push(`${cell.driver === 'postgres' ? 'sslrootcert' : 'ssl-ca'}=${emulator.caFile}`);
  const scheme = cell.driver === 'postgres' ? 'postgresql' : 'mysql';
  const dbUser = cell.dbUser === 'absent' ? {} : { db_user: cell.dbUser === 'same' ? dsnUser : ROLE };
  return {
    driver: cell.driver,
    // A placeholder password, which IAM must strip.
    dsn: `${scheme}://${dsnUser}:placeholder@${host}:${port}/dbmodule_test${params.length > 0 ? `?${params.join('&')}` : ''}`,
    connection_timeout: '10s',
    aws_iam_auth: { enabled: cell.iam, ...(cell.iam ? { signing_host: RDS_HOST, signing_port: RDS_PORT[cell.driver] } : {}), ...dbUser },
  };
}

interface Expected {
  readonly error?: string;
  readonly user?: string;
  readonly mode?: string;
  /** undefined: no TLS. */
  readonly tls?: { readonly ca: 'file' | 'rds-bundle' | 'node' | undefined; readonly verifyHost: boolean };
}

/** The rules of DESIGN §4-§5, written out independently of the code. */
function expected(cell: Cell): Expected {
  if (cell.iam && cell.mode === 'disable') return { error: 'TLS_FAILED' };
  const dsnUser = cell.iam ? (cell.dbUser === 'different' ? GHOST : ROLE) : DIRECT_USER[cell.driver];
  // db_user takes precedence over the DSN's user, under IAM (it is ignored without IAM).
  const user = cell.iam && cell.dbUser !== 'absent' ? ROLE : dsnUser;
  let mode: string = cell.mode;
  if (cell.mode === 'absent') {
    // IAM: verify-full. A CA file alone asks for verification (node-postgres: verify-full,
    // the mysql client: VERIFY_CA). Nothing at all: the driver's default, plaintext here.
    mode = cell.iam ? 'verify-full' : cell.ca ? (cell.driver === 'postgres' ? 'verify-full' : 'verify-ca') : cell.driver === 'postgres' ? 'prefer' : 'disable';
  }
  if (mode === 'prefer' || mode === 'disable') return { user, mode };
  // libpq: require with a root certificate verifies the chain.
  const verifyChain = mode !== 'require' || cell.ca;
  const ca = !verifyChain ? undefined : cell.ca ? 'file' : cell.iam ? 'rds-bundle' : 'node';
  return { user, mode, tls: { ca, verifyHost: mode === 'verify-full' } };
}

/** IAM cells whose login must succeed: TLS on, and the emulator's CA trusted or nothing verified. */
const shouldLogIn = (cell: Cell): boolean => cell.iam && cell.mode !== 'disable' && (cell.ca || cell.mode === 'require');

beforeAll(async () => {
  emulator = await startEmulator({
    region: 'us-east-1',
    hostnames: ['localhost', RDS_HOST],
    credentials: [KEY],
    // No user in the upstream URLs: sessions log in upstream as the IAM user itself.
    postgres: { upstream: withoutUser(PG_URL), advertisedPort: 5432 },
    mysql: { upstream: withoutUser(MYSQL_URL), advertisedPort: 3306 },
  });
  connections = Object.fromEntries(CELLS.map((cell) => [nameOf(cell), connectionOf(cell)]));
});

afterAll(async () => {
  await emulator?.close();
});

describe('the plan of every cell', () => {
  it.each(CELLS.map((cell) => [nameOf(cell), cell] as const))('%s', async (name, cell) => {
    const config = await loadConfig({ env: {}, file: writeConfig({ [name]: connections[name] }) });
    const want = expected(cell);
    if (want.error) {
      expect(() => planConnection(config.connections[name]!)).toThrow(expect.objectContaining({ code: want.error, connection: name }));
      return;
    }
    const plan = planConnection(config.connections[name]!);
    expect(plan.user).toBe(want.user);
    expect(plan.dsn.password).toBe(cell.iam ? undefined : 'placeholder');
    expect(plan.tls.mode).toBe(want.mode);
    expect(plan.tls.options === false).toBe(want.tls === undefined);
    expect(plan.tls.ca).toBe(want.tls?.ca);
    expect(plan.tls.caFile).toBe(want.tls?.ca === 'file' ? emulator.caFile : undefined);
    if (cell.iam) {
      expect(plan.iam).toMatchObject({ user: want.user, signingHost: RDS_HOST, signingPort: RDS_PORT[cell.driver], region: 'us-east-1' });
    } else {
      expect(plan.iam).toBeUndefined();
    }
  });
});

describe('check --json reports the plan the driver receives', () => {
  let views: Map<string, ConnectionPlanView | undefined>;

  beforeAll(async () => {
    const file = writeConfig(connections);
    const { stdout } = await cli(['check', '--json', '--config', file], { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey });
    const report = JSON.parse(stdout) as { connections: Array<{ name: string; plan?: ConnectionPlanView }> };
    views = new Map(report.connections.map((check) => [check.name, check.plan]));
    expect(stdout).not.toContain(KEY.secretAccessKey);
    expect(stdout).not.toContain('placeholder');
  }, 120_000);

  it.each(CELLS.map((cell) => [nameOf(cell), cell] as const))('%s', async (name, cell) => {
    const want = expected(cell);
    const view = views.get(name);
    if (want.error) {
      expect(view).toBeUndefined();
      return;
    }
    expect(view).toBeDefined();
    const shown = view as ConnectionPlanView;
    // What check shows is what the rules say...
    expect(shown.user).toBe(want.user);
    expect(shown.tls.mode).toBe(want.mode);
    expect(shown.tls.ca).toBe(want.tls?.ca);
    expect(shown.iam?.signingEndpoint).toBe(cell.iam ? `${RDS_HOST}:${RDS_PORT[cell.driver]}` : undefined);
    expect(shown.iam?.user).toBe(cell.iam ? want.user : undefined);

    // ... and exactly what the driver pool built for the connection is given.
    const config = await loadConfig({ env: {}, file: writeConfig({ [name]: connections[name] }) });
    const plan = planConnection(config.connections[name]!);
    const driver = await loadDriver(cell.driver);
    const pool = await driver.createPool({ plan, logger: silentLogger, clock: { now: () => Date.now() }, ...(cell.iam ? { password: async () => 'token' } : {}) });
    try {
      const received = receivedBy(cell.driver, pool);
      expect(received.user).toBe(shown.user);
      expect(`${received.host}:${received.port}`).toBe(shown.endpoint);
      if (shown.tls.mode === 'prefer' || shown.tls.mode === 'disable') {
        expect(received.tls).toBeUndefined();
        return;
      }
      const tls = received.tls as ReceivedTls;
      expect(tls.verifyChain).toBe(shown.tls.ca !== undefined);
      expect(tls.verifyHost).toBe(shown.tls.mode === 'verify-full');
      if (shown.tls.ca === 'file') expect(tls.ca).toEqual([readFileSync(emulator.caFile, 'utf8')]);
      else if (shown.tls.ca === 'rds-bundle') expect(tls.ca).toEqual([...rdsCaBundle()]);
      else expect(tls.ca).toBeUndefined();
    } finally {
      await pool.close();
    }
  });
});

describe('IAM logins: db_user is the user that signs and the user that logs in', () => {
  it.each(CELLS.filter((cell) => cell.iam).map((cell) => [nameOf(cell), cell] as const))('%s', async (name, cell) => {
    const want = expected(cell);
    let db: Awaited<ReturnType<typeof createDatabase>> | undefined;
    try {
      const opening = createDatabase({ connections: { [name]: connections[name] } }, { logger: silentLogger, credentials: KEY });
      if (!shouldLogIn(cell)) {
        // TLS off is refused; a verified TLS against the RDS bundle does not trust the emulator.
        await expect(opening).rejects.toMatchObject({ code: 'TLS_FAILED', connection: name });
        return;
      }
      db = await opening;
      const connection = db.connection(name);
      const sql = cell.driver === 'postgres' ? 'SELECT current_user AS "user"' : "SELECT SUBSTRING_INDEX(USER(), '@', 1) AS user";
      const viaQuery = await connection.query<{ user: string }>(sql);
      expect(viaQuery.rows[0]?.user).toBe(want.user);
      expect(await viaNativePool(cell.driver, connection.pool, sql)).toBe(want.user);
    } catch (error) {
      if (error instanceof DbModuleError) error.message += ` [${error.code}]`;
      throw error;
    } finally {
      await db?.close();
    }
  });
});

// --- helpers ---

interface ReceivedTls {
  verifyChain: boolean;
  verifyHost: boolean;
  ca: string[] | undefined;
}

/** The user, endpoint and TLS the driver's own pool was configured with. */
function receivedBy(driver: Driver, pool: DriverPool): { user?: string; host?: string; port?: number; tls?: ReceivedTls } {
  const pem = (ca: unknown): string[] | undefined => (ca === undefined ? undefined : (Array.isArray(ca) ? ca : [ca]).map(String));
  if (driver === 'postgres') {
    const options = (pool.native as pg.Pool).options as pg.PoolConfig;
    const ssl = options.ssl as ConnectionOptions | false | undefined;
    return {
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(ssl ? { tls: { verifyChain: ssl.rejectUnauthorized !== false, verifyHost: ssl.checkServerIdentity === undefined, ca: pem(ssl.ca) } } : {}),
    };
  }
  const config = (pool.native as unknown as { config: { connectionConfig: { user?: string; host?: string; port?: number; ssl?: { rejectUnauthorized?: boolean; verifyIdentity?: boolean; ca?: unknown } } } }).config.connectionConfig;
  const ssl = config.ssl;
  return {
    ...(config.user === undefined ? {} : { user: config.user }),
    ...(config.host === undefined ? {} : { host: config.host }),
    ...(config.port === undefined ? {} : { port: config.port }),
    ...(ssl ? { tls: { verifyChain: ssl.rejectUnauthorized !== false, verifyHost: ssl.verifyIdentity === true, ca: pem(ssl.ca) } } : {}),
  };
}

/** Runs `sql` through the connection's native pool, as an ORM would, and returns its `user` column. */
async function viaNativePool(driver: Driver, native: unknown, sql: string): Promise<string | undefined> {
  if (driver === 'postgres') return (await (native as pg.Pool).query<{ user: string }>(sql)).rows[0]?.user;
  return new Promise((resolve, reject) => {
    (native as MysqlPool).query(sql, (error: Error | null, rows: unknown) => (error ? reject(error) : resolve((rows as Array<{ user: string }>)[0]?.user)));
  });
}

let files = 0;
/** A YAML-compatible JSON config file holding `connections`. */
function writeConfig(entries: Record<string, unknown>): string {
  files += 1;
  const file = `${emulator.caFile}.config-${process.pid}-${files}.json`;
  writeFileSync(file, JSON.stringify({ database: { default: Object.keys(entries)[0], connections: entries } }));
  return file;
}

describe('check shows the DSN as a user reads it', () => {
  it("names the DSN's query parameters in the dsn phase, secret-looking ones redacted", async () => {
    const dsn = 'postgresql://postgres:dsn-secret-1@127.0.0.1:5432/dbmodule_test?application_name=plan_check&sslmode=disable&sslpassword=key-secret-2';
    const { stdout } = await cli(['check'], { DB_MAIN_DSN: dsn });
    const line = stdout.split('\n').find((text) => text.trimStart().startsWith('dsn'));
    expect(line).toContain('(application_name=plan_check, sslmode=disable, sslpassword=****)');
    expect(stdout).not.toContain('dsn-secret-1');
    expect(stdout).not.toContain('key-secret-2');
  });
});
