import type { DsnPlan, IamConnectionPlan } from '../config/plan.js';
import { systemClock } from '../drivers/types.js';
import { IamError } from '../errors.js';
import type { IamConnectionAuth } from '../iam-connection.js';
import type { ResolvedCredentials } from '../iam/credentials.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from '../iam/types.js';
import { describeTls } from '../tls/connection-tls.js';
import { warningCollector, type PhaseRecorder } from './phases.js';

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
 * as a connection resolves it), `credentials` (resolved once: source, access key id suffix,
 * expiry) and `token` (signed for host:port, region, user; issue time and expiry). Never the
 * token itself. Returns undefined when a phase failed; the caller closes `auth` otherwise.
 */
export async function checkIamPhases(
  base: DsnPlan,
  recorder: PhaseRecorder,
  given: AwsCredentialIdentity | AwsCredentialProvider | undefined,
): Promise<IamCheckResult | undefined> {
  const [{ createIamConnectionAuth, planIamConnection }, { createCredentialCache }] = await Promise.all([import('../iam-connection.js'), import('../iam/credentials.js')]);
  const warnings: string[] = [];
  let resolved: ResolvedCredentials | undefined;
  // Every signature of this check uses what the credentials phase resolved, so the chain
  // (possibly instance metadata) is asked once.
  const credentials: AwsCredentialProvider = async () => {
    if (!resolved) throw new IamError('AWS_CREDENTIALS_UNAVAILABLE', `connection "${base.name}": no credentials were resolved`);
    return resolved.identity;
  };

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
  const gotCredentials = await recorder.run('credentials', async () => {
    const cache = createCredentialCache({ credentials: given, clock: systemClock, reuseWindowMs: 0, label });
    resolved = await cache.get();
    const expiry = resolved.expiresAt === undefined ? 'long-term key (no expiry)' : `expire at ${new Date(resolved.expiresAt).toISOString()}`;
    return `from ${resolved.source}, access key id ...${resolved.accessKeyIdSuffix}, ${expiry}`;
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
