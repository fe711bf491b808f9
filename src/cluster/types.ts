import type { Endpoint } from '../config/endpoints.js';

/** Where a connection's topology comes from. @public */
export type TopologySource = 'aurora-postgresql' | 'aurora-mysql' | 'multi-az-postgresql' | 'multi-az-mysql' | 'replicas';

/** One instance of a cluster as dbmodule last saw it. @public */
export interface TopologyHost {
  /** The instance id (Aurora `server_id`, Multi-AZ instance name) or, for `replicas`, the endpoint. */
  readonly id: string;
  /** The endpoint sessions are opened for (TLS name, IAM signing). */
  readonly host: string;
  readonly port: number;
  readonly role: 'writer' | 'reader';
  /** Replica lag the server reports, in milliseconds, when it reports one. */
  readonly lagMs?: number;
  /** False while the instance fails to answer (its reads go elsewhere until it answers again). */
  readonly healthy: boolean;
}

/** A cluster's topology: `connection.topology()`, and in `db.health()`. @public */
export interface Topology {
  readonly source: TopologySource;
  readonly writer?: TopologyHost;
  readonly readers: readonly TopologyHost[];
  /** When the last refresh succeeded (epoch milliseconds). */
  readonly refreshedAt: number;
  /** The last refresh failed: the topology above is the last good one. */
  readonly refreshError?: { readonly code: string; readonly message: string; readonly at: number };
}

/** One instance as a refresh found it: its id, the endpoint it is opened for, and its role. */
export interface InstanceInfo {
  readonly id: string;
  readonly endpoint: Endpoint;
  readonly role: 'writer' | 'reader';
  readonly lagMs?: number;
}

/** What a refresh read: the instances and when. */
export interface TopologySnapshot {
  readonly source: TopologySource;
  readonly instances: readonly InstanceInfo[];
  readonly refreshedAt: number;
}
