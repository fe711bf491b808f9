import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { ConnectionConfig } from '../config/types.js';
import type { AuthFailure, AuthFailureDecision, Clock } from '../drivers/types.js';
import { defaultPort, describeDsn } from '../dsn/index.js';
import type { ParsedDsn } from '../dsn/types.js';
import { ConfigError, DbModuleError, IamError } from '../errors.js';
import type { DatabaseEvents } from '../events.js';
import type { Logger } from '../logging.js';
import { rdsCaBundle } from '../tls/rds-ca.js';
import { sslModeToTls } from '../tls/sslmode.js';
import { isIamAuthFailure } from './auth-errors.js';
import { backoffDelay } from './backoff.js';
import { endpointInvalidError, iamAuthFailedError, usernameMissingError } from './errors.js';
import { endpointRateLimiter } from './rate-limit.js';
import { createIamTokenProvider } from './token-provider.js';
import type { AwsCredentialIdentity, AwsCredentialProvider, IamTokenProvider, TokenState } from './types.js';

/** What an IAM connection adds to its driver pool: a token per new session, recovery, and TLS. */
export interface IamConnectionAuth {
  readonly password: () => Promise<string>;
  readonly onAuthFailure: (failure: AuthFailure) => Promise<AuthFailureDecision>;
  readonly tls: TlsConnectionOptions;
  readonly provider: IamTokenProvider;
  state(): TokenState;
  close(): void;
}

export interface IamConnectionAuthOptions {
  readonly config: ConnectionConfig;
  readonly dsn: ParsedDsn;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly emit: <E extends 'token.refreshed' | 'token.refresh_failed' | 'auth.retried'>(event: E, payload: DatabaseEvents[E]) => void;
  /** Credentials or a provider; default: the AWS SDK default chain. */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialProvider;
  /** Random source for retry jitter; default Math.random. */
  readonly random?: () => number;
}

/** Retries of one session opening after an IAM authentication failure, at most (each re-signs). */
const MAX_AUTH_ATTEMPTS = 4;

/**
 * Sets up IAM for one connection, logging the seed's configuration and setup sequence:
 * username, endpoint, region, signing target, TLS, and the token provider behind every new session.
 * Throws the seed's categories: IAM_USERNAME_MISSING, IAM_ENDPOINT_INVALID, IAM_REGION_MISSING, TLS refusal.
 */
export function createIamConnectionAuth(options: IamConnectionAuthOptions): IamConnectionAuth {
  const { config, dsn, logger } = options;
  const iam = config.aws_iam_auth;
  const connection = config.name;
  logger.info('Starting AWS IAM authentication setup', { connection, region: iam.region ?? '(from hostname)', driver: config.driver });
  // The seed's "AWS configuration" step: where the region and the credentials will come from.
  // Credentials themselves are resolved when the first token is signed (errors surface there).
  const credentialSource = options.credentials === undefined ? 'AWS SDK default chain' : typeof options.credentials === 'function' ? 'provider function' : 'static credentials';
  logger.debug('Loading AWS configuration', { connection, region: iam.region ?? '(from hostname)', credentials: credentialSource });
  logger.debug('AWS configuration loaded successfully', { connection, credentials: credentialSource });
  logger.debug('Processing DSN for IAM authentication', { connection, original_dsn_length: config.dsn.length });
  if (dsn.password !== undefined) logger.debug('Password stripped from DSN', { connection, cleaned_dsn_length: describeDsn(dsn).length });

  if (!dsn.host || dsn.host.startsWith('/')) {
    const error = endpointInvalidError(`connection "${connection}": IAM authentication needs a TCP host in the DSN, got ${dsn.host ? `socket ${dsn.host}` : 'none'} (${describeDsn(dsn)})`);
    logger.error('Failed to extract RDS endpoint from DSN', { connection, error: error.message, dsn_format: 'Expected format: postgresql://user@host:port/db' });
    throw withConnection(error, connection);
  }
  const port = dsn.port ?? defaultPort(config.driver) ?? 0;
  logger.info('Extracted RDS endpoint', { connection, endpoint: `${dsn.host}:${port}` });
  logger.debug('Extracted database configuration', { connection, database: dsn.database, options_count: Object.keys(dsn.params).length });

  const user = iam.db_user ?? dsn.user;
  if (!user) {
    const error = usernameMissingError(`connection "${connection}": IAM authentication needs a database user: the DSN has none and aws_iam_auth.db_user is not set`);
    logger.error('Database username not found', { connection, dsn_has_username: false, config_has_db_user: false });
    throw withConnection(error, connection);
  }
  logger.debug(iam.db_user ? 'Using username from config' : 'Extracted username from DSN', { connection, username: user });
  logger.info('IAM authentication will use database user', { connection, username: user });
  logger.debug('Determined database driver configuration', { connection, driver: config.driver, port });

  let tls: TlsConnectionOptions;
  try {
    tls = iamTls(config, dsn, logger);
  } catch (error) {
    logger.error('IAM authentication refused: TLS is disabled', { connection, error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
  const signingHost = iam.signing_host ?? dsn.host;
  const signingPort = iam.signing_port ?? port;
  logger.info('Creating AWS RDS credential store', { connection, endpoint: `${signingHost}:${signingPort}`, region: iam.region ?? '(from hostname)', username: user });
  let provider: IamTokenProvider;
  try {
    provider = createIamTokenProvider({
      host: signingHost,
      port: signingPort,
      user,
      ...(iam.region ? { region: iam.region } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      clock: options.clock,
      logger,
      ...(options.random ? { random: options.random } : {}),
      onEvent: (event) => {
        if (event.type === 'token.refreshed') {
          options.emit('token.refreshed', { connection, expiresAt: event.expiresAt, credentialSource: event.credentialSource, accessKeyIdSuffix: event.accessKeyIdSuffix });
        } else {
          options.emit('token.refresh_failed', { connection, code: event.code, message: event.message, attempt: event.attempt });
        }
      },
    });
  } catch (error) {
    logger.error('Failed to create AWS RDS credential store', {
      connection,
      error: error instanceof Error ? error.message : String(error),
      endpoint: `${signingHost}:${signingPort}`,
      username: user,
      possible_causes: 'Invalid endpoint, missing region, or missing username',
    });
    throw withConnection(error, connection);
  }
  logger.debug('AWS RDS credential store created successfully', { connection, region: provider.state().region });

  const limiter = endpointRateLimiter(`${signingHost}:${signingPort}`, iam.max_connects_per_second);
  const random = options.random ?? Math.random;
  logger.info('Database connection with AWS IAM authentication configured successfully', { connection, endpoint: `${dsn.host}:${port}`, username: user, database: dsn.database });

  return {
    provider,
    tls,
    state: () => provider.state(),
    close: () => provider.close(),
    password: async () => {
      await limiter.acquire();
      try {
        return await provider.getToken();
      } catch (error) {
        throw forConnection(error, connection);
      }
    },
    onAuthFailure: async ({ error, attempt, password, remainingMs }) => {
      const final = (detail: string) => ({
        retry: false,
        error: iamAuthFailedError(`connection "${connection}": ${detail}; the server said: ${error.message.replace(`connection "${connection}": `, '')}`, error, connection),
      });
      if (!isIamAuthFailure(error)) return final('the server refused the IAM login for a reason a new token cannot fix');
      provider.invalidate(password);
      const delayMs = backoffDelay(attempt, { baseMs: 100, maxMs: 2_000, random });
      if (attempt >= MAX_AUTH_ATTEMPTS || delayMs >= remainingMs) {
        return final(`the server rejected ${attempt} IAM token(s) for user "${user}" at ${signingHost}:${signingPort}`);
      }
      logger.warn('IAM authentication failed; retrying with a new token', { connection, attempt, delay_ms: delayMs, code: error.code });
      options.emit('auth.retried', { connection, attempt, code: error.code, delayMs });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { retry: true };
    },
  };
}

/**
 * IAM tokens are bearer credentials: they only travel over TLS. Default: verify-full against the RDS
 * CA bundle plus the system CAs; `sslrootcert` picks another CA; `require` encrypts without
 * verification (warned); TLS disabled is refused.
 */
function iamTls(config: ConnectionConfig, dsn: ParsedDsn, logger: Logger): TlsConnectionOptions {
  const settings = sslModeToTls(dsn, config.name);
  if (settings.explicit && settings.tls === false) {
    throw new ConfigError(
      'TLS_FAILED',
      `connection "${config.name}": ${settings.source ?? `sslmode=${settings.mode}`} turns TLS off, but IAM authentication sends its token as a cleartext password, so it would cross the network in the clear; RDS refuses IAM logins without TLS`,
      {
        connection: config.name,
        possibleCauses: [`The DSN says ${settings.source ?? settings.mode}`],
        solutions: ['Remove sslmode from the DSN (IAM connections default to verify-full against the RDS CA bundle)', 'Or set sslmode=verify-full (with sslrootcert=/path/ca.pem for another CA)'],
      },
    );
  }
  if (settings.explicit && settings.tls !== false) {
    if (settings.mode === 'require') logger.warn('IAM connection encrypts without verifying the server certificate (sslmode=require); use verify-full', { connection: config.name });
    return settings.tls.ca ? settings.tls : { ...settings.tls, ca: [...rdsCaBundle()] };
  }
  return { ca: [...rdsCaBundle()], rejectUnauthorized: true };
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

function withConnection(error: unknown, connection: string): unknown {
  if (error instanceof Error && 'connection' in error && (error as { connection?: string }).connection === undefined) {
    Object.defineProperty(error, 'connection', { value: connection, enumerable: true });
  }
  return error;
}
