// Logins from AWS Secrets Manager on real servers whose passwords are checked (a private
// PostgreSQL with SCRAM, the shared MariaDB), through the real AWS SDK client against the local
// Secrets Manager of the emulator (SigV4 verified): the secret's login, its rotation while
// sessions are open and queries run, single flight after a rotation, alternating users,
// AWSPENDING never used, and no value from a secret anywhere in logs, events, errors or health.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database, type DatabaseEvents } from '../../src/index.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { KEY } from '../support/emulator.js';
import { fakeClock } from '../support/fake-clock.js';
import { captureLogger } from '../support/logger.js';
import { privatePostgresLogins, sharedMariadbLogins, type LoginServer } from '../support/secrets/login-servers.js';
import { uniqueName } from '../support/databases.js';
import { gate } from '../support/gate.js';
import { waitFor } from '../support/wait.js';

const engines = [
  { name: 'PostgreSQL', open: privatePostgresLogins },
  { name: 'MariaDB', open: sharedMariadbLogins },
] as const;

/** Passwords unique to this run: what the leak scan looks for. */
const pw = (label: string) => `${label}-${Math.random().toString(36).slice(2, 10)}-secret`;

describe.each(engines)('$name', ({ open }) => {
  let server: LoginServer;
  let emulator: Emulator;
  const everyPassword: string[] = [];
  const logs = captureLogger();
  const events: Array<{ name: string; payload: unknown }> = [];
  const databases: Database[] = [];

  beforeAll(async () => {
    server = await open();
    emulator = await startEmulator({ aws: true, credentials: [KEY] });
  }, 60_000);

  afterAll(async () => {
    for (const db of databases) await db.close().catch(() => {});
    await emulator?.close();
    await server?.close();
  });

  const secrets = () => emulator.aws!.secrets;

  /** A user with a fresh password, and a secret holding its login (as RDS stores one). */
  async function userWithSecret(prefix: string): Promise<{ user: string; password: string; secret: string }> {
    const password = pw(prefix);
    everyPassword.push(password);
    const user = await server.createUser(prefix, password);
    const secret = uniqueName(`app/${prefix}`);
    secrets().create(secret, { username: user, password, engine: server.driver, host: '127.0.0.1', dbname: 'dbmodule_test' });
    return { user, password, secret };
  }

  async function openWith(secret: string, extra: Record<string, unknown> = {}, options: Parameters<typeof createDatabase>[1] = {}): Promise<Database> {
    const db = await createDatabase(
      {
        connections: {
          app: {
            driver: server.driver,
            // a placeholder login: the secret's replaces it (the DSN's password is never sent)
            dsn: server.dsn('placeholder', 'not-the-password'),
            secrets_manager: { secret_id: secret, region: 'us-east-1', endpoint: emulator.aws!.endpoint },
            max_open_connections: 4,
            connection_timeout: '10s',
            ...extra,
          },
        },
      },
      { credentials: KEY, logger: logs.logger, ...options },
    );
    databases.push(db);
    for (const name of ['secret.refreshed', 'secret.refresh_failed', 'auth.retried', 'connection.error'] as const) {
      db.on(name, (payload: DatabaseEvents[typeof name]) => events.push({ name, payload }));
    }
    return db;
  }

  const whoami = async (db: Database) => (await db.connection().query<{ u: string; pid: number }>(server.whoami)).rows[0]!;
  const currentVersion = (secret: string) => Object.entries(secrets().stages(secret)).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];

  /** whoami on a session opened for it: every idle session is held meanwhile (mysql2 keeps idle sessions until they time out). */
  async function whoamiOnNewSession(db: Database): Promise<{ u: string; pid: number }> {
    const connection = db.connection();
    const idle = connection.stats().idle;
    const held = gate();
    const holders = Array.from({ length: idle }, () => connection.transaction(() => held.promise));
    try {
      await waitFor(() => connection.stats().inUse >= idle, 5_000, 'the idle sessions held');
      return await whoami(db);
    } finally {
      held.open();
      await Promise.all(holders);
    }
  }

  it("logs in with the secret's user and password, not the DSN's; health says which version, never a value", async () => {
    const { user, secret } = await userWithSecret('sm_login');
    const before = secrets().fetches(secret);
    const db = await openWith(secret);
    expect((await whoami(db)).u).toBe(user);
    expect(secrets().fetches(secret) - before).toBe(1);
    const health = await db.health();
    expect(health.connections.app!.secret).toMatchObject({ status: 'valid', secretId: secret, region: 'us-east-1', fetches: 1, consecutiveFailures: 0 });
    expect(health.connections.app!.secret!.versionId).toBe(currentVersion(secret));
    // the secret's id and version are asked for AWSCURRENT by name
    expect(secrets().requests().filter((request) => request.secretName === secret).map((request) => request.versionStage)).toEqual(['AWSCURRENT']);
  });

  it('rotation: the password changes on the server, the secret 3 s later; established sessions keep working, new ones back off and then succeed, no query fails', async () => {
    const { user, secret } = await userWithSecret('sm_rotate');
    const db = await openWith(secret);
    const established = await whoami(db);
    const next = pw('rotated');
    everyPassword.push(next);
    await server.setPassword(user, next);
    const updated = new Promise<void>((resolve) =>
      setTimeout(() => {
        secrets().put(secret, { username: user, password: next });
        resolve();
      }, 3_000),
    );
    const retriesBefore = events.filter((event) => event.name === 'auth.retried').length;
    // four callers at once on a pool holding one session: three sessions must be opened meanwhile
    const results: Array<{ u: string; pid: number }> = [];
    const failures: unknown[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() - started < 4_000) {
          try {
            results.push(await whoami(db));
          } catch (error) {
            failures.push(error);
          }
        }
      }),
    );
    await updated;
    expect(failures).toEqual([]);
    expect(new Set(results.map((row) => row.u))).toEqual(new Set([user]));
    // the session opened before the rotation served queries while the new ones waited
    expect(results.some((row) => row.pid === established.pid)).toBe(true);
    expect(new Set(results.map((row) => row.pid)).size).toBeGreaterThan(1);
    expect(events.filter((event) => event.name === 'auth.retried').length).toBeGreaterThan(retriesBefore);
    // a fetch per rejection window at most while the server refused the old password, not one per refusal
    expect(secrets().fetches(secret)).toBeLessThanOrEqual(1 + 5);
    expect((await db.health()).connections.app!.secret!.versionId).toBe(currentVersion(secret));
  });

  it('50 connects at once after a rotation: exactly one secret fetch', async () => {
    const { user, secret } = await userWithSecret('sm_burst');
    const db = await openWith(secret, { max_open_connections: 50, max_idle_connections: 50 });
    const next = pw('burst');
    everyPassword.push(next);
    await server.setPassword(user, next);
    secrets().put(secret, { username: user, password: next });
    const before = secrets().fetches(secret);
    // 50 sessions held at once: 49 are opened with the cached (old) login and refused
    const sleep = server.driver === 'postgres' ? 'SELECT pg_sleep(0.2)' : 'SELECT SLEEP(0.2)';
    await Promise.all(Array.from({ length: 50 }, () => db.connection().transaction((tx) => tx.query(sleep))));
    expect(secrets().fetches(secret) - before).toBe(1);
    expect(db.connection().stats().total).toBe(50);
  });

  it('alternating users: a secret that moved to the other user is picked up when the old login is refused, and by the next refresh', async () => {
    const a = await userWithSecret('sm_alt_a');
    const clock = fakeClock(Date.now());
    const db = await openWith(a.secret, {}, { clock });
    expect((await whoami(db)).u).toBe(a.user);
    // the rotation clones the login to the other user and moves AWSCURRENT to it; the first user still works
    const bPassword = pw('alt-b');
    everyPassword.push(bPassword);
    const b = await server.createUser('sm_alt_b', bPassword);
    secrets().put(a.secret, { username: b, password: bPassword });
    // not yet fetched: a new session still logs in as the first user, which works
    expect((await whoamiOnNewSession(db)).u).toBe(a.user);
    // after secrets_manager.refresh (1h by default) the next opening fetches it in the background,
    // itself still using the login it has
    clock.advance(60 * 60 * 1000 + 1);
    expect((await whoamiOnNewSession(db)).u).toBe(a.user);
    await waitFor(() => db.connection().secretState()?.status === 'valid' && db.connection().secretState()?.fetches === 2, 5_000, 'the refresh');
    expect((await whoamiOnNewSession(db)).u).toBe(b);
    expect(events.some((event) => event.name === 'secret.refreshed' && (event.payload as { reason: string }).reason === 'refresh')).toBe(true);
  });

  it('a refused login whose secret changed user is retried at once with the new login', async () => {
    const a = await userWithSecret('sm_switch');
    const db = await openWith(a.secret);
    expect((await whoami(db)).u).toBe(a.user);
    const bPassword = pw('switch-b');
    everyPassword.push(bPassword);
    const b = await server.createUser('sm_switch_b', bPassword);
    secrets().put(a.secret, { username: b, password: bPassword });
    // the next rotation step invalidates the first user's password
    const aNext = pw('switch-a2');
    everyPassword.push(aNext);
    await server.setPassword(a.user, aNext);
    const retries = events.filter((event) => event.name === 'auth.retried').length;
    expect((await whoamiOnNewSession(db)).u).toBe(b);
    // the refetch brought another login: no backoff was needed
    expect(events.filter((event) => event.name === 'auth.retried').length).toBe(retries);
  });

  it('AWSPENDING is never used: a rotation staged but not finished keeps sessions on AWSCURRENT until it is promoted', async () => {
    const { user, secret } = await userWithSecret('sm_pending');
    const db = await openWith(secret);
    const pending = pw('pending');
    everyPassword.push(pending);
    const versionId = secrets().put(secret, { username: user, password: pending }, { stages: ['AWSPENDING'] });
    // the rotation's setSecret step: the server already has the pending password
    await server.setPassword(user, pending);
    const promoted = new Promise<void>((resolve) =>
      setTimeout(() => {
        secrets().promote(secret, versionId);
        resolve();
      }, 1_500),
    );
    expect((await whoamiOnNewSession(db)).u).toBe(user);
    await promoted;
    const stages = secrets().requests().filter((request) => request.secretName === secret).map((request) => request.versionStage);
    expect(stages.length).toBeGreaterThan(1);
    expect(new Set(stages)).toEqual(new Set(['AWSCURRENT']));
  });

  it('a secret that cannot be read fails the opening with its own code; nothing of any secret appears in logs, events, errors or health', async () => {
    const missing = await createDatabase(
      { connections: { app: { driver: server.driver, dsn: server.dsn('placeholder', 'x'), secrets_manager: { secret_id: 'app/none', region: 'us-east-1', endpoint: emulator.aws!.endpoint } } } },
      { credentials: KEY, logger: logs.logger },
    ).catch((error: unknown) => error);
    expect(missing).toMatchObject({ code: 'SECRET_UNAVAILABLE', connection: 'app' });
    expect((missing as Error).message).toContain('"app/none"');
    expect((missing as Error).message).toContain('ResourceNotFoundException');

    const plain = uniqueName('app/plain');
    const value = pw('not-json');
    everyPassword.push(value);
    secrets().create(plain, value);
    const invalid = await createDatabase(
      { connections: { app: { driver: server.driver, dsn: server.dsn('placeholder', 'x'), secrets_manager: { secret_id: plain, region: 'us-east-1', endpoint: emulator.aws!.endpoint } } } },
      { credentials: KEY, logger: logs.logger },
    ).catch((error: unknown) => error);
    expect(invalid).toMatchObject({ code: 'SECRET_INVALID' });
    expect((invalid as Error).message).toBe(`connection "app": secret "${plain}" is not JSON: expected {"username": "...", "password": "..."}`);

    const health = await Promise.all(databases.map((db) => db.health()));
    const everything = JSON.stringify({ lines: logs.lines, entries: logs.entries, events, health, missing: serialise(missing), invalid: serialise(invalid) });
    expect(everyPassword.length).toBeGreaterThan(5);
    for (const password of everyPassword) expect(everything).not.toContain(password);
    expect(everything).not.toContain(KEY.secretAccessKey);
  });
});

/** An error as a log or a JSON API would show it: message, fields and the messages of its causes. */
function serialise(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  return { ...error, message: error.message, stack: error.stack, cause: serialise(error.cause) };
}
