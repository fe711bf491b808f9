import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DbModuleError, messageOf } from '../errors.js';
import type { Logger } from '../logging.js';
import { originOf, withOrigin } from './credential-origin.js';
import { loadCredentialProviders, loadDefaultChain } from './credentials.js';
import { assumeRoleFailedError, assumeRoleProblemOf, profileUnavailableError, type ProfileFile } from './errors.js';
import type { AwsCredentialIdentity, AwsCredentialProvider, CredentialsPlan } from './types.js';

type Given = AwsCredentialIdentity | AwsCredentialProvider;

/** The credentials of one connection, as {@link credentialsFor} decided them. Nothing secret. */
export interface ConnectionCredentials {
  /**
   * What to sign with: give it as `credentials` to `createCredentialCache`, `createTokenProvider`,
   * `createIamTokenProvider` or an AWS SDK client (`new SecretsManagerClient({ region, credentials })`).
   * Undefined: the AWS SDK default chain (the client's own, or dbmodule's).
   * A profile or a role is a provider function: it loads `@aws-sdk/credential-providers` on its
   * first call, resolves anew on every call (the caller memoises: dbmodule's credential cache, or
   * the SDK client's) and rejects with an `IamError` `AWS_CREDENTIALS_UNAVAILABLE` naming the
   * connection and the profile or the role.
   */
  readonly credentials: Given | undefined;
  /**
   * What the choice is: `assumed-role` (aws_iam_auth.role_arn), `shared-ini` (aws_iam_auth.profile),
   * `given` (the credentials passed in code, or the CLI's environment keys), `default-chain`.
   * Resolved credentials may name their source more precisely (`env`, `sso`, `container`...).
   */
  readonly source: 'assumed-role' | 'shared-ini' | 'given' | 'default-chain';
  /** For log lines and `check`: `role arn:aws:iam::123456789012:role/app assumed with profile "dev"`. */
  readonly description: string;
  /** The profile the credentials (or the role's source credentials) come from, when one is used. */
  readonly profile?: string;
  /** The role assumed, when aws_iam_auth.role_arn is set. */
  readonly assumedRoleArn?: string;
  /**
   * Equal for two connections exactly when they sign with the same credentials: token providers
   * (and their tokens) are shared only between equal keys. Holds no secret (the external id is hashed).
   */
  readonly key: string;
}

/**
 * The AWS credentials a connection uses, for IAM signing and Secrets Manager alike, from its plan's
 * `credentials` (`aws_iam_auth.profile`, `role_arn`, `role_session_name`, `external_id`,
 * `duration`) and the credentials given in code (`createDatabase(config, { credentials })`):
 *
 * - neither a profile nor a role: the given credentials, else the AWS SDK default chain;
 * - a profile: the profile from the shared files (`fromIni`: static keys, `role_arn` with
 *   `source_profile` or `credential_source`, SSO, `credential_process`, web identity; its STS
 *   region is the profile's `region`, else the connection's). Credentials given in code win
 *   over the profile (logged at debug); the default chain's environment keys do not;
 * - a role: `fromTemporaryCredentials` (STS AssumeRole in `stsRegion`, set explicitly) with
 *   the given credentials as source credentials, else the profile's, else the default chain's.
 *   Every call assumes the role anew; callers memoise until near expiry, so the credentials are
 *   replaced before they expire. Their source is reported as `assumed-role`, with the role's ARN.
 *
 * STS is reached at `sts.<region>.amazonaws.com`, or `AWS_ENDPOINT_URL_STS` when set (a VPC
 * endpoint, a local STS). Nothing here reads a secret into a log line, error or state.
 */
export function credentialsFor(plan: { readonly name: string; readonly credentials?: CredentialsPlan | undefined }, given?: Given, logger?: Logger): ConnectionCredentials {
  const connection = plan.name;
  const origin = originOf(given);
  if (origin?.kind === 'resolved') {
    // what `check` resolved once for this very plan: the profile and role are already applied
    return {
      credentials: given,
      source: origin.assumedRoleArn ? 'assumed-role' : origin.profile ? 'shared-ini' : 'given',
      description: 'the credentials resolved for this check',
      ...(origin.profile === undefined ? {} : { profile: origin.profile }),
      ...(origin.assumedRoleArn === undefined ? {} : { assumedRoleArn: origin.assumedRoleArn }),
      key: 'resolved',
    };
  }
  const wanted = plan.credentials;
  const environmentKeys = origin?.kind === 'environment';
  if (!wanted) return given === undefined ? { credentials: undefined, source: 'default-chain', description: 'the AWS SDK default chain', key: 'default' } : givenChoice(given);

  const { profile, role } = wanted;
  // the default chain's environment keys yield to a configured profile, as they do to AWS_PROFILE in the SDK
  const usable = given !== undefined && !(environmentKeys && profile !== undefined) ? given : undefined;
  if (usable !== undefined && profile !== undefined) {
    logger?.debug('AWS credentials given in code take precedence over aws_iam_auth.profile', { connection, profile, credentials: describeGiven(usable) });
  } else if (given !== undefined && usable === undefined) {
    logger?.debug('aws_iam_auth.profile takes precedence over the AWS keys in the environment', { connection, profile });
  }

  let source: Given | undefined;
  let sourceDescription: string;
  let sourceKey: string;
  let sourceProfile: string | undefined;
  if (usable !== undefined) {
    source = usable;
    sourceDescription = describeGiven(usable);
    sourceKey = 'given';
  } else if (profile !== undefined) {
    source = profileProvider(connection, profile, wanted.stsRegion);
    sourceDescription = `profile "${profile}"`;
    sourceKey = `profile:${profile}`;
    sourceProfile = profile;
  } else {
    source = undefined;
    sourceDescription = 'the AWS SDK default chain';
    sourceKey = 'default';
  }

  if (!role) {
    if (sourceProfile === undefined) return usable === undefined ? { credentials: undefined, source: 'default-chain', description: sourceDescription, key: sourceKey } : givenChoice(usable);
    return { credentials: source, source: 'shared-ini', description: sourceDescription, profile: sourceProfile, key: JSON.stringify([sourceKey, wanted.stsRegion]) };
  }
  return {
    credentials: roleProvider(connection, role, wanted.stsRegion, source, sourceDescription, sourceProfile),
    source: 'assumed-role',
    description: `role ${role.arn} assumed with ${sourceDescription}`,
    ...(sourceProfile === undefined ? {} : { profile: sourceProfile }),
    assumedRoleArn: role.arn,
    key: JSON.stringify(['role', role.arn, role.sessionName, role.durationSeconds, wanted.stsRegion, role.externalId === undefined ? '-' : fingerprint(role.externalId), sourceKey]),
  };
}

/**
 * Where a connection's credentials will come from, in words, before its plan exists (the seed's
 * "Loading AWS configuration" line): the same words as {@link ConnectionCredentials.description}.
 */
export function describeCredentialSettings(settings: { readonly profile?: string | undefined; readonly role_arn?: string | undefined }, given: Given | undefined): string {
  const environmentKeys = originOf(given)?.kind === 'environment';
  const base =
    given !== undefined && !(environmentKeys && settings.profile !== undefined) ? describeGiven(given)
    : settings.profile !== undefined ? `profile "${settings.profile}"`
    : 'the AWS SDK default chain';
  return settings.role_arn === undefined ? base : `role ${settings.role_arn} assumed with ${base}`;
}

// --- internal ---

function givenChoice(given: Given): ConnectionCredentials {
  return { credentials: given, source: 'given', description: describeGiven(given), key: 'given' };
}

function describeGiven(given: Given): string {
  const origin = originOf(given);
  if (origin?.kind === 'environment') return 'the AWS keys in the environment';
  return typeof given === 'function' ? 'the credentials provider given in code' : 'the static credentials given in code';
}

function fingerprint(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** `aws_iam_auth.profile` through the SDK's fromIni, read anew at every call (files rotated outside the process are seen). */
function profileProvider(connection: string, profile: string, region: string): AwsCredentialProvider {
  const provider: AwsCredentialProvider = async () => {
    const module = await loadCredentialProviders();
    try {
      // parentClientConfig: the region of a role_arn profile's STS client when the profile names none
      return await module.fromIni({ profile, ignoreCache: true, parentClientConfig: { region } })();
    } catch (error) {
      if (error instanceof DbModuleError) throw error;
      throw profileUnavailableError(connection, profile, await profileFiles(), error);
    }
  };
  return withOrigin(provider, { source: 'shared-ini', profile });
}

/** `aws_iam_auth.role_arn`: STS AssumeRole with `source` (else the default chain), in `stsRegion`. */
function roleProvider(
  connection: string,
  role: NonNullable<CredentialsPlan['role']>,
  stsRegion: string,
  source: Given | undefined,
  sourceDescription: string,
  profile: string | undefined,
): AwsCredentialProvider {
  let assume: ((options?: object) => Promise<AwsCredentialIdentity>) | undefined;
  const failure = {
    connection,
    roleArn: role.arn,
    sessionName: role.sessionName,
    durationSeconds: role.durationSeconds,
    stsRegion,
    externalIdSet: role.externalId !== undefined,
    source: sourceDescription,
  };
  const provider: AwsCredentialProvider = async () => {
    if (!assume) {
      const module = await loadCredentialProviders();
      const master = source === undefined ? await loadDefaultChain(undefined) : source;
      assume = module.fromTemporaryCredentials({
        params: {
          RoleArn: role.arn,
          RoleSessionName: role.sessionName,
          DurationSeconds: role.durationSeconds,
          ...(role.externalId === undefined ? {} : { ExternalId: role.externalId }),
        },
        // the SDK's STS client memoises a provider's credentials until near their expiry
        masterCredentials: typeof master === 'function' ? () => master() : master,
        // explicit: an STS client without a region fails with "Region is missing" (aws-sdk-js-v3 #2958, #6565)
        clientConfig: { region: stsRegion },
      });
    }
    let identity: AwsCredentialIdentity;
    try {
      identity = await assume();
    } catch (error) {
      if (error instanceof DbModuleError) throw error;
      throw assumeRoleFailedError(failure, scrubbed(error, role.externalId), assumeRoleProblemOf(error));
    }
    // the SDK's own flag for assumed credentials (its role assumer sets it; fromTemporaryCredentials does not)
    return Object.assign({}, identity, { $source: { CREDENTIALS_STS_ASSUME_ROLE: 'i' } });
  };
  return withOrigin(provider, { source: 'assumed-role', assumedRoleArn: role.arn, ...(profile === undefined ? {} : { profile }) });
}

/** The error as it is, unless its message carries the external id: then only its name and the message without it. */
function scrubbed(error: unknown, externalId: string | undefined): unknown {
  if (externalId === undefined || !messageOf(error).includes(externalId)) return error;
  const safe = new Error(messageOf(error).split(externalId).join('<external_id>'));
  safe.name = error instanceof Error ? error.name : 'Error';
  return safe;
}

/** The shared files the SDK reads (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/), and the profiles in each. */
async function profileFiles(): Promise<ProfileFile[]> {
  const home = process.env.HOME || process.env.USERPROFILE || homedir();
  const files = [
    { kind: 'config' as const, path: process.env.AWS_CONFIG_FILE || join(home, '.aws', 'config') },
    { kind: 'credentials' as const, path: process.env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials') },
  ];
  return Promise.all(
    files.map(async ({ kind, path }): Promise<ProfileFile> => {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        return { kind, path, state: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable', profiles: [] };
      }
      const profiles: string[] = [];
      for (const match of text.matchAll(/^[ \t]*\[([^\]\r\n]+)\][ \t]*$/gm)) {
        const section = (match[1] ?? '').trim();
        // the config file names profiles `[profile name]` (and `[default]`); `[sso-session x]`, `[services x]` are not profiles
        if (kind === 'credentials') profiles.push(section);
        else if (section === 'default') profiles.push(section);
        else if (/^profile\s+/.test(section)) profiles.push(section.replace(/^profile\s+/, '').trim());
      }
      return { kind, path, state: 'read', profiles };
    }),
  );
}

