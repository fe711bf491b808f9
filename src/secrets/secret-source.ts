import { DbModuleError } from '../errors.js';
import type { SecretPlan } from '../config/plan-types.js';
import { credentialsUnavailableError } from '../iam/errors.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from '../iam/types.js';
import { secretInvalidError, secretsClientMissingError, secretUnavailableError } from './errors.js';
import type { SecretLogin } from './types.js';

/** Reads a connection's secret: one GetSecretValue of its AWSCURRENT version. */
export interface SecretSource {
  fetch(): Promise<SecretLogin>;
  /** Destroys the SDK client (its sockets); a later fetch makes a new one. */
  close(): void;
}

export interface SecretSourceOptions {
  readonly connection: string;
  readonly plan: SecretPlan;
  /** The DSN's user: the login's user when the secret names none. */
  readonly fallbackUser: string | undefined;
  /** The connection's AWS credentials; default: the SDK's default chain. */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialProvider | undefined;
}

type Client = import('@aws-sdk/client-secrets-manager').SecretsManagerClient;
type Module = typeof import('@aws-sdk/client-secrets-manager');

/**
 * The Secrets Manager side of a `secrets_manager` connection, with the AWS SDK's own client
 * (loaded on first use, an optional peer). Always asks for `AWSCURRENT` by name: a version a
 * rotation staged as `AWSPENDING` is never used before the rotation promotes it.
 */
export function createSecretSource(options: SecretSourceOptions): SecretSource {
  const { connection, plan } = options;
  let client: Promise<{ client: Client; module: Module }> | undefined;

  const open = (): Promise<{ client: Client; module: Module }> => {
    client ??= import('@aws-sdk/client-secrets-manager').then(
      (module) => ({
        module,
        client: new module.SecretsManagerClient({
          region: plan.region,
          ...(plan.endpoint === undefined ? {} : { endpoint: plan.endpoint }),
          ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        }),
      }),
      (error: unknown) => {
        client = undefined;
        throw secretsClientMissingError(connection, error);
      },
    );
    return client;
  };

  return {
    async fetch(): Promise<SecretLogin> {
      const { client: sdk, module } = await open();
      let answer: import('@aws-sdk/client-secrets-manager').GetSecretValueCommandOutput;
      try {
        answer = await sdk.send(new module.GetSecretValueCommand({ SecretId: plan.secretId, VersionStage: 'AWSCURRENT' }));
      } catch (error) {
        if (error instanceof DbModuleError) throw error;
        if (error instanceof Error && error.name === 'CredentialsProviderError') {
          throw credentialsUnavailableError(`connection "${connection}": could not resolve AWS credentials to read secret "${plan.secretId}"`, error);
        }
        throw secretUnavailableError(connection, plan.secretId, error);
      }
      return loginOf(answer.SecretString, answer.VersionId, options);
    },
    close(): void {
      const opened = client;
      client = undefined;
      void opened?.then(({ client: sdk }) => sdk.destroy(), () => {});
    },
  };
}

/** The login in a secret's JSON; a problem names the part at fault, never a value (a JSON error message would quote the text). */
function loginOf(text: string | undefined, versionId: string | undefined, options: SecretSourceOptions): SecretLogin {
  const invalid = (problem: string) => secretInvalidError(options.connection, options.plan.secretId, problem);
  if (text === undefined) throw invalid('has no SecretString (a binary secret is not a login)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('is not JSON: expected {"username": "...", "password": "..."}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('is not a JSON object: expected {"username": "...", "password": "..."}');
  const { username, password } = parsed as { username?: unknown; password?: unknown };
  if (typeof password !== 'string' || password === '') throw invalid('has no "password" string');
  if (username !== undefined && (typeof username !== 'string' || username === '')) throw invalid('has a "username" that is not a non-empty string');
  const user = username ?? options.fallbackUser;
  if (user === undefined) throw invalid('has no "username" and the DSN names no user');
  return { user, password, versionId: versionId ?? 'unknown' };
}
