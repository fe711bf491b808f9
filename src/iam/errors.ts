import { IamError, messageOf } from '../errors.js';

// Causes and solutions follow the seed's five failure categories (credentials, endpoint
// extraction, username, credential store, ping), corrected where the Go module's text was wrong:
// missing credentials surface when a token is signed, not when configuration loads.

/** Why no usable credentials came: each gets only the causes and solutions that fit it. */
export type CredentialProblem = 'not-found' | 'expired' | 'incomplete' | 'unreachable';

const NOT_FOUND = 'No AWS credentials in the environment, shared config/credentials files, SSO cache, web identity token file, or container/instance metadata';
const EXPIRED = 'The credentials have expired (SSO session, assumed role, rotated keys)';
const UNREACHABLE = [
  'The container credentials endpoint or the EC2 instance metadata service is unreachable or throttling',
  'Network issues reaching AWS (STS, SSO)',
];
const CHECK = 'Check the credentials from this host with `aws sts get-caller-identity`';
const CONFIGURE = [
  'Set the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys)',
  'Configure ~/.aws/credentials or ~/.aws/config (and AWS_PROFILE), or run `aws sso login` again',
  'Ensure an IAM instance profile, ECS task role or EKS service account role is attached',
];

const CREDENTIAL_HINTS: Record<CredentialProblem | 'unknown', { possibleCauses: string[]; solutions: string[] }> = {
  'not-found': { possibleCauses: [NOT_FOUND], solutions: [...CONFIGURE, CHECK] },
  expired: { possibleCauses: [EXPIRED], solutions: ['Run `aws sso login` again, or renew the assumed role or the rotated keys', CHECK] },
  incomplete: {
    possibleCauses: ['The credential provider returned an object without accessKeyId or secretAccessKey'],
    solutions: ['Return { accessKeyId, secretAccessKey, sessionToken? } from the credentials (or provider) passed to createDatabase or createIamTokenProvider'],
  },
  unreachable: { possibleCauses: UNREACHABLE, solutions: [CHECK, 'Allow this host to reach the metadata endpoint (169.254.169.254 / 169.254.170.2) or STS'] },
  unknown: { possibleCauses: [NOT_FOUND, EXPIRED, ...UNREACHABLE], solutions: [...CONFIGURE, CHECK] },
};

/**
 * No usable AWS credentials (the chain failed, or they expire within the safety margin). The
 * problem is read from the SDK's error when not given.
 */
export function credentialsUnavailableError(detail: string, cause?: unknown, context: { problem?: CredentialProblem; profile?: string } = {}): IamError {
  const suffix = cause === undefined ? '' : `: ${messageOf(cause)}`;
  const problem = context.problem ?? credentialProblemOf(cause);
  const hints = CREDENTIAL_HINTS[problem ?? 'unknown'];
  const profileCause = context.profile !== undefined && problem === 'not-found' ? [`The profile "${context.profile}" is in neither ~/.aws/config nor ~/.aws/credentials, or has no credentials`] : [];
  return new IamError('AWS_CREDENTIALS_UNAVAILABLE', `${detail}${suffix}`, {
    possibleCauses: [...profileCause, ...hints.possibleCauses],
    solutions: hints.solutions,
    retryable: true,
    cause,
  });
}

/** What the AWS SDK's error says went wrong; undefined when it does not say. */
export function credentialProblemOf(error: unknown): CredentialProblem | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  const text = `${error.name} ${typeof code === 'string' ? code : ''} ${error.message}`;
  if (/could not load credentials from any providers/i.test(text)) return 'not-found';
  if (/expired/i.test(text)) return 'expired';
  if (/ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ECONNRESET|TimeoutError|throttl/i.test(text)) return 'unreachable';
  return undefined;
}

/** The signing endpoint (host or port) is unusable. */
export function endpointInvalidError(detail: string): IamError {
  return new IamError('IAM_ENDPOINT_INVALID', detail, {
    possibleCauses: [
      'The DSN has no host, or its host:port is malformed',
      'The DSN is missing `://` or the port is not a number between 1 and 65535',
      'signing_host contains a scheme, path or port instead of a bare hostname',
    ],
    solutions: [
      'Verify the DSN format, e.g. postgresql://user@host.rds.amazonaws.com:5432/dbname',
      'Ensure host:port is properly formatted; set aws_iam_auth.signing_port when the port differs',
      'Set aws_iam_auth.signing_host to the bare RDS endpoint name when connecting through a tunnel, CNAME or IP',
    ],
  });
}

/** Neither `db_user` nor the DSN names a database user. */
export function usernameMissingError(detail: string): IamError {
  return new IamError('IAM_USERNAME_MISSING', detail, {
    possibleCauses: ['The DSN has no username and aws_iam_auth.db_user is not set'],
    solutions: [
      'Include the username in the DSN: postgresql://username@host/db',
      'OR set aws_iam_auth.db_user in the configuration',
      'Verify the username exists in the database (PostgreSQL: GRANT rds_iam TO username)',
    ],
  });
}

/** No region configured and none in the hostname. */
export function regionMissingError(host: string, names: RegionSettingNames = CONFIG_REGION_NAMES): IamError {
  return new IamError(
    'IAM_REGION_MISSING',
    `no AWS region for IAM signing: ${names.region} is not set and host "${host}" is not an RDS endpoint (*.<region>.rds.amazonaws.com)`,
    {
      possibleCauses: [
        `${names.region} is not set`,
        'The host is a tunnel, CNAME, IP address or localhost, so the region cannot be read from it',
      ],
      solutions: [
        `Set ${names.region} (e.g. us-east-1)`,
        `Set ${names.signingHost} to the real RDS endpoint, which carries the region`,
      ],
    },
  );
}

/** Where the region and the signing host are set, as the user who must set them knows them. */
export interface RegionSettingNames {
  readonly region: string;
  readonly signingHost: string;
}

const CONFIG_REGION_NAMES: RegionSettingNames = { region: 'aws_iam_auth.region', signingHost: 'aws_iam_auth.signing_host' };

/** Possible causes of an authentication failure with a fresh IAM token (the seed's ping category). */
export const IAM_AUTH_FAILED_CAUSES: readonly string[] = [
  'IAM token generation failed or the token was signed for another host, port or region',
  "Database user doesn't have the rds_iam role (PostgreSQL) or is not IDENTIFIED WITH AWSAuthenticationPlugin (MySQL)",
  "IAM policy doesn't allow rds-db:connect for this database user",
  'IAM database authentication is not enabled on the instance or cluster',
  'Network connectivity issues',
  'Database is not accepting connections',
  'SSL/TLS configuration mismatch',
];

/** Solutions for {@link IAM_AUTH_FAILED_CAUSES}. */
export const IAM_AUTH_FAILED_SOLUTIONS: readonly string[] = [
  'Verify the IAM policy grants rds-db:connect on arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER',
  'Check the region: aws_iam_auth.region must match the RDS region',
  'Verify the database user exists and has the rds_iam role (PostgreSQL: GRANT rds_iam TO user)',
  'Verify AWS credentials are available: aws sts get-caller-identity',
  'Ensure security groups allow connections from this host on the database port',
  'Try a token by hand: aws rds generate-db-auth-token --hostname HOST --port PORT --username USER --region REGION',
  'Check CloudTrail and the iam-db-auth-error log export for the rejected attempts',
];

/** The server rejected a fresh IAM token; `detail` names the connection or endpoint. */
export function iamAuthFailedError(detail: string, cause?: unknown, connection?: string): IamError {
  return new IamError('IAM_AUTH_FAILED', detail, {
    ...(connection === undefined ? {} : { connection }),
    possibleCauses: IAM_AUTH_FAILED_CAUSES,
    solutions: IAM_AUTH_FAILED_SOLUTIONS,
    cause,
  });
}

/** The optional AWS SDK packages are not installed. */
export function awsSdkMissingError(pkg: string, cause: unknown): IamError {
  return new IamError('DRIVER_NOT_INSTALLED', `AWS RDS IAM authentication needs the package ${pkg}, which could not be loaded`, {
    possibleCauses: [`${pkg} is not installed`],
    solutions: [`npm install @aws-sdk/credential-providers @smithy/signature-v4`],
    cause,
  });
}
