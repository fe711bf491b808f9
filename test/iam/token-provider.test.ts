import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import { createIamTokenProvider } from '../../src/iam/index.js';
import type { IamTokenProvider, IamTokenProviderOptions, TokenProviderEvent } from '../../src/iam/types.js';
import { captureLogger } from '../support/logger.js';
import { waitFor } from '../support/wait.js';
import { isolateAwsEnvironment, startCredentialsServer, type CredentialsServer } from '../support/iam/credentials-server.js';
import { fakeClock, type FakeClock } from '../support/fake-clock.js';
import { parseToken } from '../support/iam/token.js';
import { rejectionOf } from '../support/rejection.js';

const HOST = 'mydb.cluster-c9akciq32.us-east-1.rds.amazonaws.com';
const PORT = 5432;
const USER = 'app_user';
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const MARGIN = MINUTE; // the documented default
const TOKEN_LIFETIME = 15 * MINUTE;

let clock: FakeClock;
let server: CredentialsServer;
let restoreEnv: () => void;
let events: TokenProviderEvent[];
let log: ReturnType<typeof captureLogger>;
let providers: IamTokenProvider[];

beforeEach(async () => {
  clock = fakeClock();
  server = await startCredentialsServer(clock, 5 * MINUTE);
  restoreEnv = isolateAwsEnvironment({ AWS_CONTAINER_CREDENTIALS_FULL_URI: server.url });
  events = [];
  log = captureLogger();
  providers = [];
});

afterEach(async () => {
  for (const provider of providers) provider.close();
  restoreEnv();
  await server.close();
});

function create(extra: Partial<IamTokenProviderOptions> = {}): IamTokenProvider {
  const provider = createIamTokenProvider({
    host: HOST,
    port: PORT,
    user: USER,
    clock,
    logger: log.logger,
    onEvent: (event) => events.push(event),
    random: () => 0.5,
    ...extra,
  });
  providers.push(provider);
  return provider;
}

const settled = (provider: IamTokenProvider): Promise<void> => waitFor(() => provider.state().status !== 'refreshing', 10_000, 'refresh to settle');

/** The instant until which RDS accepts `token`, from its own X-Amz-Date and the credentials that signed it. */
function hardExpiry(token: string): number {
  const parsed = parseToken(token);
  const credentials = server.byAccessKeyId(parsed.accessKeyId);
  if (!credentials) throw new Error(`token signed with unknown key ${parsed.accessKeyId}`);
  return Math.min(parsed.signedAt + parsed.expiresInSeconds * SECOND, credentials.expiresAt);
}

describe('createIamTokenProvider: single flight', () => {
  it('200 concurrent getToken() on a cold cache sign once with one credential resolution', async () => {
    const provider = create();
    const tokens = await Promise.all(Array.from({ length: 200 }, () => provider.getToken()));

    expect(new Set(tokens).size).toBe(1);
    expect(server.hits).toBe(1);
    const state = provider.state();
    expect(state.signCount).toBe(1);
    expect(state.credentialResolutions).toBe(1);
    expect(state.status).toBe('valid');
    expect(state.credentialSource).toBe('container');
    const issued = server.issued[0]!;
    const parsed = parseToken(tokens[0]!);
    expect(parsed.accessKeyId).toBe(issued.accessKeyId);
    expect(parsed.sessionToken).toBe(issued.sessionToken);
    expect(parsed.hostPort).toBe(`${HOST}:${PORT}`);
    expect(parsed.user).toBe(USER);
    expect(parsed.credentialScope).toMatch(/\/us-east-1\/rds-db\/aws4_request$/);
    expect(state.accessKeyIdSuffix).toBe(issued.accessKeyId.slice(-4));
    expect(events.filter((e) => e.type === 'token.refreshed')).toHaveLength(1);
  });

  it('invalidate() makes the next getToken() re-resolve credentials and re-sign, once for 50 callers', async () => {
    server.lifetimeMs = 6 * 60 * MINUTE; // long-lived: only invalidate() can make them resolve again
    const provider = create();
    const first = await provider.getToken();
    provider.invalidate();
    expect(provider.state().status).toBe('empty');
    const tokens = await Promise.all(Array.from({ length: 50 }, () => provider.getToken()));

    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(first);
    expect(server.hits).toBe(2);
    expect(parseToken(tokens[0]!).accessKeyId).toBe(server.issued[1]!.accessKeyId);
    expect(provider.state()).toMatchObject({ signCount: 2, credentialResolutions: 2 });

    // Connections that failed with the old token do not throw the new one away.
    provider.invalidate(first);
    expect(await provider.getToken()).toBe(tokens[0]);
    expect(server.hits).toBe(2);
    provider.invalidate(tokens[0]);
    expect(await provider.getToken()).not.toBe(tokens[0]);
    expect(server.hits).toBe(3);
  });

  it('a refresh in flight when invalidate() lands is discarded, not handed out', async () => {
    const provider = create();
    const pending = provider.getToken();
    provider.invalidate();
    const token = await pending;
    // The first resolution's credentials were invalidated before they arrived: a second one signed.
    expect(server.hits).toBe(2);
    expect(parseToken(token).accessKeyId).toBe(server.issued[1]!.accessKeyId);
    expect(provider.state().signCount).toBe(2);
  });
});

describe('createIamTokenProvider: lifetime', () => {
  it('a token never outlives the credentials that signed it', async () => {
    const provider = create(); // the server's credentials expire 5 minutes after issue
    const token = await provider.getToken();
    const issued = server.issued[0]!;
    const parsed = parseToken(token);
    const state = provider.state();

    expect(issued.expiresAt - clock.now()).toBeLessThanOrEqual(5 * MINUTE);
    expect(state.credentialExpiresAt).toBe(issued.expiresAt);
    expect(state.expiresAt).toBe(issued.expiresAt - MARGIN);
    expect(state.expiresAt).toBeLessThan(parsed.signedAt + TOKEN_LIFETIME - MARGIN);
    expect(state.issuedAt).toBe(parsed.signedAt);
    expect(events).toEqual([{ type: 'token.refreshed', expiresAt: issued.expiresAt - MARGIN, credentialSource: 'container', accessKeyIdSuffix: issued.accessKeyId.slice(-4) }]);

    // Handed out until one margin before the credentials expire, then never again.
    clock.set(issued.expiresAt - MARGIN - 1);
    expect(await provider.getToken()).toBe(token);
    await settled(provider);
    clock.set(issued.expiresAt - MARGIN);
    const next = await provider.getToken();
    expect(next).not.toBe(token);
    expect(hardExpiry(next) - MARGIN).toBeGreaterThan(clock.now());
  });

  it('long-term keys give 15 minutes from X-Amz-Date minus the margin', async () => {
    const provider = create({ credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' } });
    const token = await provider.getToken();
    const signedAt = parseToken(token).signedAt;
    expect(signedAt).toBe(Math.floor(clock.now() / SECOND) * SECOND);
    expect(provider.state()).toMatchObject({ expiresAt: signedAt + TOKEN_LIFETIME - MARGIN, credentialSource: 'static', accessKeyIdSuffix: 'MPLE' });
    expect(provider.state().credentialExpiresAt).toBeUndefined();
  });

  it.each([
    ['5 minutes', 5 * MINUTE],
    ['6 hours', 6 * 60 * MINUTE],
  ])('stepping the clock 5 minutes at a time for an hour always yields a valid token (credentials live %s)', async (_label, lifetime) => {
    server.lifetimeMs = lifetime;
    const provider = create();
    const start = clock.now();
    const seen = new Set<string>();
    while (clock.now() <= start + 60 * MINUTE) {
      const token = await provider.getToken();
      const parsed = parseToken(token);
      expect(parsed.signedAt).toBeLessThanOrEqual(clock.now());
      expect(clock.now()).toBeLessThan(hardExpiry(token) - MARGIN);
      seen.add(token);
      await settled(provider);
      clock.advance(5 * MINUTE);
    }
    expect(seen.size).toBeGreaterThan(1);
    expect(provider.state().consecutiveFailures).toBe(0);
  });

  it('refreshes once per window in the background, handing out the current token meanwhile', async () => {
    server.lifetimeMs = 6 * 60 * MINUTE;
    const provider = create();
    const step = 10 * SECOND;
    const start = clock.now();
    const handedOut: string[] = [];
    while (clock.now() <= start + 60 * MINUTE) {
      const tokens = await Promise.all(Array.from({ length: 20 }, () => provider.getToken()));
      expect(new Set(tokens).size).toBe(1);
      handedOut.push(tokens[0]!);
      await settled(provider);
      clock.advance(step);
    }
    // Independent expectation: a token issued at (whole second) i is replaced at the first step at
    // or after i + 80% of its 14 usable minutes; the step that triggers still gets the old token.
    const refreshAfter = 0.8 * (TOKEN_LIFETIME - MARGIN);
    let issuedAt = Math.floor(start / SECOND) * SECOND;
    let expectedSigns = 1;
    for (let t = start; t <= start + 60 * MINUTE; t += step) {
      if (t >= issuedAt + refreshAfter) {
        expectedSigns += 1;
        issuedAt = Math.floor(t / SECOND) * SECOND;
      }
    }
    const distinct = handedOut.filter((token, i) => i === 0 || token !== handedOut[i - 1]);
    expect(provider.state().signCount).toBe(expectedSigns);
    expect(events.filter((e) => e.type === 'token.refreshed')).toHaveLength(expectedSigns);
    // The last refresh may complete after the final step, so the last token may not be handed out yet.
    expect(distinct.length).toBeGreaterThanOrEqual(expectedSigns - 1);
    expect(new Set(handedOut).size).toBe(distinct.length);
    // 6-hour credentials are resolved once and reused for every signing within the hour.
    expect(provider.state().credentialResolutions).toBe(1);
    expect(server.hits).toBe(1);
  });
});

describe('createIamTokenProvider: background timer', () => {
  it('refreshes on its own, with the system clock, when no getToken() arrives', async () => {
    let resolutions = 0;
    // Credentials with 64 s left and the default 60 s margin: about 4 s of usable life, refresh due after about 2 s.
    const provider = createIamTokenProvider({
      host: HOST,
      port: PORT,
      user: USER,
      logger: log.logger,
      credentials: async () => {
        resolutions += 1;
        return { accessKeyId: `AKIATIMER${resolutions}EXAMPLE`, secretAccessKey: 'timerSecret', expiration: new Date(Date.now() + 64 * SECOND) };
      },
    });
    providers.push(provider);
    const first = await provider.getToken();
    await waitFor(() => provider.state().signCount >= 2, 8_000, 'timer-driven refresh');
    provider.close();
    const second = await provider.getToken();
    expect(second).not.toBe(first);
    expect(parseToken(second).accessKeyId).toBe('AKIATIMER2EXAMPLE');
    expect(resolutions).toBe(2);
  });
});

describe('createIamTokenProvider: failures', () => {
  it('an endpoint outage while a token is valid causes no outage and a bounded number of retries', async () => {
    server.lifetimeMs = 20 * MINUTE; // stale before the first refresh, so the refresh must resolve again
    const provider = create({ credentialChain: { maxRetries: 0 } });
    const token = await provider.getToken();
    const { refreshAt, expiresAt } = provider.state() as { refreshAt: number; expiresAt: number };
    expect(expiresAt).toBe(parseToken(token).signedAt + TOKEN_LIFETIME - MARGIN);
    server.failing = true;

    clock.set(refreshAt);
    while (clock.now() < expiresAt) {
      expect(await provider.getToken()).toBe(token);
      await settled(provider);
      clock.advance(SECOND);
    }
    // Independent expectation: retry n waits 0.75 * min(30 s, 1 s * 2^(n-1)) with random() = 0.5;
    // attempts happen at the first 1-second step at or after each due time.
    const attemptTimes: number[] = [];
    let due = refreshAt;
    for (let t = refreshAt; t < expiresAt; t += SECOND) {
      if (t >= due) {
        attemptTimes.push(t);
        due = t + 0.75 * Math.min(30 * SECOND, SECOND * 2 ** (attemptTimes.length - 1));
      }
    }
    const failed = events.filter((e): e is Extract<TokenProviderEvent, { type: 'token.refresh_failed' }> => e.type === 'token.refresh_failed');
    expect(failed.map((e) => e.attempt)).toEqual(attemptTimes.map((_, i) => i + 1));
    expect(failed.every((e) => e.code === 'AWS_CREDENTIALS_UNAVAILABLE')).toBe(true);
    expect(provider.state().credentialResolutions).toBe(1 + attemptTimes.length);
    expect(attemptTimes.length).toBeLessThan(15);
    // fromHttp plus the container-metadata fallback: at most two requests per resolution.
    expect(server.hits).toBeLessThanOrEqual(1 + 2 * attemptTimes.length);
    expect(provider.state()).toMatchObject({ consecutiveFailures: attemptTimes.length, lastError: { code: 'AWS_CREDENTIALS_UNAVAILABLE' } });

    // Past expiry, before the next due attempt: rejected, never the old token. At the due time the
    // endpoint is back and a new token is signed.
    server.failing = false;
    expect(clock.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(clock.now()).toBeLessThan(due);
    const hits = server.hits;
    expect((await rejectionOf(provider.getToken(), DbModuleError)).code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    expect(server.hits).toBe(hits);
    clock.set(due);
    const fresh = await provider.getToken();
    expect(fresh).not.toBe(token);
    expect(provider.state()).toMatchObject({ status: 'valid', consecutiveFailures: 0 });
  });

  it('a refresh that fails and then succeeds inside the window never interrupts getToken()', async () => {
    server.lifetimeMs = 20 * MINUTE;
    const provider = create({ credentialChain: { maxRetries: 0 } });
    const token = await provider.getToken();
    const { refreshAt, expiresAt } = provider.state() as { refreshAt: number; expiresAt: number };
    server.failing = true;
    clock.set(refreshAt);
    const handedOut: string[] = [];
    while (clock.now() < expiresAt) {
      if (clock.now() >= refreshAt + 20 * SECOND) server.failing = false;
      handedOut.push(await provider.getToken());
      await settled(provider);
      clock.advance(SECOND);
    }
    const replacedAt = handedOut.findIndex((t) => t !== token);
    expect(replacedAt).toBeGreaterThan(20);
    expect(handedOut.slice(0, replacedAt).every((t) => t === token)).toBe(true);
    expect(events.filter((e) => e.type === 'token.refresh_failed').length).toBeGreaterThanOrEqual(3);
    expect(provider.state()).toMatchObject({ status: 'valid', consecutiveFailures: 0, signCount: 2 });
    // Nobody is told by an error while the old token still serves: the log warns.
    expect(log.entries.filter((entry) => entry.level === 'warn' && entry.message === 'IAM token refresh failed').length).toBeGreaterThanOrEqual(3);
  });

  it('an expired token is never handed out: getToken rejects with the coded error, then recovers', async () => {
    const provider = create({ credentialChain: { maxRetries: 0 } });
    const token = await provider.getToken();
    const { expiresAt } = provider.state() as { expiresAt: number };
    server.failing = true;

    clock.set(expiresAt);
    const failure = await rejectionOf(provider.getToken(), DbModuleError);
    expect(failure.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    expect(failure.message).toContain(`${USER}@${HOST}:${PORT}`);
    // The caller holds the error; a warning as well would say it twice (debug keeps the attempt).
    expect(log.entries.filter((entry) => entry.message === 'IAM token refresh failed').map((entry) => entry.level)).toEqual(['debug']);
    // The container endpoint is configured but failing: that is the cause, not "no credentials".
    expect(failure.possibleCauses[0]).toMatch(/container credentials endpoint .* unreachable/);
    expect(failure.solutions.join('\n')).toContain('aws sts get-caller-identity');
    expect(provider.state().status).toBe('failed');
    const hitsAfterFirstFailure = server.hits;

    // Within the backoff window: rejected at once, without asking AWS again.
    const again = await rejectionOf(provider.getToken(), DbModuleError);
    expect(again.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    expect(server.hits).toBe(hitsAfterFirstFailure);

    // Much later, still failing: still rejected, never the old token.
    clock.advance(10 * MINUTE);
    await rejectionOf(provider.getToken(), DbModuleError);
    expect(server.hits).toBeGreaterThan(hitsAfterFirstFailure);

    server.failing = false;
    clock.advance(MINUTE);
    const fresh = await provider.getToken();
    expect(fresh).not.toBe(token);
    expect(clock.now()).toBeLessThan(hardExpiry(fresh) - MARGIN);
    expect(provider.state().status).toBe('valid');
  });

  it('credentials that expire inside the margin are refused rather than used', async () => {
    server.lifetimeMs = 30 * SECOND;
    const provider = create();
    const failure = await rejectionOf(provider.getToken(), DbModuleError);
    expect(failure.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    expect(failure.message).toMatch(/within the 60000 ms safety margin/);
  });

  it('no credentials anywhere is AWS_CREDENTIALS_UNAVAILABLE naming the endpoint', async () => {
    restoreEnv();
    restoreEnv = isolateAwsEnvironment({});
    const provider = create();
    const failure = await rejectionOf(provider.getToken(), DbModuleError);
    expect(failure.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    expect(failure.message).toContain(`could not resolve AWS credentials for IAM signing of ${USER}@${HOST}:${PORT}`);
    expect(failure.cause).toBeInstanceOf(Error);
    expect(events).toEqual([{ type: 'token.refresh_failed', code: 'AWS_CREDENTIALS_UNAVAILABLE', message: failure.message, attempt: 1 }]);
  });
});

describe('createIamTokenProvider: credential sources', () => {
  it('names env, static, custom and SDK-provider sources', async () => {
    restoreEnv();
    restoreEnv = isolateAwsEnvironment({ AWS_ACCESS_KEY_ID: 'AKIAENVEXAMPLE0001', AWS_SECRET_ACCESS_KEY: 'envSecretExampleKey/+=' });
    const fromChain = create();
    expect(parseToken(await fromChain.getToken()).accessKeyId).toBe('AKIAENVEXAMPLE0001');
    expect(fromChain.state().credentialSource).toBe('env');

    const { fromEnv } = await import('@aws-sdk/credential-providers');
    const sdkProvider = create({ credentials: fromEnv() });
    await sdkProvider.getToken();
    expect(sdkProvider.state().credentialSource).toBe('env');

    const custom = create({ credentials: async () => ({ accessKeyId: 'AKIACUSTOMEXAMPLE02', secretAccessKey: 'customSecret' }) });
    await custom.getToken();
    expect(custom.state()).toMatchObject({ credentialSource: 'custom', accessKeyIdSuffix: 'LE02' });

    const broken = create({ credentials: async () => ({ accessKeyId: '', secretAccessKey: 'x' }) });
    expect((await rejectionOf(broken.getToken(), DbModuleError)).code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
  });
});

describe('createIamTokenProvider: validation', () => {
  it.each<[string, Partial<IamTokenProviderOptions>, string]>([
    ['empty host', { host: ' ' }, 'IAM_ENDPOINT_INVALID'],
    ['host with port', { host: `${HOST}:5432` }, 'IAM_ENDPOINT_INVALID'],
    ['host with scheme', { host: `postgres://${HOST}` }, 'IAM_ENDPOINT_INVALID'],
    ['port 0', { port: 0 }, 'IAM_ENDPOINT_INVALID'],
    ['port 70000', { port: 70_000 }, 'IAM_ENDPOINT_INVALID'],
    ['empty user', { user: '' }, 'IAM_USERNAME_MISSING'],
    ['localhost without region', { host: 'localhost' }, 'IAM_REGION_MISSING'],
    ['CNAME without region', { host: 'db.internal.example.com' }, 'IAM_REGION_MISSING'],
    ['malformed region', { region: 'useast1' }, 'IAM_REGION_MISSING'],
  ])('%s -> %s', (_name, override, code) => {
    let thrown: unknown;
    try {
      create(override);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DbModuleError);
    expect((thrown as DbModuleError).code).toBe(code);
    expect((thrown as DbModuleError).solutions.length).toBeGreaterThan(0);
  });

  it('warns about a region that differs from the hostname and about signing for localhost', () => {
    const mismatch = create({ region: 'eu-west-1' });
    expect(mismatch.state().region).toBe('eu-west-1');
    const warning = log.entries.find((e) => e.level === 'warn' && /region differs/.test(e.message));
    expect(warning?.fields).toMatchObject({ region: 'eu-west-1', hostname_region: 'us-east-1' });

    const tunnel = create({ host: 'LOCALHOST', region: 'us-east-1' });
    expect(tunnel.state()).toMatchObject({ signedHost: 'localhost', region: 'us-east-1', status: 'empty', signCount: 0 });
    expect(log.entries.some((e) => e.level === 'warn' && /IP address or localhost/.test(e.message))).toBe(true);
  });
});

describe('createIamTokenProvider: secrets', () => {
  it('no state, event, log line or error ever contains a token, secret key or session token', async () => {
    const provider = create({ credentialChain: { maxRetries: 0 } });
    const texts: string[] = [];
    const tokens: string[] = [];
    const record = (): void => {
      texts.push(JSON.stringify(provider.state()), inspect(provider.state(), { depth: 5 }), inspect(provider, { depth: 5 }));
    };
    const recordError = (error: DbModuleError): void => {
      for (let e: unknown = error; e instanceof Error; e = e.cause) texts.push(e.message, String(e.stack));
      texts.push(JSON.stringify(error), ...error.possibleCauses, ...error.solutions);
    };

    record();
    tokens.push(await provider.getToken());
    record();
    const { refreshAt, expiresAt } = provider.state() as { refreshAt: number; expiresAt: number };
    server.failing = true;
    clock.set(refreshAt);
    tokens.push(await provider.getToken());
    await settled(provider);
    record();
    clock.set(expiresAt);
    recordError(await rejectionOf(provider.getToken(), DbModuleError));
    recordError(await rejectionOf(provider.getToken(), DbModuleError));
    record();
    server.failing = false;
    clock.advance(10 * MINUTE);
    tokens.push(await provider.getToken());
    provider.invalidate();
    tokens.push(await provider.getToken());
    record();
    texts.push(...events.map((e) => JSON.stringify(e)), ...log.lines);

    const secrets = [
      ...server.issued.flatMap((c) => [c.secretAccessKey, c.sessionToken, encodeURIComponent(c.sessionToken)]),
      ...tokens,
      ...tokens.map((t) => parseToken(t).signature ?? 'missing signature'),
    ];
    expect(server.issued.length).toBeGreaterThanOrEqual(2);
    expect(events.some((e) => e.type === 'token.refresh_failed')).toBe(true);
    expect(log.lines.length).toBeGreaterThan(0);
    for (const text of texts) {
      for (const secret of secrets) expect(text.includes(secret), `leak in: ${text.slice(0, 120)}`).toBe(false);
    }
  });
});
