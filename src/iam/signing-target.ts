import { IamError } from '../errors.js';
import type { LogFields } from '../logging.js';
import { endpointInvalidError, regionMissingError, usernameMissingError } from './errors.js';
import { isLoopbackOrIp, isRegionName, resolveRegion } from './region.js';
import { normaliseSigningHost, type SigningTarget } from './signer.js';

/** What a token is to be signed for, as given (by a connection's plan or a caller of `createIamTokenProvider`). */
export interface SigningTargetInput {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region?: string;
}

/** A validated signing target, and where its region came from. */
export interface ResolvedSigningTarget extends SigningTarget {
  readonly regionSource: 'configured' | 'hostname';
}

/**
 * Validates the endpoint, port, user and region a token is signed for; the region is the given
 * one, else the hostname's. `warn` hears what works but deserves attention: a configured region
 * that differs from the hostname's, a token signed for an IP address or localhost.
 * @throws IamError `IAM_ENDPOINT_INVALID`, `IAM_USERNAME_MISSING` or `IAM_REGION_MISSING`.
 */
export function resolveSigningTarget(input: SigningTargetInput, warn: (message: string, fields: LogFields) => void = () => {}): ResolvedSigningTarget {
  const rawHost = typeof input.host === 'string' ? input.host.trim() : '';
  if (!rawHost) throw endpointInvalidError('the IAM signing host is empty: set the DSN host or aws_iam_auth.signing_host');
  if (/\s|\/|@|\?|#/.test(rawHost) || rawHost.includes('://')) {
    throw endpointInvalidError(`the IAM signing host "${rawHost}" is not a bare hostname (no scheme, user, path or query)`);
  }
  const bracketed = rawHost.startsWith('[') && rawHost.endsWith(']');
  if (!bracketed && rawHost.includes(':') && !/^[0-9a-f:]+$/i.test(rawHost)) {
    throw endpointInvalidError(`the IAM signing host "${rawHost}" includes a port; pass the port separately (aws_iam_auth.signing_port)`);
  }
  const port = input.port;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw endpointInvalidError(`the IAM signing port of host "${rawHost}" must be an integer between 1 and 65535, got ${String(port)}`);
  }
  const user = typeof input.user === 'string' ? input.user.trim() : '';
  if (!user) throw usernameMissingError(`no database user for the IAM token of ${rawHost}:${port}: the DSN has no username and aws_iam_auth.db_user is not set`);

  const host = normaliseSigningHost(rawHost);
  const { region, fromHostname, mismatch } = resolveRegion(host, input.region);
  if (!region) throw regionMissingError(host);
  if (!isRegionName(region)) {
    throw new IamError('IAM_REGION_MISSING', `"${region}" is not an AWS region name (aws_iam_auth.region for ${host}:${port})`, {
      possibleCauses: ['aws_iam_auth.region is misspelled'],
      solutions: ['Set aws_iam_auth.region to a region name such as us-east-1 or eu-west-2'],
    });
  }
  if (mismatch) warn('Configured IAM region differs from the region in the hostname', { region, hostname_region: fromHostname, host });
  if (isLoopbackOrIp(host)) {
    warn('IAM token is signed for an IP address or localhost; RDS only accepts tokens signed for its endpoint name (set aws_iam_auth.signing_host)', { host });
  }
  return { host, port, user, region, regionSource: input.region?.trim() ? 'configured' : 'hostname' };
}
