import { ConfigError } from '../errors.js';
import { regionFromHostname } from '../iam/region.js';
import { DEFAULTS } from './defaults.js';
import type { CredentialsPlan, DsnPlan, IamPlan, SecretPlan } from './plan-types.js';

/** `arn:aws:secretsmanager:<region>:<account>:secret:<name>` (any partition). */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:.+$/;

/**
 * Where a `secrets_manager` connection's secret lives: its region from `secrets_manager.region`,
 * else the secret's ARN, else the RDS hostname, else `AWS_REGION` / `AWS_DEFAULT_REGION` (as the
 * AWS SDK would read them), decided once here.
 * @throws ConfigError `CONFIG_INVALID` naming `secrets_manager.region` when nothing says.
 */
export function planSecret(base: DsnPlan, env: NodeJS.ProcessEnv = process.env): SecretPlan | undefined {
  const config = base.settings.secrets_manager;
  if (config === undefined) return undefined;
  const common = { secretId: config.secret_id, refreshMs: config.refresh, ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }) };
  if (config.region !== undefined) return { ...common, region: config.region, regionSource: 'secrets_manager.region' };
  const fromArn = SECRET_ARN.exec(config.secret_id)?.[1];
  if (fromArn !== undefined) return { ...common, region: fromArn, regionSource: 'secret ARN' };
  const fromHost = base.host === undefined ? undefined : regionFromHostname(base.host);
  if (fromHost !== undefined) return { ...common, region: fromHost, regionSource: 'hostname' };
  for (const variable of ['AWS_REGION', 'AWS_DEFAULT_REGION'] as const) {
    const region = env[variable]?.trim();
    if (region) return { ...common, region, regionSource: variable };
  }
  throw new ConfigError('CONFIG_INVALID', `connection "${base.name}": secrets_manager.region is needed: the secret id is not an ARN, ${base.host ?? 'the host'} is not an RDS hostname, and AWS_REGION is not set`, {
    connection: base.name,
    solutions: ['set secrets_manager.region (e.g. us-east-1)', 'or give the secret by its ARN', 'or set AWS_REGION'],
  });
}

/** A role session name from the connection's name: STS allows 2 to 64 of letters, digits and `+=,.@_-`. */
function sessionNameFor(connection: string): string {
  return `dbmodule-${connection}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/**
 * Where the connection's AWS credentials come from (`aws_iam_auth.profile`, `role_arn`), for a
 * connection that uses any (IAM signing or a secret); undefined for the default chain as it is.
 * STS is asked in the connection's region (IAM's, else the secret's): an STS client without
 * one fails with the SDK's "Region is missing".
 */
export function planCredentials(base: DsnPlan, iam: IamPlan | undefined, secret: SecretPlan | undefined): CredentialsPlan | undefined {
  const config = base.settings.aws_iam_auth;
  const region = iam?.region ?? secret?.region;
  if (region === undefined || (config.profile === undefined && config.role_arn === undefined)) return undefined;
  return Object.freeze({
    ...(config.profile === undefined ? {} : { profile: config.profile }),
    stsRegion: region,
    ...(config.role_arn === undefined
      ? {}
      : {
          role: Object.freeze({
            arn: config.role_arn,
            sessionName: config.role_session_name ?? sessionNameFor(base.name),
            ...(config.external_id === undefined ? {} : { externalId: config.external_id }),
            durationSeconds: Math.floor((config.duration ?? DEFAULTS.role_duration) / 1000),
          }),
        }),
  });
}
