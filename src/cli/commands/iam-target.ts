import { defaultPort, parseDsn, type ConnectionConfig, type Logger, type ParsedDsn } from '../../index.js';
import { createIamTokenProvider, regionFromHostname, type IamTokenProviderOptions, type TokenState } from '../../iam/index.js';
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

/** The signing target of a configured connection, as the connection itself signs: signing_host/port, db_user, region. */
export function targetOfConnection(connection: ConnectionConfig, dsn: ParsedDsn = parseDsn(connection.dsn, { driver: connection.driver, connection: connection.name })): Partial<SigningTarget> {
  const iam = connection.aws_iam_auth;
  const port = iam.signing_port ?? dsn.port ?? defaultPort(connection.driver);
  return {
    ...(iam.signing_host ?? dsn.host ? { host: iam.signing_host ?? dsn.host } : {}),
    ...(port === undefined ? {} : { port }),
    ...(iam.db_user ?? dsn.user ? { user: iam.db_user ?? dsn.user } : {}),
    region: iam.region,
  };
}

/**
 * The region to sign with when none was given: the hostname's, else AWS_REGION /
 * AWS_DEFAULT_REGION from the environment (as the AWS CLI does).
 */
export function regionFor(host: string, region: string | undefined, env: CliIo['env']): string | undefined {
  if (region) return region;
  if (regionFromHostname(host)) return undefined;
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined;
}

/** A fresh token for `target`, with credentials from the AWS default chain (environment first). */
export async function signToken(target: SigningTarget, io: CliIo, logger: Logger): Promise<{ token: string; state: TokenState }> {
  const credentials = credentialsFromCliEnv(io.env);
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
