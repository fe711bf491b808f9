// The local STS of the emulator, as the credential-source suites use it: roles to assume, the
// SDK pointed at it by AWS_ENDPOINT_URL_STS, and a clock shifted together with the emulator's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator, EmulatedAws } from '../../../src/emulator/index.js';
import { KEY, OTHER_KEY } from '../emulator.js';
import { startRdsEmulator } from '../iam-e2e/rds.js';
import { isolateAwsEnvironment } from './credentials-server.js';

export const ACCOUNT = '123456789012';
/** Assumable with KEY or OTHER_KEY, for up to an hour. */
export const ROLE = `arn:aws:iam::${ACCOUNT}:role/app-db`;
export const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/reporting-db`;
/** Its trust policy asks for {@link EXTERNAL_ID}. */
export const EXTERNAL_ROLE = `arn:aws:iam::${ACCOUNT}:role/partner-db`;
export const EXTERNAL_ID = 'partner-external-id-7f3c91';
/** Trusts OTHER_KEY only. */
export const NARROW_ROLE = `arn:aws:iam::${ACCOUNT}:role/only-other-key`;
export { KEY, OTHER_KEY };

/** The dbmodule clock and the emulator's, shifted together (`shift(s)` is absolute, like setClockOffset). */
export interface ShiftedClock {
  now(): number;
  shift(seconds: number): void;
}

export function shiftedClock(emulator: Emulator): ShiftedClock {
  let offsetMs = 0;
  return {
    now: () => Date.now() + offsetMs,
    shift(seconds) {
      offsetMs = seconds * 1000;
      emulator.setClockOffset(seconds);
    },
  };
}

export interface StsWorld {
  readonly emulator: Emulator;
  readonly aws: EmulatedAws;
  /** Restores the AWS variables of the process. */
  restore(): void;
  close(): Promise<void>;
}

/**
 * The emulator with PostgreSQL (relayed to the shared server) and its AWS endpoint, the roles above
 * defined, KEY and OTHER_KEY trusted; the process's AWS variables isolated (no shared files, no
 * instance metadata) and AWS_ENDPOINT_URL_STS pointing the SDK's STS clients (the nested ones of
 * fromIni and fromTemporaryCredentials too) at `stsEndpoint(aws)`, by default the emulator itself.
 */
export async function startStsWorld(options: { env?: Record<string, string>; stsEndpoint?: (aws: EmulatedAws) => Promise<string> } = {}): Promise<StsWorld> {
  const emulator = await startRdsEmulator({ aws: true, credentials: [KEY, OTHER_KEY], mysql: false });
  const aws = emulator.aws;
  if (!aws) throw new Error('the emulator has no AWS endpoint');
  aws.sts.defineRole(ROLE);
  aws.sts.defineRole(OTHER_ROLE);
  aws.sts.defineRole(EXTERNAL_ROLE, { externalId: EXTERNAL_ID });
  aws.sts.defineRole(NARROW_ROLE, { trustedAccessKeyIds: [OTHER_KEY.accessKeyId] });
  const endpoint = options.stsEndpoint ? await options.stsEndpoint(aws) : aws.endpoint;
  const restore = isolateAwsEnvironment({ AWS_ENDPOINT_URL_STS: endpoint, ...options.env });
  return {
    emulator,
    aws,
    restore,
    close: async () => {
      restore();
      await emulator.close();
    },
  };
}

/** Temporary AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE contents, removed by `remove()`. */
export function awsFiles(config: string, credentials: string): { config: string; credentials: string; dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dbmodule-aws-files-'));
  const paths = { config: join(dir, 'config'), credentials: join(dir, 'credentials') };
  writeFileSync(paths.config, config);
  writeFileSync(paths.credentials, credentials);
  return { ...paths, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
