import { withOrigin } from '../../iam/credential-origin.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from '../../iam/index.js';

/**
 * The AWS default chain as seen from the command's environment. The chain's first link reads
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN / AWS_CREDENTIAL_EXPIRATION) from
 * `process.env`; the CLI's environment is injected, so that link is taken from it here, marked as
 * the SDK marks environment credentials (source `env`). Without those variables: undefined, and
 * dbmodule falls back to the rest of the SDK default chain (profiles, SSO, web identity, ECS, EC2).
 * Marked as the chain's environment link: a connection's aws_iam_auth.profile outranks it (as
 * AWS_PROFILE does in the SDK), and aws_iam_auth.role_arn is assumed with it.
 */
export function credentialsFromCliEnv(env: Record<string, string | undefined>): AwsCredentialProvider | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN || undefined;
  const expiration = env.AWS_CREDENTIAL_EXPIRATION ? new Date(env.AWS_CREDENTIAL_EXPIRATION) : undefined;
  const identity: AwsCredentialIdentity = {
    accessKeyId,
    secretAccessKey,
    ...(sessionToken ? { sessionToken } : {}),
    ...(expiration && Number.isFinite(expiration.getTime()) ? { expiration } : {}),
  };
  // `$source` is the AWS SDK's feature flag for credentials read from environment variables.
  const marked = Object.assign({}, identity, { $source: { CREDENTIALS_ENV_VARS: 'g' } });
  return withOrigin(async () => marked, { kind: 'environment', source: 'env' });
}
