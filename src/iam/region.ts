import { isIP } from 'node:net';

// Any region name, present or future: `us-east-1`, `us-gov-west-1`, `eu-isoe-west-1`,
// `eusc-de-east-1`, `cn-northwest-1`. No allow-list (the AWS wrapper's list rejected real regions).
const REGION = /^[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}$/;

// DNS suffixes of the AWS partitions that host RDS endpoints.
const PARTITION_SUFFIXES = [
  'amazonaws.com',
  'amazonaws.com.cn',
  'amazonaws.eu',
  'c2s.ic.gov',
  'sc2s.sgov.gov',
  'cloud.adc-e.uk',
  'csp.hci.ic.gov',
];

function normalise(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * The region of an RDS, Aurora or RDS Proxy endpoint: `*.<region>.rds.amazonaws.com`,
 * `*.<region>.rds.amazonaws.com.cn`, `*.rds.<region>.amazonaws.com.cn`, the ISO and sovereign
 * partitions. `undefined` for anything else (IPs, localhost, tunnels, CNAMEs).
 * @public
 */
export function regionFromHostname(host: string): string | undefined {
  const name = normalise(host);
  if (isIP(name) !== 0) return undefined;
  const suffix = PARTITION_SUFFIXES.find((candidate) => name.endsWith(`.${candidate}`));
  if (!suffix) return undefined;
  const labels = name.slice(0, -(suffix.length + 1)).split('.');
  const last = labels.at(-1);
  const beforeLast = labels.at(-2);
  // `<region>.rds.<suffix>` (every partition) or `rds.<region>.<suffix>` (older China form).
  if (last === 'rds' && beforeLast !== undefined && REGION.test(beforeLast)) return beforeLast;
  if (beforeLast === 'rds' && last !== undefined && REGION.test(last)) return last;
  return undefined;
}

/** True for a syntactically valid region name. */
export function isRegionName(value: string): boolean {
  return REGION.test(value);
}

/** True for hosts whose name cannot be what RDS signs for: IP literals and localhost. */
export function isLoopbackOrIp(host: string): boolean {
  const name = normalise(host).replace(/^\[|\]$/g, '');
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost');
}

/** The signing region and what the hostname said, so callers can warn about a mismatch. */
export interface ResolvedRegion {
  /** `undefined` when neither the option nor the hostname gives one. */
  region: string | undefined;
  fromHostname: string | undefined;
  /** True when a configured region differs from the hostname's. */
  mismatch: boolean;
}

/** The configured region if any, else the hostname's. */
export function resolveRegion(host: string, configured?: string): ResolvedRegion {
  const fromHostname = regionFromHostname(host);
  const explicit = configured?.trim().toLowerCase() || undefined;
  return {
    region: explicit ?? fromHostname,
    fromHostname,
    mismatch: explicit !== undefined && fromHostname !== undefined && explicit !== fromHostname,
  };
}
