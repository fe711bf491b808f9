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

/** Why assuming `aws_iam_auth.role_arn` failed, read from STS's answer or the SDK's error. */
export type AssumeRoleProblem = 'denied' | 'invalid' | 'source-rejected' | 'source-expired' | 'source-unavailable' | 'unreachable' | 'unknown';

const STS_CODES: Readonly<Record<string, AssumeRoleProblem>> = {
  AccessDenied: 'denied',
  AccessDeniedException: 'denied',
  ValidationError: 'invalid',
  MalformedPolicyDocument: 'invalid',
  PackedPolicyTooLarge: 'invalid',
  RegionDisabledException: 'invalid',
  ExpiredToken: 'source-expired',
  ExpiredTokenException: 'source-expired',
  InvalidClientTokenId: 'source-rejected',
  SignatureDoesNotMatch: 'source-rejected',
  IncompleteSignature: 'source-rejected',
  UnrecognizedClientException: 'source-rejected',
};

/** The kind of an AssumeRole failure: STS's error code, else what the SDK said. */
export function assumeRoleProblemOf(error: unknown): AssumeRoleProblem {
  if (!(error instanceof Error)) return 'unknown';
  const code = (error as { Code?: unknown; code?: unknown }).Code ?? (error as { code?: unknown }).code;
  const byCode = STS_CODES[error.name] ?? (typeof code === 'string' ? STS_CODES[code] : undefined);
  if (byCode) return byCode;
  const problem = credentialProblemOf(error);
  if (problem === 'unreachable') return 'unreachable';
  if (error.name === 'CredentialsProviderError' || problem === 'not-found') return 'source-unavailable';
  return 'unknown';
}

/** What an assume-role error must name: the role (its ARN is not secret), never the external id's value. */
export interface AssumeRoleFailure {
  readonly connection: string;
  readonly roleArn: string;
  readonly sessionName: string;
  readonly durationSeconds: number;
  readonly stsRegion: string;
  /** Whether aws_iam_auth.external_id is set (its value is never shown). */
  readonly externalIdSet: boolean;
  /** Where the source credentials come from, e.g. `profile "dev"`. */
  readonly source: string;
}

const TRY_ASSUME = (failure: AssumeRoleFailure): string =>
  `Try it from this host: aws sts assume-role --role-arn ${failure.roleArn} --role-session-name ${failure.sessionName}${failure.externalIdSet ? ' --external-id <external_id>' : ''} --region ${failure.stsRegion}`;

function assumeRoleHints(problem: AssumeRoleProblem, failure: AssumeRoleFailure): { possibleCauses: string[]; solutions: string[] } {
  const { roleArn } = failure;
  const identity = 'Check which identity the source credentials are: aws sts get-caller-identity';
  switch (problem) {
    case 'denied':
      return {
        possibleCauses: [
          `The trust policy of ${roleArn} does not name the source identity (${failure.source}) as a Principal allowed sts:AssumeRole`,
          failure.externalIdSet
            ? "aws_iam_auth.external_id is not the value the trust policy's sts:ExternalId condition requires"
            : 'The trust policy requires an external id (Condition StringEquals sts:ExternalId) and aws_iam_auth.external_id is not set',
          `The source identity's own IAM policy does not allow sts:AssumeRole on ${roleArn}`,
          'The role does not exist: a typo in aws_iam_auth.role_arn, or another account',
        ],
        solutions: [
          `Add the source identity to the trust policy of ${roleArn}: {"Effect":"Allow","Principal":{"AWS":"<source identity ARN>"},"Action":"sts:AssumeRole"${failure.externalIdSet ? ',"Condition":{"StringEquals":{"sts:ExternalId":"<external_id>"}}' : ''}}`,
          failure.externalIdSet ? 'Ask the role owner for the external id and set aws_iam_auth.external_id to it' : 'Set aws_iam_auth.external_id when the trust policy asks for one',
          `Allow the source identity sts:AssumeRole on ${roleArn}: {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"${roleArn}"}`,
          identity,
          TRY_ASSUME(failure),
        ],
      };
    case 'invalid':
      return {
        possibleCauses: [
          `aws_iam_auth.duration (${failure.durationSeconds} s) exceeds the role's MaxSessionDuration, or 1 hour when the source credentials are themselves a role's (role chaining)`,
          'aws_iam_auth.role_session_name is not 2 to 64 of letters, digits and +=,.@_-',
          `STS is not activated in ${failure.stsRegion}`,
        ],
        solutions: [
          `Lower aws_iam_auth.duration, or raise the role's maximum: aws iam update-role --role-name <name> --max-session-duration ${failure.durationSeconds}`,
          'Fix aws_iam_auth.role_session_name',
          `Activate STS in ${failure.stsRegion} (IAM console, Account settings), or set aws_iam_auth.region`,
        ],
      };
    case 'source-expired':
      return {
        possibleCauses: [`The source credentials (${failure.source}) have expired (an SSO session, an assumed role, a temporary key)`],
        solutions: ['Renew the source credentials (aws sso login, a new session token)', identity],
      };
    case 'source-rejected':
      return {
        possibleCauses: [`STS does not know the source credentials (${failure.source}): a deleted or deactivated access key, a wrong secret key, a session token of other keys`],
        solutions: ['Check or replace the source access key (IAM console, Security credentials)', identity],
      };
    case 'source-unavailable':
      return { possibleCauses: [`No source credentials for the role (${failure.source})`, NOT_FOUND], solutions: [...CONFIGURE, CHECK] };
    case 'unreachable':
      return {
        possibleCauses: [`STS in ${failure.stsRegion} (sts.${failure.stsRegion}.amazonaws.com, or AWS_ENDPOINT_URL_STS) is unreachable from this host`, 'Network issues or throttling'],
        solutions: [`Allow HTTPS to sts.${failure.stsRegion}.amazonaws.com (a NAT gateway, or an STS interface VPC endpoint)`, 'Check AWS_ENDPOINT_URL_STS when it is set', TRY_ASSUME(failure)],
      };
    default:
      return {
        possibleCauses: [`STS refused to issue credentials for ${roleArn}`, ...UNREACHABLE],
        solutions: [TRY_ASSUME(failure), identity],
      };
  }
}

/**
 * Assuming `aws_iam_auth.role_arn` failed: the message names the connection, the role and where
 * its source credentials come from; causes and solutions fit what STS said (AccessDenied: the
 * trust policy and the external id). The external id's value never appears.
 */
export function assumeRoleFailedError(failure: AssumeRoleFailure, cause: unknown, problem: AssumeRoleProblem = assumeRoleProblemOf(cause)): IamError {
  const name = cause instanceof Error && cause.name !== 'Error' ? `${cause.name}: ` : '';
  return new IamError(
    'AWS_CREDENTIALS_UNAVAILABLE',
    `connection "${failure.connection}": assuming role ${failure.roleArn} (session "${failure.sessionName}", source credentials: ${failure.source}) failed: ${name}${messageOf(cause)}`,
    {
      connection: failure.connection,
      ...assumeRoleHints(problem, failure),
      // only an expired or unreachable source may work on a later attempt; a refusal is configuration
      retryable: problem === 'unreachable' || problem === 'source-expired' || problem === 'unknown',
      cause,
    },
  );
}

/** One shared AWS file as a profile lookup read it. */
export interface ProfileFile {
  readonly kind: 'config' | 'credentials';
  readonly path: string;
  readonly state: 'read' | 'missing' | 'unreadable';
  /** The profile names it has (not secret). */
  readonly profiles: readonly string[];
}

/**
 * `aws_iam_auth.profile` gave no credentials: the message names the profile and which files were
 * read; a profile found in neither says so (with the profiles that exist), one that was found says
 * what the SDK could not do with it.
 */
export function profileUnavailableError(connection: string, profile: string, files: readonly ProfileFile[], cause: unknown): IamError {
  const describe = (file: ProfileFile): string => `${file.path} (${file.state === 'read' ? `${file.kind} file` : file.state})`;
  const holder = files.find((file) => file.profiles.includes(profile));
  const known = [...new Set(files.flatMap((file) => file.profiles))];
  const config = files.find((file) => file.kind === 'config');
  const credentials = files.find((file) => file.kind === 'credentials');
  const check = `Check the profile from this host: aws sts get-caller-identity --profile ${profile}`;
  if (!holder) {
    return new IamError('AWS_CREDENTIALS_UNAVAILABLE', `connection "${connection}": AWS profile "${profile}" (aws_iam_auth.profile) was not found; read ${files.map(describe).join(' and ')}`, {
      connection,
      possibleCauses: [
        `No [profile ${profile}] section in ${config?.path ?? 'the config file'} and no [${profile}] section in ${credentials?.path ?? 'the credentials file'}`,
        'AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE (or HOME) point at other files than the ones that hold it',
        known.length > 0 ? `A typo in aws_iam_auth.profile: the files have ${known.map((name) => `"${name}"`).join(', ')}` : 'The files do not exist on this host (a container, another user)',
      ],
      solutions: [
        `Create it: aws configure --profile ${profile} (or add [profile ${profile}] to ${config?.path ?? '~/.aws/config'})`,
        'Set AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE to the files that hold it',
        'Fix aws_iam_auth.profile, or remove it to use the default credential chain',
      ],
      retryable: false,
      cause,
    });
  }
  const name = cause instanceof Error && cause.name !== 'Error' ? `${cause.name}: ` : '';
  const problem = credentialProblemOf(cause);
  return new IamError('AWS_CREDENTIALS_UNAVAILABLE', `connection "${connection}": AWS profile "${profile}" (in ${holder.path}) gave no credentials: ${name}${messageOf(cause)}`, {
    connection,
    possibleCauses: [
      ...(problem === 'expired' ? [EXPIRED] : []),
      'The profile has no usable credentials: aws_access_key_id and aws_secret_access_key, role_arn with source_profile or credential_source (Environment, Ec2InstanceMetadata, EcsContainer), sso_session, credential_process or web_identity_token_file',
      'Its source_profile is missing or has no credentials, or its role could not be assumed (trust policy, external_id, mfa_serial is not supported)',
      ...(problem === 'unreachable' ? UNREACHABLE : []),
    ],
    solutions: [check, `Run \`aws sso login --profile ${profile}\` again for an SSO profile`, `Fix the [profile ${profile}] section of ${holder.path}`],
    retryable: problem === 'unreachable' || problem === 'expired' || problem === undefined,
    cause,
  });
}
