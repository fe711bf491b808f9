import { createDatabase, isDbModuleError, type Database, type Logger } from '../../index.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from '../../iam/index.js';
import { startEmulator, type AuthAttempt, type Emulator } from '../../emulator/index.js';
import { DemoClock } from './clock.js';
import type { Narrator } from './narrator.js';

/**
 * The demo's AWS keys: made up, accepted only by the embedded emulator. The secrets are never
 * printed (nor the tokens signed with them); only the last four characters of the key ids are.
 */
export const DEMO_KEYS = {
  first: { accessKeyId: 'AKIADBMODULEDEMO1111', secretAccessKey: 'dbmodule-demo-secret-one-0f3a9c7e5b1d' },
  rotated: { accessKeyId: 'AKIADBMODULEDEMO2222', secretAccessKey: 'dbmodule-demo-secret-two-8e2b6d4f0a7c' },
} as const satisfies Record<string, AwsCredentialIdentity>;

/** The RDS endpoint name tokens are signed for; the emulator answers to it (and to localhost). */
export const DEMO_SIGNING_HOST = 'demo-db.cluster-c0ffee.us-east-1.rds.amazonaws.com';
const DEMO_USER = 'app_user';
const MINUTE = 60_000;

/** The slice of pg.Pool the demo uses to hold sessions, so that the next query needs a new one. */
interface HeldSession {
  query(sql: string): Promise<{ rows: unknown[] }>;
  release(destroy?: boolean): void;
}
interface NativePool {
  connect(): Promise<HeldSession>;
}

/**
 * The RDS IAM lifecycle, step by step, against the embedded emulator (PGlite behind it):
 * connect with a token, query, let the token expire (open sessions keep working, new ones take a
 * fresh token), revoke the key (the failure is diagnosed), rotate the credentials (recovery).
 * Every step states what it expects; the narrator records whether it held.
 */
export async function runDemoScenario(narrator: Narrator, logger: Logger): Promise<void> {
  const clock = new DemoClock();
  const at = (time: number | undefined) => clock.label(time);
  const suffix = (id: string | undefined) => (id ? `...${id.slice(-4)}` : '-');
  let emulator: Emulator | undefined;
  let db: Database | undefined;
  const held: HeldSession[] = [];
  const releaseHeld = () => held.splice(0).forEach((session) => session.release());

  try {
    // ---------------------------------------------------------------------------------------
    narrator.step('Start a local RDS IAM endpoint (the dbmodule emulator)');
    emulator = await startEmulator({
      clock,
      hostnames: ['localhost', DEMO_SIGNING_HOST],
      credentials: [DEMO_KEYS.first],
      postgres: { advertisedPort: 5432 },
      mysql: false,
    });
    const endpoint = emulator.postgres;
    if (!endpoint) throw new Error('the emulator did not start its PostgreSQL endpoint');
    narrator.say(`PostgreSQL protocol on ${endpoint.host}:${endpoint.port}, sessions served by ${endpoint.backend === 'pglite' ? 'an embedded PGlite database' : endpoint.backend}`);
    narrator.say(`it accepts tokens signed for ${DEMO_SIGNING_HOST}:5432 in ${emulator.region} with key ${suffix(DEMO_KEYS.first.accessKeyId)}, over TLS (its CA: ${emulator.caFile})`);
    narrator.why('it checks each token as RDS does: SigV4 signature, host:port, region, user, 15-minute validity, key status');
    narrator.expect(endpoint.backend === 'pglite', 'nothing to install: no database server, no AWS account');
    const logins = new AuthLogView(emulator);

    // ---------------------------------------------------------------------------------------
    narrator.step('Connect with IAM authentication');
    clock.resetOrigin();
    let credentials: AwsCredentialIdentity = DEMO_KEYS.first;
    const provider: AwsCredentialProvider = async () => credentials;
    const dsn = `postgresql://${DEMO_USER}:$TOKEN@localhost:${endpoint.port}/postgres?sslmode=verify-full&sslrootcert=${encodeURIComponent(emulator.caFile)}`;
    db = await createDatabase(
      {
        default: 'app',
        connections: {
          app: {
            driver: 'postgres',
            dsn,
            max_open_connections: 4,
            connection_timeout: 10,
            aws_iam_auth: { enabled: true, signing_host: DEMO_SIGNING_HOST, signing_port: 5432 },
          },
        },
      },
      { clock, credentials: provider, logger },
    );
    const app = db.connection('app');
    const pool = app.pool as NativePool;
    let retries = 0;
    db.on('token.refreshed', (event) => narrator.say(`event token.refreshed: key ...${event.accessKeyIdSuffix}, handed out until ${at(event.expiresAt)}`));
    db.on('auth.retried', (event) => {
      retries += 1;
      narrator.say(`event auth.retried: attempt ${event.attempt} was refused (${event.code}); retrying with a new token in ${event.delayMs}ms`);
    });
    const first = app.tokenState();
    narrator.say(`DSN postgresql://${DEMO_USER}:$TOKEN@localhost:${endpoint.port}/postgres: the $TOKEN placeholder is stripped, a token replaces it`);
    narrator.say(`token signed at ${at(first?.issuedAt)} for ${first?.signedHost}:${first?.signedPort}, region ${first?.region}, user ${first?.user}, key ...${first?.accessKeyIdSuffix}`);
    narrator.say(`handed out until ${at(first?.expiresAt)} (15 minutes minus a 1-minute safety margin), refreshed ahead from ${at(first?.refreshAt)}`);
    narrator.say(`emulator: ${logins.describeAllowed()}`);
    narrator.why('each new physical connection asks the token provider for a token; one cached token serves every connection while valid');
    narrator.expect(logins.allowed().length >= 1 && first?.status === 'valid', `connected: the emulator verified ${logins.allowed().length} IAM login(s)`);

    // ---------------------------------------------------------------------------------------
    narrator.step('Query through the pool');
    await app.query('CREATE TABLE IF NOT EXISTS demo_orders (id int PRIMARY KEY, item text NOT NULL)');
    await app.query('DELETE FROM demo_orders');
    await app.query('INSERT INTO demo_orders (id, item) VALUES ($1, $2), ($3, $4)', [1, 'coffee', 2, 'tea']);
    const { rows } = await app.query<{ item: string }>('SELECT item FROM demo_orders ORDER BY id');
    narrator.say(`SELECT item FROM demo_orders -> ${rows.map((row) => row.item).join(', ')}`);
    narrator.expect(rows.length === 2 && rows[0]?.item === 'coffee', 'the rows written are read back');

    // ---------------------------------------------------------------------------------------
    narrator.step('Sixteen minutes later: the token has expired');
    const loginsBefore = logins.allowed().length;
    clock.advance(16 * MINUTE);
    const expired = app.tokenState();
    narrator.say(`the emulator and token clocks now read ${at(clock.now())}; the token from ${at(first?.issuedAt)} is ${expired?.status}`);
    const still = await app.query<{ n: number }>('SELECT count(*)::int AS n FROM demo_orders');
    narrator.say(`a query on the session opened at ${at(logins.allowed()[0]?.time.getTime())} -> ${still.rows[0]?.n} rows, with no new login (${logins.allowed().length} so far)`);
    narrator.why('RDS checks a token only when a connection authenticates; established sessions are never dropped because their token expired');
    narrator.expect(expired?.status === 'expired', 'the provider no longer hands the old token out');
    narrator.expect(still.rows[0]?.n === 2 && logins.allowed().length === loginsBefore, 'the existing session keeps working without re-authenticating');

    // ---------------------------------------------------------------------------------------
    narrator.step('A new physical connection takes a fresh token');
    held.push(await pool.connect());
    await app.query('SELECT 1');
    const fresh = app.tokenState();
    const newest = logins.allowed().at(-1);
    narrator.say(`the idle session is held elsewhere, so the pool opened another: ${logins.describeAllowed()}`);
    narrator.say(`new token signed at ${at(fresh?.issuedAt)}, handed out until ${at(fresh?.expiresAt)} (${fresh?.signCount} tokens signed so far)`);
    const oldSession = await held[0]?.query('SELECT 1 AS ok');
    narrator.say(`the old session (logged in at ${at(logins.allowed()[0]?.time.getTime())}) still answers: ${oldSession?.rows.length === 1 ? 'yes' : 'no'}`);
    releaseHeld();
    const health = await db.health();
    const token = health.connections.app?.token;
    narrator.say(`health(): ok=${health.ok}, pool ${health.connections.app?.pool.total} sessions, token ${token?.status} issued ${at(token?.issuedAt)} until ${at(token?.expiresAt)}, credentials from ${token?.credentialSource} (the demo's provider function), key ...${token?.accessKeyIdSuffix}`);
    narrator.say('(PGlite serves every session from one embedded backend, so sessions are told apart by their logins, not by pg_backend_pid())');
    narrator.why('the token is fetched per new physical connection (pg password function), so expiry costs one signature, not an outage');
    narrator.expect(
      logins.allowed().length === loginsBefore + 1 && (newest?.time.getTime() ?? 0) >= (first?.issuedAt ?? 0) + 16 * MINUTE && (fresh?.issuedAt ?? 0) >= (first?.issuedAt ?? 0) + 16 * MINUTE,
      `one new login, with a token signed at ${at(fresh?.issuedAt)}, after the clock moved`,
    );
    narrator.expect(oldSession?.rows.length === 1 && health.ok, 'old and new sessions both work');

    // ---------------------------------------------------------------------------------------
    narrator.step(`Revoke access key ${suffix(DEMO_KEYS.first.accessKeyId)}`);
    emulator.revoke(DEMO_KEYS.first.accessKeyId);
    const revokedAt = clock.now();
    held.push(await pool.connect(), await pool.connect());
    const open = await Promise.all(held.map((session) => session.query('SELECT 1 AS ok')));
    narrator.say(`the ${open.length} sessions already open still answer: RDS does not re-check them`);
    const failure = await app.query('SELECT 1').then(
      () => undefined,
      (error: unknown) => error,
    );
    releaseHeld();
    const denied = logins.denied(revokedAt);
    narrator.say(`a new connection: ${denied.length} login(s) refused by the emulator (${[...new Set(denied.map((attempt) => attempt.reason))].join(', ')}), ${retries} retried with a new token`);
    if (isDbModuleError(failure)) {
      narrator.say(`error ${failure.code}: ${failure.message}`);
      for (const cause of failure.possibleCauses) narrator.say(`  possible cause: ${cause}`);
      for (const solution of failure.solutions) narrator.say(`  try: ${solution}`);
    } else {
      narrator.say(`outcome: ${failure === undefined ? 'the query succeeded' : String(failure)}`);
    }
    narrator.why('an authentication failure invalidates the token and the cached credentials, re-signs and retries with backoff, then gives up with a diagnosis');
    narrator.expect(open.length === 2, 'established sessions survive the revocation');
    narrator.expect(isDbModuleError(failure) && failure.code === 'IAM_AUTH_FAILED' && failure.possibleCauses.length > 0, 'new connections fail with IAM_AUTH_FAILED, causes and solutions');
    narrator.expect(denied.length >= 2 && denied.every((attempt) => attempt.reason === 'KEY_REVOKED'), 'each retry used a new token, and each was refused because the key is revoked');

    // ---------------------------------------------------------------------------------------
    narrator.step(`Rotate the credentials to key ${suffix(DEMO_KEYS.rotated.accessKeyId)}`);
    emulator.addCredentials(DEMO_KEYS.rotated);
    credentials = DEMO_KEYS.rotated;
    narrator.say(`IAM trusts key ${suffix(DEMO_KEYS.rotated.accessKeyId)}; the credential provider now returns it (as a rotated profile, role or environment would)`);
    held.push(await pool.connect(), await pool.connect());
    await app.query('SELECT 1');
    releaseHeld();
    const recovered = app.tokenState();
    const last = logins.allowed().at(-1);
    narrator.say(`a new connection: login allowed at ${at(last?.time.getTime())} with key ${suffix(last?.accessKeyId)}; token signed at ${at(recovered?.issuedAt)}`);
    const after = await db.health();
    const report = after.connections.app;
    narrator.say(`health(): ok=${after.ok}, token ${report?.token?.status} with key ...${report?.token?.accessKeyIdSuffix}; last error kept for diagnosis: ${report?.lastError?.code ?? 'none'}`);
    narrator.why('the failed logins dropped the cached credentials, so the next connection resolved them again and signed with the new key: no restart');
    narrator.expect(recovered?.accessKeyIdSuffix === DEMO_KEYS.rotated.accessKeyId.slice(-4) && last?.accessKeyId === DEMO_KEYS.rotated.accessKeyId, 'new connections recover with the rotated key');
    narrator.expect(after.ok && report?.lastError?.code === 'IAM_AUTH_FAILED', 'health is OK again and still shows the earlier failure');

    // ---------------------------------------------------------------------------------------
    narrator.step('Close');
    await db.close();
    db = undefined;
    await emulator.close();
    emulator = undefined;
    narrator.expect(true, 'the pool drained and the emulator stopped');
  } catch (error) {
    narrator.fail(`unexpected error: ${isDbModuleError(error) ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error)}`);
  } finally {
    releaseHeld();
    await db?.close().catch(() => {});
    await emulator?.close().catch(() => {});
  }
}

// --- internal ---

/** The emulator's authentication log, read for the narrative (never a token). */
class AuthLogView {
  readonly #emulator: Emulator;

  constructor(emulator: Emulator) {
    this.#emulator = emulator;
  }

  allowed(): AuthAttempt[] {
    return this.#emulator.authLog.entries().filter((attempt) => attempt.decision === 'allow');
  }

  denied(since: number): AuthAttempt[] {
    return this.#emulator.authLog.entries().filter((attempt) => attempt.decision === 'deny' && attempt.time.getTime() >= since);
  }

  describeAllowed(): string {
    const allowed = this.allowed();
    return `${allowed.length} login(s) allowed so far, the last by key ...${allowed.at(-1)?.accessKeyId?.slice(-4) ?? '-'} over ${allowed.at(-1)?.tls ? 'TLS' : 'plaintext'}`;
  }
}

