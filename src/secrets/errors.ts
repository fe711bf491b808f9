import { DbModuleError, messageOf } from '../errors.js';

/** Where a secret could not be read: its id and what AWS said (no value is ever part of a message). */
export function secretUnavailableError(connection: string, secretId: string, cause: unknown): DbModuleError {
  const name = cause instanceof Error ? cause.name : 'Error';
  const hints = HINTS[name] ?? HINTS.default!;
  return new DbModuleError('SECRET_UNAVAILABLE', `connection "${connection}": could not read secret "${secretId}" from AWS Secrets Manager: ${name}: ${messageOf(cause)}`, {
    connection,
    possibleCauses: hints.possibleCauses,
    solutions: hints.solutions,
    retryable: name !== 'ResourceNotFoundException' && name !== 'AccessDeniedException',
    cause,
  });
}

/** `@aws-sdk/client-secrets-manager` (an optional peer) could not be loaded. */
export function secretsClientMissingError(connection: string, cause: unknown): DbModuleError {
  return new DbModuleError('DRIVER_NOT_INSTALLED', `connection "${connection}": secrets_manager needs the package @aws-sdk/client-secrets-manager, which could not be loaded`, {
    connection,
    possibleCauses: ['@aws-sdk/client-secrets-manager is an optional peer dependency and is not installed'],
    solutions: ['npm install @aws-sdk/client-secrets-manager'],
    cause,
  });
}

/** A secret that holds no usable login: says which part is missing, never what it holds. */
export function secretInvalidError(connection: string, secretId: string, problem: string): DbModuleError {
  return new DbModuleError('SECRET_INVALID', `connection "${connection}": secret "${secretId}" ${problem}`, {
    connection,
    possibleCauses: ['The secret is not a database login in the JSON shape RDS uses: {"username": "...", "password": "..."}'],
    solutions: ['Store the login as JSON with "username" and "password" (as RDS-managed and rotation-template secrets are)', 'Check the secret in the console or with `aws secretsmanager get-secret-value --secret-id <id> --query VersionStages`'],
    retryable: false,
  });
}

const HINTS: Readonly<Record<string, { possibleCauses: string[]; solutions: string[] }>> = {
  ResourceNotFoundException: {
    possibleCauses: ['No secret has this name or ARN in this region and account', 'The secret was deleted or is scheduled for deletion'],
    solutions: ['Check secrets_manager.secret_id and secrets_manager.region', 'List them: aws secretsmanager list-secrets --region <region>'],
  },
  AccessDeniedException: {
    possibleCauses: ['The credentials may not call secretsmanager:GetSecretValue on this secret', 'The secret is encrypted with a customer-managed KMS key the credentials may not use (kms:Decrypt)'],
    solutions: ['Allow secretsmanager:GetSecretValue on the secret ARN (and kms:Decrypt on its key) in the role or user policy', 'Check the secret resource policy'],
  },
  DecryptionFailure: {
    possibleCauses: ['Secrets Manager could not decrypt the secret with its KMS key'],
    solutions: ['Allow kms:Decrypt on the secret key for these credentials', 'Check that the KMS key is enabled'],
  },
  default: {
    possibleCauses: ['The Secrets Manager endpoint is unreachable from this host (no route, no VPC endpoint, DNS)', 'AWS Secrets Manager throttled or failed the request'],
    solutions: ['Check network access to secretsmanager.<region>.amazonaws.com (or the VPC endpoint in secrets_manager.endpoint)', 'Retry; the secret is fetched again on the next attempt'],
  },
};
