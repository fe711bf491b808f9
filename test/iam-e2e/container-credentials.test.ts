import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase, type Database, type DatabaseEvents } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { isolateAwsEnvironment, startCredentialsServer, type CredentialsServer } from '../support/iam/credentials-server.js';
import type { FakeClock } from '../support/fake-clock.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';
import { clockFromNow } from '../support/iam-e2e/credentials.js';
import { iamConnection, startRdsEmulator, trustIssuedKeys } from '../support/iam-e2e/rds.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

let clock: FakeClock;
let server: CredentialsServer;
let restoreEnv: () => void;
let emulator: Emulator;
let db: Database;
const failed: Array<DatabaseEvents['token.refresh_failed']> = [];

beforeAll(async () => {
  clock = clockFromNow();
  // Keys valid 20 minutes: at the refresh point they are too close to expiry to sign with again,
  // so every refresh must go back to the endpoint.
  server = await startCredentialsServer(clock, 20 * MINUTE);
  // The real AWS SDK default chain, reaching nothing but the loopback container endpoint.
  restoreEnv = isolateAwsEnvironment({ AWS_CONTAINER_CREDENTIALS_FULL_URI: server.url });
  emulator = await startRdsEmulator({ clock, mysql: false });
  trustIssuedKeys(server, emulator);
  // max_idle_connections 0: every query opens a new physical session, which takes a token.
  const connection = iamConnection(emulator, 'postgres', { pool: { max_open_connections: 4, max_idle_connections: 0 } });
  db = await createDatabase({ connections: { main: connection } }, { clock, logger: captureLogger().logger });
  db.on('token.refresh_failed', (event) => failed.push(event));
});

afterAll(async () => {
  await db?.close();
  await emulator?.close();
  restoreEnv?.();
  await server?.close();
});

/** Runs a query on a new session and returns the access key id its token was signed with. */
async function keyOfNewSession(): Promise<string | undefined> {
  const logged = emulator.authLog.entries().length;
  await db.connection().query('SELECT 1');
  const attempts = emulator.authLog.entries().slice(logged);
  expect(attempts.map((attempt) => attempt.decision)).toEqual(['allow']);
  return attempts[0]?.accessKeyId;
}

it('an endpoint that rotates keys and fails for a while causes no outage while the token is valid, with bounded retries', async () => {
  const main = db.connection();
  const first = server.issued[0];
  expect(server.hits).toBe(1);
  expect(main.tokenState()).toMatchObject({ status: 'valid', credentialSource: 'container', accessKeyIdSuffix: first?.accessKeyId.slice(-4), signCount: 1 });
  expect(await keyOfNewSession()).toBe(first?.accessKeyId);
  const { refreshAt, expiresAt } = main.tokenState() as { refreshAt: number; expiresAt: number };

  // The endpoint goes down; the clock passes the refresh point. The query that finds the refresh
  // due is served at once with the cached token; the refresh fails in the background.
  server.failing = true;
  clock.set(refreshAt + SECOND);
  expect(await keyOfNewSession()).toBe(first?.accessKeyId);
  // The SDK spends seconds retrying the endpoint (1 s apart); the query did not wait for it.
  expect(main.tokenState()?.status).toBe('refreshing');
  await waitFor(() => main.tokenState()?.status !== 'refreshing', 15_000, 'the failed refresh to settle');
  expect(failed).toEqual([{ connection: 'main', code: 'AWS_CREDENTIALS_UNAVAILABLE', message: expect.any(String), attempt: 1 }]);
  expect(main.tokenState()).toMatchObject({ status: 'valid', consecutiveFailures: 1, lastError: { code: 'AWS_CREDENTIALS_UNAVAILABLE' } });
  const hitsPerResolution = server.hits - 1;
  // fromHttp tries 4 times, then the container-metadata fallback: bounded inside one resolution.
  expect(hitsPerResolution).toBeGreaterThanOrEqual(1);
  expect(hitsPerResolution).toBeLessThanOrEqual(6);

  // Before the backoff has passed, new sessions keep the cached token and cause no new attempt.
  for (let i = 0; i < 5; i += 1) expect(await keyOfNewSession()).toBe(first?.accessKeyId);
  expect(server.hits).toBe(1 + hitsPerResolution);
  expect(failed).toHaveLength(1);

  // The endpoint is back with a new key; the next attempt (after the backoff, still inside the
  // token's window) signs with it, and new sessions use it from then on.
  server.failing = false;
  clock.advance(30 * SECOND);
  expect(clock.now()).toBeLessThan(expiresAt);
  await keyOfNewSession();
  await waitFor(() => main.tokenState()?.status !== 'refreshing', 15_000, 'the second refresh to settle');
  const second = server.issued[1];
  expect(second?.accessKeyId).not.toBe(first?.accessKeyId);
  expect(main.tokenState()).toMatchObject({ status: 'valid', consecutiveFailures: 0, signCount: 2, credentialSource: 'container', accessKeyIdSuffix: second?.accessKeyId.slice(-4) });
  expect(await keyOfNewSession()).toBe(second?.accessKeyId);
  expect(server.hits).toBe(2 + hitsPerResolution);
  expect(emulator.authLog.entries().filter((attempt) => attempt.decision !== 'allow')).toEqual([]);
});
