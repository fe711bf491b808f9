/**
 * RDS endpoint names: which kind a host is, the instance endpoints a cluster endpoint implies,
 * and the address actually dialled for an endpoint (tunnels, port-forwards, local clusters).
 */

import type { InstanceAddressResolver } from './types.js';
import { ConfigError } from '../errors.js';

/** What an RDS host name is. `custom` is an Aurora custom endpoint; undefined: not an RDS name. */
export type RdsEndpointKind = 'cluster' | 'cluster-ro' | 'cluster-custom' | 'proxy' | 'instance';

const RDS_HOST = /^([^.]+)\.((?:(cluster|cluster-ro|cluster-custom|proxy)-)?([a-z0-9]+))\.([a-z0-9-]+)\.rds\.amazonaws\.com(\.cn)?$/i;

/** The kind of an RDS host name, or undefined for any other host. */
export function rdsEndpointKind(host: string): RdsEndpointKind | undefined {
  const match = RDS_HOST.exec(host);
  if (!match) return undefined;
  return (match[3]?.toLowerCase() as RdsEndpointKind | undefined) ?? 'instance';
}

/** True for an RDS Proxy endpoint, which never runs topology queries: the proxy hides the instances. */
export function isRdsProxy(host: string): boolean {
  return rdsEndpointKind(host) === 'proxy';
}

/**
 * The instance endpoints of the cluster `host` belongs to, `?` standing for the instance id:
 * `mydb.cluster-abc123.us-east-1.rds.amazonaws.com` (and `cluster-ro-`, `cluster-custom-`, or an
 * instance endpoint of the same cluster) gives `?.abc123.us-east-1.rds.amazonaws.com`. Undefined
 * for a proxy or a host that is not an RDS name (then `instance_host_pattern` must be set).
 */
export function defaultInstancePattern(host: string): string | undefined {
  const match = RDS_HOST.exec(host);
  if (!match || match[3]?.toLowerCase() === 'proxy') return undefined;
  return `?.${match[4]}.${match[5]}.rds.amazonaws.com${match[6] ?? ''}`;
}

/** An endpoint: the name a session is opened for (TLS name, IAM signing) and the port. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** The endpoint of instance `id` by `pattern` (`?` = the id; a `:port` in the pattern wins over `port`). */
export function instanceEndpoint(pattern: string, id: string, port: number): Endpoint {
  const [host = '', patternPort] = pattern.replace('?', id).split(':');
  return { host: host.toLowerCase(), port: patternPort === undefined ? port : Number(patternPort) };
}

/**
 * Where to dial `endpoint`: its entry in `instance_addresses` (keyed `host:port` or `host`, or
 * what the function answers), or the endpoint itself. An address without a port keeps the endpoint's.
 * @throws ConfigError `CONFIG_INVALID` when the function answers something that is not an address.
 */
export function dialAddress(endpoint: Endpoint, addresses: Readonly<Record<string, string>> | InstanceAddressResolver): Endpoint {
  const mapped = typeof addresses === 'function' ? addresses(endpoint) : (addresses[`${endpoint.host}:${endpoint.port}`] ?? addresses[endpoint.host]);
  if (mapped === undefined) return endpoint;
  if (typeof mapped !== 'string' || !/^[A-Za-z0-9_.-]+(:\d{1,5})?$/.test(mapped)) {
    throw new ConfigError('CONFIG_INVALID', `cluster.instance_addresses answered ${JSON.stringify(mapped)} for ${endpoint.host}:${endpoint.port}: expected host or host:port`);
  }
  const [host = endpoint.host, port] = mapped.split(':');
  return { host, port: port === undefined ? endpoint.port : Number(port) };
}
