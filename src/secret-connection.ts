import type { SecretConnectionPlan } from './config/plan.js';
import type { AuthFailure, AuthFailureDecision, Clock, SessionLogin } from './drivers/types.js';
import { DbModuleError } from './errors.js';
import type { DatabaseEvents } from './events.js';
import { classifyAuthFailure } from './iam/auth-errors.js';
import { backoffDelay } from './iam/backoff.js';
import { credentialsFor } from './iam/credential-sources.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from './iam/types.js';
import type { Logger } from './logging.js';
import { SecretCache } from './secrets/secret-cache.js';
import { createSecretSource, type SecretSource } from './secrets/secret-source.js';
import type { SecretState } from './secrets/types.js';
import type { SecretTelemetry } from './telemetry/types.js';

/** What a `secrets_manager` connection adds to its driver pool: the secret's login per new session, and recovery after a rotation. */
export interface SecretConnectionAuth {
  readonly login: () => SessionLogin;
  readonly onAuthFailure: (failure: AuthFailure) => Promise<AuthFailureDecision>;
  /** Fetches the secret the first time; rejects with SECRET_UNAVAILABLE, SECRET_INVALID or AWS_CREDENTIALS_UNAVAILABLE. */
  ready(): Promise<void>;
  state(): SecretState;
  close(): void;
}

export interface SecretConnectionAuthOptions {
  readonly plan: SecretConnectionPlan;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly emit: <E extends 'secret.refreshed' | 'secret.refresh_failed' | 'auth.retried'>(event: E, payload: DatabaseEvents[E]) => void;
  /** The credentials given in code (`createDatabase(config, { credentials })`); the plan's profile or role applies on top (see credentialsFor). */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialProvider | undefined;
  /** Random source for retry jitter; default Math.random. */
  readonly random?: () => number;
  /** A `secret.fetch` span around each fetch, when telemetry is on. */
  readonly telemetry?: SecretTelemetry;
  /** Default: Secrets Manager through the AWS SDK (createSecretSource). */
  readonly source?: SecretSource;
}

/** What {@link readSecretLogin} read. @public */
export interface SecretLoginRead {
  readonly user: string;
  readonly password: string;
  readonly versionId: string;
  /** Where the AWS credentials that read it came from (`role arn:aws:iam::...:role/app assumed with the default chain`). */
  readonly credentials: string;
}

/**
 * Reads the login of a `secrets_manager` connection once, as the connection would (AWSCURRENT,
 * the connection's credentials): for tools that hand it on, such as `dbmodule exec` and
 * `dbmodule check`. The password is the caller's to keep out of logs.
 * @throws DbModuleError SECRET_UNAVAILABLE, SECRET_INVALID, AWS_CREDENTIALS_UNAVAILABLE, DRIVER_NOT_INSTALLED.
 * @public
 */
export async function readSecretLogin(plan: SecretConnectionPlan, options: { credentials?: AwsCredentialIdentity | AwsCredentialProvider; logger?: Logger } = {}): Promise<SecretLoginRead> {
  const chosen = credentialsFor(plan, options.credentials, options.logger);
  const source = createSecretSource({ connection: plan.name, plan: plan.secret, fallbackUser: plan.dsn.user, credentials: chosen.credentials });
  try {
    return { ...(await source.fetch()), credentials: chosen.description };
  } finally {
    source.close();
  }
}

/**
 * The login lifecycle of one `secrets_manager` connection (DESIGN §12). A session opens with the
 * login of the secret's AWSCURRENT version, fetched once and kept. When the server refuses it
 * (PostgreSQL 28P01/28000, MySQL 1045: a rotation changed the password, or changed the user in an
 * alternating-users rotation), the secret is fetched again (once per rejection window, however
 * many sessions were refused) and the login retried: at once when the secret changed, else with
 * jittered backoff, until `connection_timeout` runs out. Sessions already open are untouched.
 * Nothing from the secret is logged or emitted: its id and version id, times, counts.
 */
export function createSecretConnectionAuth(options: SecretConnectionAuthOptions): SecretConnectionAuth {
  const { plan, logger } = options;
  const { secret, name: connection } = plan;
  // the same credentials IAM signing would use: the given ones, a profile, an assumed role or the default chain
  const source = options.source ?? createSecretSource({ connection, plan: secret, fallbackUser: plan.dsn.user, credentials: credentialsFor(plan, options.credentials, logger).credentials });
  const cache = new SecretCache({
    source,
    plan: secret,
    clock: options.clock,
    onFetched: ({ reason, durationMs, login, error }) => {
      if (login) {
        logger.debug('Fetched the login from AWS Secrets Manager', { connection, secret_id: secret.secretId, version_id: login.versionId, reason, duration_ms: Math.round(durationMs) });
        options.emit('secret.refreshed', { connection, secretId: secret.secretId, versionId: login.versionId, reason, durationMs });
      } else if (error) {
        logger.warn('Fetching the login from AWS Secrets Manager failed', { connection, secret_id: secret.secretId, reason, code: error.code, error: error.message });
        options.emit('secret.refresh_failed', { connection, secretId: secret.secretId, reason, code: error.code, message: error.message });
      }
    },
    ...(options.telemetry ? { around: options.telemetry.fetch.bind(options.telemetry) } : {}),
  });
  const random = options.random ?? Math.random;

  return {
    login: () => cache.current(),
    ready: async () => {
      await cache.ready();
    },
    state: () => cache.state(),
    close: () => cache.close(),
    onAuthFailure: async ({ error, attempt, password, remainingMs }) => {
      const kind = classifyAuthFailure(error);
      if (kind !== 'credentials_rejected') return { retry: false };
      const changed = await cache.rejected(password);
      const delayMs = changed ? 0 : backoffDelay(attempt, { baseMs: 100, maxMs: 2_000, random });
      if (delayMs >= remainingMs) {
        const { user, versionId } = cache.current();
        return {
          retry: false,
          error: new DbModuleError('AUTH_FAILED', `connection "${connection}": the server refused the login of secret "${secret.secretId}" (user "${user}", version ${versionId}) ${attempt} time(s) within connection_timeout`, {
            connection,
            possibleCauses: [
              'The password was changed on the server and the secret not (yet): a rotation that failed half-way, or a manual change',
              'The secret holds the login of another user or database server',
            ],
            solutions: [
              'Compare the secret (aws secretsmanager get-secret-value --secret-id <id> --query VersionStages) with the database user',
              'Finish or retry the rotation (aws secretsmanager rotate-secret --secret-id <id>)',
              'Raise connection_timeout to wait longer for a rotation in progress',
            ],
            retryable: true,
            cause: error,
          }),
        };
      }
      if (delayMs > 0) {
        logger.warn('The server refused the secret\'s login; retrying', { connection, secret_id: secret.secretId, attempt, delay_ms: delayMs, code: error.code });
        options.emit('auth.retried', { connection, attempt, code: error.code, delayMs });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
      return { retry: true };
    },
  };
}
