import { planConnection, planDsn, signingInput, usesIam, type ConnectionPlan, type DsnPlan, type IamConnectionPlan } from './config/plan.js';
import type { ConnectionConfig } from './config/types.js';
import type { AuthFailure, AuthFailureDecision, Clock } from './drivers/types.js';
import { DbModuleError, IamError, messageOf } from './errors.js';
import type { DatabaseEvents } from './events.js';
import { isIamAuthFailure } from './iam/auth-errors.js';
import { backoffDelay } from './iam/backoff.js';
import { credentialsFor, describeCredentialSettings } from './iam/credential-sources.js';
import { iamAuthFailedError } from './iam/errors.js';
import { endpointRateLimiter } from './iam/rate-limit.js';
import { createTokenProvider } from './iam/token-provider.js';
import { sharedProviderKey, type HeldProvider, type SharedTokenProviders } from './iam/shared-providers.js';
import type { AwsCredentialIdentity, AwsCredentialProvider, IamTokenProvider, TokenProviderEvent, TokenState } from './iam/types.js';
import type { Logger } from './logging.js';
import type { IamTelemetry } from './telemetry/types.js';

/** What an IAM connection adds to its driver pool: a token per new session and recovery. */
export interface IamConnectionAuth {
  readonly password: () => Promise<string>;
  /** A token valid now, if one is cached (see {@link IamTokenProvider.cachedToken}). */
  readonly currentPassword: () => string | undefined;
  readonly onAuthFailure: (failure: AuthFailure) => Promise<AuthFailureDecision>;
  readonly provider: IamTokenProvider;
  state(): TokenState;
  close(): void;
}

type Credentials = AwsCredentialIdentity | AwsCredentialProvider;

export interface IamConnectionAuthOptions {
  /** The connection's plan; its `iam` part says what to sign for. */
  readonly plan: IamConnectionPlan;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly emit: <E extends 'token.refreshed' | 'token.refresh_failed' | 'auth.retried'>(event: E, payload: DatabaseEvents[E]) => void;
  /**
   * Credentials or a provider given in code; default: the AWS SDK default chain. The plan's
   * `credentials` (aws_iam_auth.profile, role_arn) apply on top, as {@link credentialsFor} says.
   */
  readonly credentials?: Credentials;
  /** Random source for retry jitter; default Math.random. */
  readonly random?: () => number;
  /** The Database's providers, shared by every pool signing for the same endpoint; default: a provider of its own. */
  readonly shared?: SharedTokenProviders;
  /**
   * Spans and counters, when telemetry is on: each signing once (by the telemetry of the pool
   * whose provider it is, when pools share one), and each login the server refused.
   */
  readonly telemetry?: IamTelemetry;
}

/** Retries of one session opening after an IAM authentication failure, at most (each re-signs). */
const MAX_AUTH_ATTEMPTS = 4;

/** The seed's error log line for each way resolving an IAM connection can fail. */
const FAILURE_LINES: Readonly<Record<string, string>> = {
  IAM_ENDPOINT_INVALID: 'Failed to extract RDS endpoint from DSN',
  IAM_USERNAME_MISSING: 'Database username not found',
  TLS_FAILED: 'IAM authentication refused: TLS is disabled',
  IAM_REGION_MISSING: 'Failed to create AWS RDS credential store',
};

/**
 * Resolves an IAM connection's plan ({@link planConnection}) and logs the seed's configuration
 * and setup sequence from it: endpoint, database, username, driver, signing target. A failure is
 * logged at error level with the seed's message for its category and rethrown.
 */
export function planIamConnection(from: ConnectionConfig | DsnPlan, logger: Logger, credentials: Credentials | undefined): IamConnectionPlan {
  const settings = 'settings' in from ? from.settings : from;
  const connection = settings.name;
  const configuredRegion = settings.aws_iam_auth.region ?? '(from hostname)';
  logger.info('Starting AWS IAM authentication setup', { connection, region: configuredRegion, driver: settings.driver });
  // The seed's "AWS configuration" step: where the region and the credentials will come from.
  // Credentials themselves are resolved when the first token is signed (errors surface there).
  const credentialSource = describeCredentialSettings(settings.aws_iam_auth, credentials);
  logger.debug('Loading AWS configuration', { connection, region: configuredRegion, credentials: credentialSource });
  logger.debug('AWS configuration loaded successfully', { connection, credentials: credentialSource });
  logger.debug('Processing DSN for IAM authentication', { connection, original_dsn_length: settings.dsn.length });

  let base: DsnPlan | undefined;
  let plan: ConnectionPlan;
  try {
    base = 'settings' in from ? from : planDsn(from);
    plan = planConnection(base);
  } catch (error) {
    logFailure(error, connection, base, logger);
    throw error;
  }
  if (!usesIam(plan)) throw new DbModuleError('CONFIG_INVALID', `connection "${connection}": aws_iam_auth.enabled is false`, { connection });
  const { iam } = plan;
  if (plan.passwordStripped) logger.debug('Password stripped from DSN', { connection, cleaned_dsn_length: plan.target.length });
  logger.info('Extracted RDS endpoint', { connection, endpoint: `${plan.host}:${plan.port}` });
  logger.debug('Extracted database configuration', { connection, database: plan.database, options_count: Object.keys(plan.dsn.params).length });
  logger.debug(iam.userSource === 'dsn' ? 'Extracted username from DSN' : 'Using username from config', { connection, username: iam.user });
  logger.info('IAM authentication will use database user', { connection, username: iam.user });
  logger.debug('Determined database driver configuration', { connection, driver: plan.driver, port: plan.port });
  if (plan.tls.mode === 'require' && plan.tls.ca === undefined) {
    logger.warn('IAM connection encrypts without verifying the server certificate (sslmode=require); use verify-full', { connection });
  }
  return plan;
}

/**
 * The token lifecycle of one IAM connection: a provider signing for the plan's endpoint and
 * user, the per-endpoint connect rate limit, and the recovery hook beneath the driver pool.
 */
export function createIamConnectionAuth(options: IamConnectionAuthOptions): IamConnectionAuth {
  const { plan, logger } = options;
  const { iam, name: connection } = plan;
  const endpoint = `${iam.signingHost}:${iam.signingPort}`;
  logger.info('Creating AWS RDS credential store', { connection, endpoint, region: iam.region, username: iam.user });
  // the one place a connection's AWS credentials are decided: given ones, the profile, the role
  const chosen = credentialsFor(plan, options.credentials, logger);
  if (plan.credentials) {
    logger.debug('AWS credentials for IAM signing', {
      connection,
      credentials: chosen.description,
      ...(chosen.profile === undefined ? {} : { profile: chosen.profile }),
      ...(chosen.assumedRoleArn === undefined ? {} : { role_arn: chosen.assumedRoleArn, role_session_name: plan.credentials.role?.sessionName, sts_region: plan.credentials.stsRegion }),
    });
  }
  const onEvent = (event: TokenProviderEvent): void => {
    if (event.type === 'token.refreshed') {
      options.emit('token.refreshed', {
        connection,
        expiresAt: event.expiresAt,
        credentialSource: event.credentialSource,
        accessKeyIdSuffix: event.accessKeyIdSuffix,
        ...(event.assumedRoleArn === undefined ? {} : { assumedRoleArn: event.assumedRoleArn }),
      });
    } else {
      options.emit('token.refresh_failed', { connection, code: event.code, message: event.message, attempt: event.attempt });
    }
  };
  const { telemetry } = options;
  const create = (listener: (event: TokenProviderEvent) => void): IamTokenProvider =>
    createTokenProvider(
      {
        host: iam.signingHost,
        port: iam.signingPort,
        user: iam.user,
        region: iam.region,
        ...(chosen.credentials ? { credentials: chosen.credentials } : {}),
        clock: options.clock,
        logger,
        ...(options.random ? { random: options.random } : {}),
        onEvent: listener,
      },
      // called by the provider's creator only: a signing shared by several pools is one span
      telemetry ? (report) => telemetry.refreshed(report) : undefined,
    );
  let held: HeldProvider;
  try {
    held = options.shared ? options.shared.acquire(sharedProviderKey(iam, chosen.key), create, onEvent) : ownProvider(create(onEvent));
  } catch (error) {
    logger.error('Failed to create AWS RDS credential store', { connection, error: messageOf(error), endpoint, username: iam.user, possible_causes: 'Invalid endpoint, missing region, or missing username' });
    throw forConnection(error, connection);
  }
  const { provider } = held;
  logger.debug('AWS RDS credential store created successfully', { connection, region: provider.state().region });

  const limiter = endpointRateLimiter(endpoint, iam.maxConnectsPerSecond);
  const random = options.random ?? Math.random;
  logger.info('Database connection with AWS IAM authentication configured successfully', { connection, endpoint: `${plan.host}:${plan.port}`, username: iam.user, database: plan.database });

  const auth: IamConnectionAuth = {
    provider,
    state: () => provider.state(),
    close: () => held.release(),
    password: async () => {
      await limiter.acquire();
      try {
        return await provider.getToken();
      } catch (error) {
        throw forConnection(error, connection);
      }
    },
    currentPassword: () => provider.cachedToken(),
    onAuthFailure: async ({ error, attempt, password, remainingMs }) => {
      const final = (detail: string) => ({
        retry: false,
        error: iamAuthFailedError(`connection "${connection}": ${detail}; the server said: ${error.message.replace(`connection "${connection}": `, '')}`, error, connection),
      });
      if (!isIamAuthFailure(error)) return final('the server refused the IAM login for a reason a new token cannot fix');
      provider.invalidate(password);
      const delayMs = backoffDelay(attempt, { baseMs: 100, maxMs: 2_000, random });
      if (attempt >= MAX_AUTH_ATTEMPTS || delayMs >= remainingMs) {
        return final(`the server rejected ${attempt} IAM token(s) for user "${iam.user}" at ${endpoint}`);
      }
      logger.warn('IAM authentication failed; retrying with a new token', { connection, attempt, delay_ms: delayMs, code: error.code });
      options.emit('auth.retried', { connection, attempt, code: error.code, delayMs });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { retry: true };
    },
  };
  if (!telemetry) return auth;
  // each refused login in a span (iam.auth.refused), its retry counted
  const decide = auth.onAuthFailure;
  return { ...auth, onAuthFailure: (failure) => telemetry.authFailure(failure, decide) };
}

// --- internal ---

function ownProvider(provider: IamTokenProvider): HeldProvider {
  return { provider, release: () => provider.close() };
}

function logFailure(error: unknown, connection: string, base: DsnPlan | undefined, logger: Logger): void {
  const code = error instanceof DbModuleError ? error.code : undefined;
  const line = code === undefined ? undefined : FAILURE_LINES[code];
  if (line === undefined) return;
  if (code === 'IAM_ENDPOINT_INVALID') {
    logger.error(line, { connection, error: messageOf(error), dsn_format: 'Expected format: postgresql://user@host:port/db' });
  } else if (code === 'IAM_USERNAME_MISSING') {
    logger.error(line, { connection, dsn_has_username: false, config_has_db_user: false });
  } else if (code === 'IAM_REGION_MISSING' && base) {
    const { host, port, user } = signingInput(base);
    logger.error(line, { connection, error: messageOf(error), endpoint: `${host}:${port}`, username: user, possible_causes: 'Invalid endpoint, missing region, or missing username' });
  } else {
    logger.error(line, { connection, error: messageOf(error) });
  }
}

/**
 * A token failure names the endpoint but not the connection (the provider knows no connection
 * names); the caller of `query` or `createDatabase` should see which connection it was.
 */
function forConnection(error: unknown, connection: string): unknown {
  if (!(error instanceof DbModuleError) || error.connection !== undefined) return error;
  return new IamError(error.code, `connection "${connection}": ${error.message}`, {
    connection,
    possibleCauses: error.possibleCauses,
    solutions: error.solutions,
    retryable: error.retryable,
    cause: error,
  });
}
