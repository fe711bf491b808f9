/**
 * Fake AWS identity and RDS names for the local IAM endpoint. The keys are not real credentials:
 * tokens are signed offline and only the emulator checks them. No AWS endpoint is ever contacted.
 */

import type { AwsCredentialIdentity, AwsCredentialProvider } from '../../src/iam/types.js';

export const BENCH_REGION = 'us-east-1';

export const BENCH_CREDENTIALS: AwsCredentialIdentity = Object.freeze({
  accessKeyId: 'AKIAIOSFODNN7BENCH01',
  secretAccessKey: 'bench/not-a-real-secret/0123456789abcdefEXAMPLE',
});

/**
 * RDS instance names the emulator accepts as signed hosts. Separate names give separate
 * dbmodule rate limiters (they are per signed endpoint), so contenders never share one.
 */
export function rdsHostname(label: string): string {
  return `${label}.c0benchmark01.${BENCH_REGION}.rds.amazonaws.com`;
}

/** Users the emulator authenticates with IAM; any other user is passed through to the server with its own password. */
export const IAM_USER_PREFIX = 'bench_iam';

/** Where an IAM token is signed for: the RDS name and port, and the database user. */
export interface SigningTarget {
  readonly signingHost: string;
  readonly signingPort: number;
  readonly user: string;
}

/** `@aws-sdk/rds-signer` for `target` (loaded on first use), as an application without dbmodule would sign. */
export async function rdsSigner(target: SigningTarget, credentials: AwsCredentialIdentity | AwsCredentialProvider = BENCH_CREDENTIALS): Promise<import('@aws-sdk/rds-signer').Signer> {
  const { Signer } = await import('@aws-sdk/rds-signer');
  return new Signer({ hostname: target.signingHost, port: target.signingPort, region: BENCH_REGION, username: target.user, credentials });
}

/** A credential provider that counts how often it is asked, i.e. how many credential resolutions happened. */
export interface CountingProvider {
  readonly provider: AwsCredentialProvider;
  readonly calls: () => number;
}

export function countingProvider(credentials: AwsCredentialIdentity = BENCH_CREDENTIALS): CountingProvider {
  let calls = 0;
  return {
    provider: async () => {
      calls += 1;
      return credentials;
    },
    calls: () => calls,
  };
}

/** Makes the AWS SDK default chain find the fake keys without touching instance metadata. */
export function useBenchCredentialsInEnv(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_ACCESS_KEY_ID = BENCH_CREDENTIALS.accessKeyId;
  env.AWS_SECRET_ACCESS_KEY = BENCH_CREDENTIALS.secretAccessKey;
  env.AWS_REGION = BENCH_REGION;
  env.AWS_EC2_METADATA_DISABLED = 'true';
  delete env.AWS_SESSION_TOKEN;
  delete env.AWS_PROFILE;
}
