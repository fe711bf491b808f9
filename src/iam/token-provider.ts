import { DbModuleError, IamError } from '../errors.js';
import { toLogger, type Logger } from '../logging.js';
import { createBackoff } from './backoff.js';
import { createCredentialCache } from './credentials.js';
import { credentialsUnavailableError } from './errors.js';
import { tokenWindow } from './lifetime.js';
import { resolveSigningTarget } from './signing-target.js';
import { signAuthToken, TOKEN_LIFETIME_SECONDS } from './signer.js';
import { TokenCache, tokenCacheKey, type CachedToken } from './token-cache.js';
import type { IamClock, IamTokenProvider, IamTokenProviderOptions, TokenProviderEvent, TokenState } from './types.js';

const DEFAULT_MARGIN_MS = 60_000;
// setTimeout's ceiling; a minimum keeps a frozen test clock from turning the timer into a busy loop.
const MAX_TIMER_MS = 2_147_483_647;
const MIN_TIMER_MS = 1_000;

const systemClock: IamClock = { now: () => Date.now() };

/**
 * The RDS IAM token lifecycle for one endpoint and user: credentials from the AWS SDK default
 * chain (or `credentials`), memoised until near expiry; tokens signed locally, handed out until
 * min(issue + 15 min, credential expiry) minus `refreshMarginMs`, refreshed once in the background
 * ahead of that (single flight, whatever the concurrency), retried with jittered backoff when a
 * refresh fails while the current token is still valid. An expired token is never handed out.
 *
 * Throws an `IamError` at once for an unusable endpoint (`IAM_ENDPOINT_INVALID`), user
 * (`IAM_USERNAME_MISSING`) or region (`IAM_REGION_MISSING`).
 *
 * ```ts
 * const iam = createIamTokenProvider({ host: 'db.abc.eu-west-1.rds.amazonaws.com', port: 5432, user: 'app' });
 * const pool = new pg.Pool({ host: 'db.abc.eu-west-1.rds.amazonaws.com', user: 'app', password: () => iam.getToken(), ssl: { ca } });
 * ```
 * @public
 */
export function createIamTokenProvider(options: IamTokenProviderOptions): IamTokenProvider {
  return createTokenProvider(options);
}

/**
 * How one refresh went, for dbmodule's telemetry (the public `onEvent` events carry no timing).
 * Times are `performance.now()` milliseconds: real time, whatever the provider's clock says.
 */
export interface RefreshReport {
  readonly outcome: 'signed' | 'failed';
  readonly startedAt: number;
  readonly durationMs: number;
  /** True for a refresh ahead of expiry (a valid token is handed out meanwhile); false when callers wait for it. */
  readonly background: boolean;
  /** Signed: where the credentials came from and the last four characters of their access key id. */
  readonly credentialSource?: string;
  readonly accessKeyIdSuffix?: string;
  /** Failed: the error's code and the consecutive failures so far. */
  readonly code?: string;
  readonly attempt?: number;
  /** Set when this refresh resolved credentials (rather than reusing memoised ones): the source, or the code it failed with. */
  readonly credentials?: CredentialResolutionReport;
}

export interface CredentialResolutionReport {
  readonly startedAt: number;
  readonly durationMs: number;
  readonly source?: string;
  readonly code?: string;
}

/** {@link createIamTokenProvider}, with `onRefresh` told how each refresh went (after its `onEvent` event). */
export function createTokenProvider(options: IamTokenProviderOptions, onRefresh?: (report: RefreshReport) => void): IamTokenProvider {
  const logger = toLogger(options.logger);
  const clock = options.clock ?? systemClock;
  const marginMs = options.refreshMarginMs ?? DEFAULT_MARGIN_MS;
  if (!Number.isFinite(marginMs) || marginMs < 0 || marginMs >= TOKEN_LIFETIME_SECONDS * 1000 / 2) {
    throw new IamError('CONFIG_INVALID', `refreshMarginMs must be between 0 and ${TOKEN_LIFETIME_SECONDS * 500} ms, got ${String(marginMs)}`);
  }
  const target = resolveSigningTarget(options, (message, fields) => logger.warn(message, fields));
  const label = `${target.user}@${target.host}:${target.port}`;
  const logFields = { host: target.host, port: target.port, user: target.user, region: target.region };
  const credentials = createCredentialCache({
    credentials: options.credentials,
    chain: options.credentialChain,
    clock,
    // Reuse credentials only while they outlive a whole token plus the margin.
    reuseWindowMs: TOKEN_LIFETIME_SECONDS * 1000 + marginMs,
    label,
  });
  const backoff = createBackoff(options.random ? { random: options.random } : {});
  const cache = new TokenCache();

  let current: CachedToken | undefined;
  let flight: { promise: Promise<void>; generation: number } | undefined;
  let generation = 0;
  let signCount = 0;
  let failures = 0;
  let nextRetryAt = 0;
  let lastFailure: DbModuleError | undefined;
  let lastError: TokenState['lastError'];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const emit = (event: TokenProviderEvent): void => {
    try {
      options.onEvent?.(event);
    } catch (error) {
      logger.warn('IAM token event listener threw', { event: event.type, error: error instanceof Error ? error.message : String(error) });
    }
  };

  const usable = (now: number): CachedToken | undefined => (current && now < current.expiresAt ? current : undefined);

  const schedule = (at: number): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (closed) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(MIN_TIMER_MS, at - clock.now()));
    timer = setTimeout(tick, delay);
    timer.unref();
  };

  // Timer-driven refresh keeps the token warm between connects; every decision reads the clock,
  // so with a test clock the timer merely re-arms and getToken() drives refreshes.
  function tick(): void {
    timer = undefined;
    const entry = usable(clock.now());
    if (!entry) return;
    if (!maybeRefreshInBackground(entry)) schedule(Math.max(entry.refreshAt, nextRetryAt));
  }

  const signFresh = async (timing: { credentials?: CredentialResolutionReport }): Promise<CachedToken> => {
    const resolutions = credentials.resolutions;
    const resolving = performance.now();
    let resolved: Awaited<ReturnType<typeof credentials.get>>;
    try {
      resolved = await credentials.get();
    } catch (error) {
      if (onRefresh && credentials.resolutions !== resolutions) {
        timing.credentials = { startedAt: resolving, durationMs: performance.now() - resolving, code: error instanceof DbModuleError ? error.code : 'AWS_CREDENTIALS_UNAVAILABLE' };
      }
      throw error;
    }
    if (onRefresh && credentials.resolutions !== resolutions) timing.credentials = { startedAt: resolving, durationMs: performance.now() - resolving, source: resolved.source };
    const signedAt = clock.now();
    let token: string;
    try {
      token = await signAuthToken(target, resolved.identity, new Date(signedAt));
    } catch (error) {
      if (error instanceof DbModuleError) throw error;
      throw credentialsUnavailableError(`signing the IAM token for ${label} with credentials from ${resolved.source} failed`, error);
    }
    signCount += 1;
    const window = tokenWindow(signedAt, resolved.expiresAt, marginMs);
    if (window.expiresAt <= clock.now()) {
      throw credentialsUnavailableError(
        `the AWS credentials from ${resolved.source} (access key ...${resolved.accessKeyIdSuffix}) expire at ${new Date(resolved.expiresAt ?? 0).toISOString()}, within the ${marginMs} ms safety margin: no usable IAM token for ${label}`,
        undefined,
        { problem: 'expired' },
      );
    }
    return {
      ...window,
      token,
      key: tokenCacheKey(target, resolved.identityKey),
      credentialExpiresAt: resolved.expiresAt,
      credentialSource: resolved.source,
      accessKeyIdSuffix: resolved.accessKeyIdSuffix,
      assumedRoleArn: resolved.assumedRoleArn,
      credentialProfile: resolved.profile,
    };
  };

  const install = (entry: CachedToken): void => {
    if (current && current.key !== entry.key) cache.delete(current.key);
    cache.set(entry);
    cache.prune(clock.now());
    current = entry;
    failures = 0;
    nextRetryAt = 0;
    lastFailure = undefined;
    logger.debug('IAM token refreshed', {
      ...logFields,
      expires_at: new Date(entry.expiresAt).toISOString(),
      credential_source: entry.credentialSource,
      access_key_id_suffix: entry.accessKeyIdSuffix,
      ...(entry.assumedRoleArn === undefined ? {} : { assumed_role_arn: entry.assumedRoleArn }),
      ...(entry.credentialProfile === undefined ? {} : { profile: entry.credentialProfile }),
      ...(entry.credentialExpiresAt === undefined ? {} : { credentials_expire_at: new Date(entry.credentialExpiresAt).toISOString() }),
      token_length: entry.token.length,
    });
    emit({
      type: 'token.refreshed',
      expiresAt: entry.expiresAt,
      credentialSource: entry.credentialSource,
      accessKeyIdSuffix: entry.accessKeyIdSuffix,
      ...(entry.assumedRoleArn === undefined ? {} : { assumedRoleArn: entry.assumedRoleArn }),
    });
    schedule(entry.refreshAt);
  };

  const recordFailure = (error: DbModuleError): void => {
    const now = clock.now();
    failures += 1;
    const delay = backoff.delay(failures);
    nextRetryAt = now + delay;
    lastFailure = error;
    lastError = { code: error.code, message: error.message, at: now };
    const stillValid = usable(now);
    // Warned when a still-valid token hides the failure; otherwise the caller waiting for a token gets the error itself.
    const log = stillValid ? logger.warn : logger.debug;
    log.call(logger, 'IAM token refresh failed', { ...logFields, code: error.code, attempt: failures, retry_in_ms: delay, token_still_valid: Boolean(stillValid), error: error.message });
    emit({ type: 'token.refresh_failed', code: error.code, message: error.message, attempt: failures });
    if (stillValid) schedule(nextRetryAt);
  };

  /** Tells `onRefresh` how a refresh went; a listener that throws is logged, like an `onEvent` one. */
  const report = (refresh: RefreshReport): void => {
    try {
      onRefresh?.(refresh);
    } catch (error) {
      logger.warn('IAM token refresh observer threw', { error: error instanceof Error ? error.message : String(error) });
    }
  };

  const startRefresh = (background: boolean): { promise: Promise<void>; generation: number } => {
    if (flight) return flight;
    const started = generation;
    const startedAt = performance.now();
    const timing: { credentials?: CredentialResolutionReport } = {};
    const promise = signFresh(timing).then(
      (entry) => {
        if (started !== generation) return;
        install(entry);
        if (onRefresh) {
          const { credentialSource, accessKeyIdSuffix } = entry;
          report({ outcome: 'signed', startedAt, durationMs: performance.now() - startedAt, background, credentialSource, accessKeyIdSuffix, ...timing });
        }
      },
      (error: unknown) => {
        const coded = error instanceof DbModuleError ? error : credentialsUnavailableError(`refreshing the IAM token for ${label} failed`, error);
        if (started === generation) {
          recordFailure(coded);
          if (onRefresh) report({ outcome: 'failed', startedAt, durationMs: performance.now() - startedAt, background, code: coded.code, attempt: failures, ...timing });
        }
        throw coded;
      },
    );
    const mine = { promise, generation: started };
    flight = mine;
    const clear = (): void => {
      if (flight === mine) flight = undefined;
    };
    promise.then(clear, clear);
    return mine;
  };

  // Starts a background refresh when one is due and allowed; true if one is running.
  function maybeRefreshInBackground(entry: CachedToken): boolean {
    const now = clock.now();
    if (flight) return true;
    if (now < entry.refreshAt || now < nextRetryAt) return false;
    startRefresh(true);
    return true;
  }

  const backoffError = (failure: DbModuleError): DbModuleError =>
    new IamError(failure.code, `${failure.message} (next attempt after ${new Date(nextRetryAt).toISOString()})`, {
      possibleCauses: failure.possibleCauses,
      solutions: failure.solutions,
      retryable: true,
      cause: failure,
    });

  return {
    async getToken(): Promise<string> {
      // A few rounds only matter when invalidate() lands while a refresh is in flight.
      for (let round = 0; round < 5; round += 1) {
        const now = clock.now();
        const entry = usable(now);
        if (entry) {
          maybeRefreshInBackground(entry);
          return entry.token;
        }
        if (!flight && lastFailure && now < nextRetryAt) throw backoffError(lastFailure);
        const waiting = startRefresh(false);
        try {
          await waiting.promise;
        } catch (error) {
          if (waiting.generation === generation) throw error;
        }
      }
      throw credentialsUnavailableError(`the IAM token for ${label} was invalidated repeatedly while it was being signed`);
    },

    cachedToken(): string | undefined {
      const entry = usable(clock.now());
      if (entry) maybeRefreshInBackground(entry);
      return entry?.token;
    },

    invalidate(failedToken?: string): void {
      if (failedToken !== undefined && current?.token !== failedToken) return;
      generation += 1;
      if (current) cache.delete(current.key);
      current = undefined;
      flight = undefined;
      failures = 0;
      nextRetryAt = 0;
      lastFailure = undefined;
      credentials.invalidate();
      if (timer) clearTimeout(timer);
      timer = undefined;
      logger.debug('IAM token and credentials invalidated', logFields);
    },

    state(): TokenState {
      const now = clock.now();
      const valid = usable(now);
      const status: TokenState['status'] = flight ? 'refreshing' : valid ? 'valid' : failures > 0 ? 'failed' : current ? 'expired' : 'empty';
      return {
        status,
        ...(current
          ? {
              issuedAt: current.issuedAt,
              expiresAt: current.expiresAt,
              refreshAt: current.refreshAt,
              ...(current.credentialExpiresAt === undefined ? {} : { credentialExpiresAt: current.credentialExpiresAt }),
              credentialSource: current.credentialSource,
              ...(current.assumedRoleArn === undefined ? {} : { assumedRoleArn: current.assumedRoleArn }),
              ...(current.credentialProfile === undefined ? {} : { credentialProfile: current.credentialProfile }),
              accessKeyIdSuffix: current.accessKeyIdSuffix,
            }
          : {}),
        signedHost: target.host,
        signedPort: target.port,
        region: target.region,
        user: target.user,
        signCount,
        credentialResolutions: credentials.resolutions,
        consecutiveFailures: failures,
        ...(lastError ? { lastError: { ...lastError } } : {}),
      };
    },

    close(): void {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
