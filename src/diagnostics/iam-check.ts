import type { DsnPlan, IamConnectionPlan } from '../config/plan.js';
import { systemClock } from '../drivers/types.js';
import { IamError } from '../errors.js';
import type { IamConnectionAuth } from '../iam-connection.js';
import { withOrigin } from '../iam/credential-origin.js';
import type { ResolvedCredentials } from '../iam/credentials.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from '../iam/types.js';
import { describeTls } from '../tls/connection-tls.js';
import { warningCollector, type PhaseRecorder } from './phases.js';

/** What the `credentials` phase of an IAM connection found. Nothing secret. @public */
export interface CheckedCredentials {
  /** `env`, `shared-ini`, `sso`, `container`, `imds`, `assumed-role`, `static`, `custom`... */
  source: string;
  /** Last four characters of the access key id. */
  accessKeyIdSuffix: string;
  /** When the credentials expire (ISO 8601); absent for long-term keys. */
  expiresAt?: string;
  /** The role assumed (aws_iam_auth.role_arn) and its session name. */
  assumedRoleArn?: string;
  roleSessionName?: string;
  /** The profile used (aws_iam_auth.profile). */
  profile?: string;
}

/** What the later phases (TLS, authentication) take from the IAM phases. */
export interface IamCheckResult {
  /** The connection's plan, resolved in the `config` phase. */
  readonly plan: IamConnectionPlan;
  readonly auth: IamConnectionAuth;
  /** The credentials the credentials phase resolved, for the authentication phase to sign with. */
  readonly credentials: AwsCredentialProvider;
}

/**
 * The IAM phases of a check: `config` (the plan: user, signing endpoint, region and TLS, resolved
 * as a connection resolves it), `credentials` (resolved once, as the connection resolves them
 * (`credentialsFor`: the given ones, aws_iam_auth.profile, role_arn): source, profile, assumed
 * role, access key id suffix, expiry) and `token` (signed for host:port, region, user; issue
 * time and expiry). Never the token itself. Returns undefined when a phase failed; the caller
 * closes `auth` otherwise.
 */
export async function checkIamPhases(
  base: DsnPlan,
  recorder: PhaseRecorder,
  given: AwsCredentialIdentity | AwsCredentialProvider | undefined,
  onCredentials?: (credentials: CheckedCredentials) => void,
): Promise<IamCheckResult | undefined> {
  const [{ createIamConnectionAuth, planIamConnection }, { createCredentialCache }, { credentialsFor }] = await Promise.all([
    import('../iam-connection.js'),
    import('../iam/credentials.js'),
    import('../iam/credential-sources.js'),
  ]);
  const warnings: string[] = [];
  let resolved: ResolvedCredentials | undefined;
  // Every signature of this check uses what the credentials phase resolved, so the chain
  // (possibly instance metadata, STS) is asked once. Marked as resolved: the connection's profile
  // and role are not applied to it again, and it reports the source, profile and role it had.
  const credentials: AwsCredentialProvider = withOrigin(
    async () => {
      if (!resolved) throw new IamError('AWS_CREDENTIALS_UNAVAILABLE', `connection "${base.name}": no credentials were resolved`);
      return resolved.identity;
    },
    () => ({
      kind: 'resolved' as const,
      ...(resolved ? { source: resolved.source } : {}),
      ...(resolved?.profile === undefined ? {} : { profile: resolved.profile }),
      ...(resolved?.assumedRoleArn === undefined ? {} : { assumedRoleArn: resolved.assumedRoleArn }),
    }),
  );

  let plan: IamConnectionPlan | undefined;
  let auth: IamConnectionAuth | undefined;
  const configured = await recorder.run(
    'config',
    async () => {
      const logger = warningCollector(warnings);
      plan = planIamConnection(base, logger, credentials);
      auth = createIamConnectionAuth({ plan, logger, clock: systemClock, emit: () => {}, credentials });
      const { iam } = plan;
      return `IAM user "${iam.user}", token signed for ${iam.signingHost}:${iam.signingPort} in ${iam.region}; ${describeTls(plan.tls)}`;
    },
    warnings,
  );
  if (!configured || !auth || !plan) return undefined;
  const ready = auth;

  const { user, signingHost, signingPort } = plan.iam;
  const label = `${user}@${signingHost}:${signingPort}`;
  const checked = plan;
  const gotCredentials = await recorder.run('credentials', async () => {
    const chosen = credentialsFor(checked, given);
    const cache = createCredentialCache({ credentials: chosen.credentials, clock: systemClock, reuseWindowMs: 0, label });
    const got = await cache.get();
    resolved = got;
    const expiry = got.expiresAt === undefined ? 'long-term key (no expiry)' : `expire at ${new Date(got.expiresAt).toISOString()}`;
    const role = checked.credentials?.role;
    const assumed = got.assumedRoleArn === undefined || role === undefined ? '' : `, role ${got.assumedRoleArn} (session "${role.sessionName}", STS in ${checked.credentials?.stsRegion})`;
    const profile = got.profile === undefined ? '' : `, profile "${got.profile}"`;
    onCredentials?.({
      source: got.source,
      accessKeyIdSuffix: got.accessKeyIdSuffix,
      ...(got.expiresAt === undefined ? {} : { expiresAt: new Date(got.expiresAt).toISOString() }),
      ...(got.assumedRoleArn === undefined ? {} : { assumedRoleArn: got.assumedRoleArn, ...(role ? { roleSessionName: role.sessionName } : {}) }),
      ...(got.profile === undefined ? {} : { profile: got.profile }),
    });
    return `from ${got.source}${assumed}${profile}, access key id ...${got.accessKeyIdSuffix}, ${expiry}`;
  });
  if (!gotCredentials) return close(ready);

  const signed = await recorder.run('token', async () => {
    const token = await ready.provider.getToken();
    const state = ready.state();
    const issued = state.issuedAt === undefined ? 'now' : new Date(state.issuedAt).toISOString();
    const until = state.expiresAt === undefined ? '?' : new Date(state.expiresAt).toISOString();
    return `signed for ${state.signedHost}:${state.signedPort}, region ${state.region}, user "${state.user}", issued ${issued}, handed out until ${until}, ${token.length} characters`;
  });
  if (!signed) return close(ready);
  return { plan, auth: ready, credentials };
}

// --- internal ---

function close(auth: IamConnectionAuth): undefined {
  auth.close();
  return undefined;
}
