// dbmodule's INTERNAL spans of IAM work on the RDS emulator (PostgreSQL and MariaDB behind it), on
// one fake clock for the pools, the token cache and the emulator: a token signed when the first
// session opens and again once it expired (past 15 minutes), the credentials resolved for it, a
// refresh that fails, a revoked key whose logins the server refuses until dbmodule gives up, and
// never a token, secret key or session token in anything exported.
import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import type { AwsCredentialProvider } from '../../src/iam/types.js';
import type { FakeClock } from '../support/fake-clock.js';
import { captureLogger } from '../support/logger.js';
import { clockFromNow, credentialsSource, type CredentialsSource } from '../support/iam-e2e/credentials.js';
import { DRIVERS, IAM_USER, iamConnection, RDS_HOST, RDS_PORT, REGION, startRdsEmulator, type TestCredentials } from '../support/iam-e2e/rds.js';
import { expectedToken, SecretNeedles, tokenFingerprints } from '../support/iam-e2e/secret-scan.js';
import { rejectionOf } from '../support/rejection.js';
import { waitFor } from '../support/wait.js';
import { exportedText, parentOf, startTestTelemetry, type TestTelemetry } from './sdk.js';

const MINUTE = 60_000;

let telemetry: TestTelemetry;

beforeAll(() => {
  telemetry = startTestTelemetry();
});

afterAll(async () => {
  await telemetry?.stop();
});

/** What the AWS SDK's own signer (not the code under test) makes of these inputs at `at` on the test clock. */
function named(spans: readonly ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((span) => span.name === name);
}

function childrenOf(spans: readonly ReadableSpan[], parent: ReadableSpan): ReadableSpan[] {
  return spans.filter((span) => parentOf(span) === parent.spanContext().spanId);
}

/** Every data point's attributes of dbmodule's metrics, and the values of the counter `name` by outcome. */
async function metricAttributes(): Promise<Attributes[]> {
  return (await telemetry.metrics()).flatMap((metric) => metric.dataPoints.map((point) => point.attributes as Attributes));
}

async function counter(name: string, connection: string, attributes: Attributes = {}): Promise<number> {
  const metric = (await telemetry.metrics()).find((candidate) => candidate.descriptor.name === name);
  let total = 0;
  for (const point of metric?.dataPoints ?? []) {
    const found = point.attributes as Attributes;
    if (found['dbmodule.connection.name'] !== connection) continue;
    if (Object.entries(attributes).every(([key, value]) => found[key] === value)) total += point.value as number;
  }
  return total;
}

describe.each(DRIVERS)('%s behind the RDS emulator', (driver) => {
  const name = `iam_${driver}`;
  const port = RDS_PORT[driver];
  let clock: FakeClock;
  let emulator: Emulator;
  let source: CredentialsSource;
  let db: Database;
  /** Every span exported while this suite ran: what the secret scan reads. */
  const exported: ReadableSpan[] = [];
  /** Every instant the clock showed (a token may have been signed at any of them). */
  const instants: number[] = [];
  /** The credentials provider: STS as the test controls it (failing, or stuck on a revoked key). */
  let broken = false;
  let stuck: TestCredentials | undefined;

  const advance = (ms: number): void => {
    clock.advance(ms);
    instants.push(clock.now());
  };
  /** The spans ended since the last call (kept for the scan). */
  const take = (): ReadableSpan[] => {
    const spans = telemetry.spans();
    exported.push(...spans);
    telemetry.reset();
    return spans;
  };
  const sql = `SELECT 1 AS ${name}`;
  const clientSpanOf = (spans: readonly ReadableSpan[]): ReadableSpan | undefined => spans.find((span) => span.kind === SpanKind.CLIENT && span.attributes['db.query.text'] === sql);

  beforeAll(async () => {
    clock = clockFromNow();
    instants.push(clock.now());
    emulator = await startRdsEmulator({ clock });
    // temporary credentials, minted per call: 30 minutes of life, so a token signed 16 minutes on needs new ones
    source = credentialsSource(emulator, clock, { mode: 'per-call', lifetimeMs: 30 * MINUTE });
    const provider: AwsCredentialProvider = (options) => (broken ? Promise.reject(new Error('STS is unavailable')) : stuck ? Promise.resolve(stuck) : source.provider(options));
    telemetry.reset();
    // sessions live 4 minutes (plus at most 10% jitter): after a clock step of 5 the next query opens a new one
    db = await createDatabase(
      { connections: { [name]: iamConnection(emulator, driver, { pool: { connection_max_lifetime: '4m', max_open_connections: 4 } }) } },
      { clock, credentials: provider, logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } },
    );
  });

  afterAll(async () => {
    await db?.close();
    await emulator?.close();
  });

  it('the first session signs a token in an iam.token.sign span, its credentials resolved in an aws.credentials.resolve child', async () => {
    const spans = take();
    const [sign, ...more] = named(spans, 'iam.token.sign');
    expect(more).toEqual([]);
    expect(sign!.kind).toBe(SpanKind.INTERNAL);
    expect(sign!.status.code).toBe(SpanStatusCode.UNSET);
    const key = source.issued[0]!.accessKeyId;
    expect(sign!.attributes).toEqual({
      'dbmodule.connection.name': name,
      'server.address': RDS_HOST,
      'server.port': port,
      'dbmodule.iam.user': IAM_USER,
      'cloud.region': REGION,
      'dbmodule.iam.token.outcome': 'signed',
      'dbmodule.background': false,
      'dbmodule.iam.credential_source': 'custom',
      'dbmodule.iam.access_key_id_suffix': key.slice(-4),
    });
    const [resolve] = childrenOf(spans, sign!);
    expect(resolve?.name).toBe('aws.credentials.resolve');
    expect(resolve?.attributes).toEqual({ 'dbmodule.connection.name': name, 'dbmodule.aws.credentials.outcome': 'resolved', 'dbmodule.iam.credential_source': 'custom' });
    expect(await counter('dbmodule.iam.token.refreshes', name, { 'dbmodule.iam.token.outcome': 'signed' })).toBe(1);
  });

  it('16 minutes on, the token has expired: the query opening a new session waits for a new one, signed in a span under its CLIENT span', async () => {
    advance(16 * MINUTE);
    await db.connection().query(sql);
    const spans = take();
    const statement = clientSpanOf(spans);
    expect(statement).toBeDefined();
    const signs = named(spans, 'iam.token.sign');
    expect(signs).toHaveLength(1);
    const [sign] = signs;
    expect(parentOf(sign!)).toBe(statement!.spanContext().spanId);
    expect(sign!.attributes).toMatchObject({ 'dbmodule.iam.token.outcome': 'signed', 'dbmodule.background': false, 'dbmodule.iam.access_key_id_suffix': source.current.accessKeyId.slice(-4) });
    // the first credentials had 14 minutes left, too few for a 15-minute token: resolved again
    expect(childrenOf(spans, sign!).map((span) => span.name)).toEqual(['aws.credentials.resolve']);
    expect(sign!.endTime[0] * 1e9 + sign!.endTime[1]).toBeLessThanOrEqual(statement!.endTime[0] * 1e9 + statement!.endTime[1]);
    expect(await counter('dbmodule.iam.token.refreshes', name, { 'dbmodule.iam.token.outcome': 'signed' })).toBe(2);
    // the physical sessions opened so far, each timed
    const created = (await telemetry.metrics()).find((metric) => metric.descriptor.name === 'db.client.connection.create_time');
    const point = created?.dataPoints.find((candidate) => (candidate.attributes as Attributes)['db.client.connection.pool.name'] === name);
    expect((point?.value as { count: number } | undefined)?.count).toBeGreaterThanOrEqual(2);
  });

  it('12 minutes on, the token is due for renewal but still valid: the query uses it and the refresh runs in the background, a trace of its own', async () => {
    advance(12 * MINUTE);
    await db.connection().query(sql);
    await waitFor(() => named(telemetry.spans(), 'iam.token.sign').length > 0, 5_000, 'the background refresh');
    const spans = take();
    const [sign, ...more] = named(spans, 'iam.token.sign');
    expect(more).toEqual([]);
    expect(parentOf(sign!)).toBeUndefined();
    expect(sign!.attributes).toMatchObject({ 'dbmodule.iam.token.outcome': 'signed', 'dbmodule.background': true });
    // the credentials outlive another token: reused, nothing resolved
    expect(childrenOf(spans, sign!)).toEqual([]);
    expect(await counter('dbmodule.iam.token.refreshes', name, { 'dbmodule.iam.token.outcome': 'signed' })).toBe(3);
  });

  it('a refresh that cannot resolve credentials is a failed iam.token.sign span with error.type, and so is its aws.credentials.resolve child', async () => {
    advance(16 * MINUTE);
    broken = true;
    const error = await rejectionOf(db.connection().query(sql));
    broken = false;
    expect(error).toMatchObject({ code: 'AWS_CREDENTIALS_UNAVAILABLE' });
    const spans = take();
    const [sign] = named(spans, 'iam.token.sign');
    expect(sign!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'AWS_CREDENTIALS_UNAVAILABLE' });
    expect(sign!.attributes).toMatchObject({ 'dbmodule.iam.token.outcome': 'failed', 'error.type': 'AWS_CREDENTIALS_UNAVAILABLE', 'dbmodule.iam.token.failures': 1 });
    expect(sign!.attributes['dbmodule.iam.credential_source']).toBeUndefined();
    const [resolve] = childrenOf(spans, sign!);
    expect(resolve?.attributes).toMatchObject({ 'dbmodule.aws.credentials.outcome': 'failed', 'error.type': 'AWS_CREDENTIALS_UNAVAILABLE' });
    expect(resolve?.status.code).toBe(SpanStatusCode.ERROR);
    expect(await counter('dbmodule.iam.token.refreshes', name, { 'dbmodule.iam.token.outcome': 'failed', 'error.type': 'AWS_CREDENTIALS_UNAVAILABLE' })).toBe(1);
    // past the refresh backoff: the next query signs again
    advance(MINUTE);
    await db.connection().query(sql);
    expect(named(take(), 'iam.token.sign').map((span) => span.attributes['dbmodule.iam.token.outcome'])).toEqual(['signed']);
  });

  it('a revoked key: each login the server refuses is an iam.auth.refused span with its attempt, AUTH_FAILED while retrying, IAM_AUTH_FAILED when giving up', async () => {
    const retriesBefore = await counter('dbmodule.iam.auth.retries', name);
    // the provider keeps handing out the revoked key, as a stale profile would
    stuck = source.current;
    emulator.revoke(stuck.accessKeyId);
    advance(5 * MINUTE);
    const error = await rejectionOf(db.connection().query(sql));
    stuck = undefined;
    expect(error).toMatchObject({ code: 'IAM_AUTH_FAILED' });
    const spans = take();
    const refused = named(spans, 'iam.auth.refused').sort((a, b) => Number(a.attributes['dbmodule.iam.auth.attempt']) - Number(b.attributes['dbmodule.iam.auth.attempt']));
    expect(refused.map((span) => span.attributes['dbmodule.iam.auth.attempt'])).toEqual([1, 2, 3, 4]);
    expect(refused.map((span) => span.attributes['error.type'])).toEqual(['AUTH_FAILED', 'AUTH_FAILED', 'AUTH_FAILED', 'IAM_AUTH_FAILED']);
    expect(refused.map((span) => span.attributes['dbmodule.iam.auth.outcome'])).toEqual(['retry', 'retry', 'retry', 'gave-up']);
    for (const span of refused) {
      expect(span.kind).toBe(SpanKind.INTERNAL);
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes).toMatchObject({ 'dbmodule.connection.name': name, 'server.address': RDS_HOST, 'server.port': port, 'dbmodule.iam.user': IAM_USER });
    }
    // under the statement that waited for the session, which failed with what dbmodule gave up with
    const statement = clientSpanOf(spans);
    expect(statement?.attributes['error.type']).toBe('IAM_AUTH_FAILED');
    for (const span of refused) expect(parentOf(span)).toBe(statement!.spanContext().spanId);
    // each retry signed again (the refused token was dropped), with the credentials resolved again
    const signs = named(spans, 'iam.token.sign');
    expect(signs).toHaveLength(3);
    for (const sign of signs) expect(childrenOf(spans, sign).map((span) => span.name)).toEqual(['aws.credentials.resolve']);
    expect(await counter('dbmodule.iam.auth.retries', name)).toBe(retriesBefore + 3);
  });

  it('no token, secret key or session token in any exported span name, attribute, event, status or metric attribute', async () => {
    exported.push(...take());
    expect(exported.length).toBeGreaterThan(10);
    const texts = exportedText(exported, await metricAttributes());
    const tokens = new Set<string>();
    for (const credentials of source.issued) for (const at of instants) tokens.add(await expectedToken(credentials, port, at));
    // every token presented to the server, refused ones included, is one of those searched for
    const fingerprints = tokenFingerprints(tokens);
    const presented = emulator.authLog.entries().map((attempt) => attempt.tokenId);
    expect(presented.length).toBeGreaterThanOrEqual(7);
    for (const id of presented) expect(fingerprints, 'a token presented to the server was computed independently').toContain(id);

    // a leak of part of a secret is a leak: every 16-character piece (half-overlapping), raw and percent-encoded
    expect(new SecretNeedles().addCredentials(source.issued).addTokens(tokens).findIn(texts)).toEqual([]);
    // the access key id appears at most as its last four characters
    for (const credentials of source.issued) {
      const found = texts.filter((text) => text.includes(credentials.accessKeyId.slice(0, 8)));
      expect(found, credentials.accessKeyId).toEqual([]);
    }
  });
});
