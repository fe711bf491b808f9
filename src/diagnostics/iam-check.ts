import type { ConnectionConfig } from '../config/types.js';
import { systemClock } from '../drivers/types.js';
import type { ParsedDsn } from '../dsn/types.js';
import { IamError } from '../errors.js';
import type { IamConnectionAuth } from '../iam/connection-auth.js';
import type { ResolvedCredentials } from '../iam/credentials.js';
import type { AwsCredentialIdentity, AwsCredentialProvider } from '../iam/types.js';
import { warningCollector, type PhaseRecorder } from './phases.js';

/** What the later phases (TLS, authentication) take from the IAM phases. */
export interface IamCheckResult {
  readonly auth: IamConnectionAuth;
  /** The credentials the credentials phase resolved, for the authentication phase to sign with. */
  readonly credentials: AwsCredentialProvider;
}

/**
 * The IAM phases of a check: `config` (user, signing endpoint, region and TLS policy, set up as a
 * connection would be), `credentials` (resolved once: source, access key id suffix, expiry) and
 * `token` (signed for host:port, region, user; issue time and expiry). Never the token itself.
 * Returns undefined when a phase failed; the caller closes `auth` otherwise.
 */
export async function checkIamPhases(
  connection: ConnectionConfig,
  dsn: ParsedDsn,
  recorder: PhaseRecorder,
  given: AwsCredentialIdentity | AwsCredentialProvider | undefined,
): Promise<IamCheckResult | undefined> {
  const [{ createIamConnectionAuth }, { createCredentialCache }] = await Promise.all([import('../iam/connection-auth.js'), import('../iam/credentials.js')]);
  const warnings: string[] = [];
  let resolved: ResolvedCredentials | undefined;
  // Every signature of this check uses what the credentials phase resolved, so the chain
  // (possibly instance metadata) is asked once.
  const credentials: AwsCredentialProvider = async () => {
    if (!resolved) throw new IamError('AWS_CREDENTIALS_UNAVAILABLE', `connection "${connection.name}": no credentials were resolved`);
    return resolved.identity;
  };

  let auth: IamConnectionAuth | undefined;
  const configured = await recorder.run(
    'config',
    async () => {
      auth = createIamConnectionAuth({ config: connection, dsn, logger: warningCollector(warnings), clock: systemClock, emit: () => {}, credentials });
      const state = auth.state();
      return `IAM user "${state.user}", token signed for ${state.signedHost}:${state.signedPort} in ${state.region}; ${describeIamTls(dsn)}`;
    },
    warnings,
  );
  if (!configured || !auth) return undefined;
  const ready = auth;

  const { user, signedHost, signedPort } = ready.state();
  const label = `${user}@${signedHost}:${signedPort}`;
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
  return { auth: ready, credentials };
}

// --- internal ---

function close(auth: IamConnectionAuth): undefined {
  auth.close();
  return undefined;
}

const ROOT_CERT_PARAMS = ['sslrootcert', 'ssl-ca', 'ssl_ca', 'sslca'];

/** How an IAM connection verifies the server, as connection-auth sets it up. */
export function describeIamTls(dsn: ParsedDsn): string {
  const rootCert = ROOT_CERT_PARAMS.map((key) => dsn.params[key]).find((value) => value !== undefined && value !== '');
  const mode = ['sslmode', 'ssl-mode', 'ssl_mode'].map((key) => dsn.params[key]).find((value) => value !== undefined);
  const against = rootCert && rootCert !== 'system' ? `CA file ${rootCert}` : rootCert === 'system' ? 'the system CAs' : 'the RDS CA bundle and the system CAs';
  return `TLS ${mode ?? 'verify-full'} against ${against}`;
}
