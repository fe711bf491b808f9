import { ConfigError, envVariable, planConnection, type ConnectionConfig, type ConnectionPlan, type IamConnectionPlan, type Logger } from '../../index.js';
import { createIamTokenProvider, credentialsFor, regionFromHostname, type IamTokenProviderOptions, type TokenState } from '../../iam/index.js';
import { regionMissingError, type RegionSettingNames } from '../../iam/errors.js';
import type { CliIo } from '../io.js';
import { credentialsFromCliEnv } from './credentials.js';

/** What an IAM token is signed for. */
export interface SigningTarget {
  host: string;
  port: number;
  user: string;
  /** Undefined: taken from the hostname by the token provider. */
  region: string | undefined;
}

/**
 * The signing target of a configured connection, from its plan: exactly what the connection signs
 * for (signing_host/port, db_user, region). A connection without IAM has none: that is said.
 */
export function targetOfConnection(connection: ConnectionConfig | ConnectionPlan): SigningTarget {
  const { signingHost, signingPort, user, region } = iamPlanOf(connection).iam;
  return { host: signingHost, port: signingPort, user, region };
}

/** The plan of a configured IAM connection; a connection without IAM has no token to sign: that is said. */
export function iamPlanOf(connection: ConnectionConfig | ConnectionPlan): IamConnectionPlan {
  const plan = 'settings' in connection ? connection : planConnection(connection);
  if (!plan.iam) {
    throw new ConfigError('CONFIG_INVALID', `connection "${plan.name}" does not use IAM authentication (aws_iam_auth.enabled is false), so it has no token to sign`, {
      connection: plan.name,
      solutions: [`Enable it: connections.${plan.name}.aws_iam_auth.enabled: true (or ${envVariable(plan.name, ['aws_iam_auth', 'enabled'])}=true)`, 'Or give --hostname, --port and --username instead of --connection'],
    });
  }
  return plan as IamConnectionPlan;
}

/**
 * The region to sign with when none was given: the hostname's (undefined: the token provider
 * reads it), else AWS_REGION / AWS_DEFAULT_REGION from the environment (as the AWS CLI does).
 * None at all is IAM_REGION_MISSING naming the settings the user can set (`names`).
 */
export function regionFor(host: string, region: string | undefined, env: CliIo['env'], names?: RegionSettingNames): string | undefined {
  if (region) return region;
  if (regionFromHostname(host)) return undefined;
  const fromEnv = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!fromEnv) throw regionMissingError(host, names);
  return fromEnv;
}

/**
 * A fresh token for `target`, with credentials from the AWS default chain (environment first), or,
 * for a configured connection (`plan`), the connection's own: its aws_iam_auth.profile and
 * role_arn applied as a connection applies them (`credentialsFor`).
 */
export async function signToken(target: SigningTarget, io: CliIo, logger: Logger, plan?: Pick<ConnectionPlan, 'name' | 'credentials'>): Promise<{ token: string; state: TokenState }> {
  const environment = credentialsFromCliEnv(io.env);
  const credentials = plan ? credentialsFor(plan, environment, logger).credentials : environment;
  const options: IamTokenProviderOptions = {
    host: target.host,
    port: target.port,
    user: target.user,
    logger,
    ...(target.region ? { region: target.region } : {}),
    ...(credentials ? { credentials } : {}),
    ...(io.env.AWS_PROFILE ? { credentialChain: { profile: io.env.AWS_PROFILE } } : {}),
  };
  const provider = createIamTokenProvider(options);
  try {
    const token = await provider.getToken();
    return { token, state: provider.state() };
  } finally {
    provider.close();
  }
}
