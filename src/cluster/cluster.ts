import { planEndpoint, type ClusterPlan, type ConnectionPlan } from '../config/plan.js';
import type { Clock, DriverPool } from '../drivers/types.js';
import { ConfigError, DbModuleError, messageOf } from '../errors.js';
import type { DatabaseEventEmitter } from '../events.js';
import type { Logger } from '../logging.js';
import type { ClusterTelemetry } from '../telemetry/types.js';
import type { Queryable } from '../transaction.js';
import { dialAddress, instanceEndpoint, type Endpoint } from '../config/endpoints.js';
import { InstancePools, type InstancePool, type InstancePoolOpener } from './instance-pools.js';
import { acquireMonitor, TopologyMonitor, type TopologyRead } from './monitor.js';
import { WriterFailover } from './writer-failover.js';
import { ReaderRouter, type PoolRunner, type Reader, type ReaderCandidate } from './reader-router.js';
import { detectTopologySource, readerRoleQuery, replicaLagMs, truthy, type RowsQuery } from './sources.js';
import type { InstanceInfo, Topology, TopologyHost, TopologySnapshot } from './types.js';

export interface ClusterOpenContext {
  readonly plan: ConnectionPlan & { readonly cluster: ClusterPlan };
  /** The connection's own (writer) pool. */
  readonly writerPool: DriverPool;
  readonly writer: Queryable;
  readonly runner: PoolRunner;
  /** The driver's routing native pool (see ReaderRouter's `pool`). */
  readonly routingPool: (choose: () => unknown) => unknown;
  readonly openPool: InstancePoolOpener;
  readonly events: DatabaseEventEmitter;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Spans of topology refreshes and failovers, when telemetry is on. */
  readonly telemetry?: ClusterTelemetry | undefined;
}

/**
 * What a connection knows of its cluster: the topology (from a shared monitor, or its replicas'
 * roles), a pool per reader instance, and `reader()`. Opened once the writer answered.
 */
export class ClusterRouting {
  readonly #context: ClusterOpenContext;
  readonly #monitor: TopologyMonitor;
  readonly #release: () => void;
  readonly #unsubscribe: () => void;
  readonly #pools: InstancePools;
  readonly #reader: ReaderRouter;
  #writer: WriterFailover | undefined;
  #writerNative: unknown;
  #removeSource: () => void = () => {};
  #closed = false;

  private constructor(context: ClusterOpenContext, pools: InstancePools, held: { monitor: TopologyMonitor; release: () => void }) {
    this.#context = context;
    this.#pools = pools;
    this.#monitor = held.monitor;
    this.#release = held.release;
    const { plan } = context;
    this.#unsubscribe = held.monitor.subscribe(
      (snapshot, previous) => this.#onRefresh(snapshot, previous),
      (error) => context.events.emit('topology.refresh_failed', { connection: plan.name, source: held.monitor.source, code: error.code, message: error.message }),
    );
    this.#reader = new ReaderRouter({
      plan,
      readFrom: plan.cluster.settings.read_from,
      selection: plan.cluster.settings.reader_selection,
      candidates: () => this.#candidates(),
      writer: context.writer,
      writerNative: () => this.#writerPool().native,
      routingPool: context.routingPool,
      runner: context.runner,
      markUnhealthy: (pool, error) => this.#markUnhealthy(pool, error),
    });
  }

  /**
   * Finds the connection's topology and starts following it; undefined when `cluster.enabled`
   * is auto and the server reports none (a plain connection).
   * @throws ConfigError `CONFIG_INVALID` when topology is required but absent, or instance endpoints cannot be derived.
   */
  static async open(context: ClusterOpenContext): Promise<ClusterRouting | undefined> {
    const { plan, writerPool } = context;
    const cluster = plan.cluster;
    const pools = new InstancePools(context.openPool);
    if (cluster.replicas.length > 0) {
      const monitor = new TopologyMonitor({ source: 'replicas', refreshMs: cluster.settings.topology_refresh, clock: context.clock, logger: context.logger, label: plan.name, telemetry: context.telemetry });
      monitor.addSource(replicaRead(plan, pools));
      return ClusterRouting.#start(new ClusterRouting(context, pools, { monitor, release: () => monitor.stop() }));
    }
    if (cluster.topology === false) return undefined;
    const source = await detectTopologySource(plan.driver, async (sql) => (await writerPool.query<Record<string, unknown>>(sql)).rows);
    if (!source) {
      if (cluster.topology === 'auto') {
        context.logger.debug('No cluster topology reported; a plain connection', { connection: plan.name });
        return undefined;
      }
      throw new ConfigError('CONFIG_INVALID', `connection "${plan.name}": cluster.enabled is true, but ${plan.target} reports no Aurora or Multi-AZ DB cluster topology`, {
        connection: plan.name,
        solutions: ['Set cluster.enabled: auto (or remove it) to use the connection without topology', 'For plain read replicas, list their DSNs under replicas'],
      });
    }
    const pattern = cluster.instancePattern;
    if (pattern === undefined && !source.name.startsWith('multi-az')) {
      throw new ConfigError('CONFIG_INVALID', `connection "${plan.name}": the ${source.name} topology names instances by id, and their endpoints cannot be derived from ${plan.host}; set cluster.instance_host_pattern (for example ?.abc123.us-east-1.rds.amazonaws.com)`, { connection: plan.name });
    }
    // the endpoint by name, also when instance_addresses has it dialled elsewhere
    const own = plan.endpoint ?? { host: plan.host, port: plan.port };
    const key = JSON.stringify([source.name, plan.driver, own.host, own.port, plan.user, plan.database]);
    const held = acquireMonitor(
      key,
      () => new TopologyMonitor({ source: source.name, refreshMs: cluster.settings.topology_refresh, clock: context.clock, logger: context.logger, label: plan.name, telemetry: context.telemetry }),
    );
    const routing = new ClusterRouting(context, pools, held);
    routing.#removeSource = held.monitor.addSource(async () =>
      (await source.read((sql) => routing.#topologyRows(sql))).map((found) => ({
        id: found.id,
        endpoint: found.endpoint ?? instanceEndpoint(pattern ?? '?', found.id, own.port ?? 0),
        role: found.writer ? 'writer' : 'reader',
        ...(found.lagMs === undefined ? {} : { lagMs: found.lagMs }),
      })),
    );
    return ClusterRouting.#start(routing, own.host ?? plan.name);
  }

  /** The first topology, the readers' pools, and (for a topology the server reports) the writer's failover. */
  static async #start(routing: ClusterRouting, ownName?: string): Promise<ClusterRouting> {
    const monitor = routing.#monitor;
    try {
      const snapshot = monitor.snapshot ?? (await monitor.refresh());
      routing.#onRefresh(snapshot, undefined);
      if (ownName !== undefined) routing.#followWriter(snapshot, ownName);
      // the readers' pools exist before the first read (sessions open on demand)
      await Promise.allSettled(routing.#candidates().map((candidate) => candidate.pool.opened));
    } catch (error) {
      await routing.close();
      throw error;
    }
    monitor.start();
    return routing;
  }

  #followWriter(snapshot: TopologySnapshot, ownName: string): void {
    const { plan, writerPool, runner, events, logger, routingPool } = this.#context;
    const { settings } = plan.cluster;
    const roleQuery = readerRoleQuery(plan.driver);
    const writer = new WriterFailover({
      connection: plan.name,
      initial: { id: snapshot.instances.find((instance) => instance.role === 'writer')?.id ?? ownName, pool: writerPool },
      monitor: this.#monitor,
      openWriter: (instance) => this.#context.openPool(this.#planOf(instance)),
      answersAsWriter: async (pool) => !truthy((await pool.query<Record<string, unknown>>(roleQuery)).rows[0]?.reader),
      runner,
      refreshMs: settings.failover_refresh,
      timeoutMs: settings.failover_timeout,
      events,
      logger,
      telemetry: this.#context.telemetry,
    });
    this.#writer = writer;
    this.#writerNative = routingPool(() => writer.pool.native);
  }

  /** Writes: the writer and its failover, for a topology the server reports (undefined for plain replicas). */
  writer(): WriterFailover | undefined {
    return this.#writer;
  }

  /** For ORMs: a native pool whose every checkout goes to the writer of the moment; undefined without a failover. */
  get writerNative(): unknown {
    return this.#writerNative;
  }

  reader(): Reader {
    return this.#reader;
  }

  topology(): Topology {
    const snapshot = this.#monitor.snapshot;
    const failure = this.#monitor.failure;
    const hosts = (snapshot?.instances ?? []).map((instance) => this.#host(instance));
    const writer = hosts.find((host) => host.role === 'writer');
    return {
      source: this.#monitor.source,
      ...(writer ? { writer } : {}),
      readers: hosts.filter((host) => host.role === 'reader'),
      refreshedAt: snapshot?.refreshedAt ?? 0,
      ...(failure ? { refreshError: { code: failure.error.code, message: failure.error.message, at: failure.at } } : {}),
    };
  }

  /** Reads the topology now (tests and `check`; the monitor refreshes on its own). */
  async refresh(): Promise<Topology> {
    await this.#monitor.refresh();
    return this.topology();
  }

  /** Stops following the cluster and closes the readers' pools; the writer's pool is the connection's to close. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#removeSource();
    this.#release();
    await this.#writer?.close();
    await this.#pools.close();
  }

  #writerPool(): DriverPool {
    return this.#writer?.pool ?? this.#context.writerPool;
  }

  /**
   * Runs a topology statement on the writer, or on a reader when the writer does not answer (Aurora
   * and Multi-AZ clusters report their topology on every instance). While a failover runs the
   * readers are asked first: the old writer may not answer at all.
   */
  async #topologyRows(sql: string): Promise<readonly Record<string, unknown>[]> {
    const readers = [...this.#pools.values()].flatMap((entry) => (entry.healthy && entry.ready ? [entry.ready.pool] : []));
    const writer = this.#writerPool();
    const pools = this.#writer?.inProgress ? [...readers, writer] : [writer, ...readers];
    let failure: unknown;
    for (const pool of pools) {
      try {
        return (await pool.query<Record<string, unknown>>(sql)).rows;
      } catch (error) {
        if (!(error instanceof DbModuleError) || !UNREACHED.has(error.code)) throw error;
        failure = error;
      }
    }
    throw failure;
  }

  #host(instance: InstanceInfo): TopologyHost {
    const pool = this.#pools.find(endpointKey(instance.endpoint));
    return {
      id: instance.id,
      host: instance.endpoint.host,
      port: instance.endpoint.port,
      role: instance.role,
      ...(instance.lagMs === undefined ? {} : { lagMs: instance.lagMs }),
      healthy: pool?.healthy ?? true,
    };
  }

  #candidates(): ReaderCandidate[] {
    const { settings } = this.#context.plan.cluster;
    const maxLag = settings.max_replica_lag;
    const candidates: ReaderCandidate[] = [];
    for (const instance of this.#monitor.snapshot?.instances ?? []) {
      if (instance.role !== 'reader') continue;
      if (maxLag > 0 && instance.lagMs !== undefined && instance.lagMs > maxLag) continue;
      const pool = this.#poolOf(instance);
      if (!pool.healthy) continue;
      candidates.push({ pool, ...(instance.lagMs === undefined ? {} : { lagMs: instance.lagMs }) });
    }
    return candidates;
  }

  #poolOf(instance: InstanceInfo): InstancePool {
    const key = endpointKey(instance.endpoint);
    // planned only when the pool is new: this runs for every read
    return this.#pools.find(key) ?? this.#pools.get(key, this.#planOf(instance));
  }

  #planOf(instance: InstanceInfo): ConnectionPlan {
    const { plan } = this.#context;
    const replica = plan.cluster.replicas.find((candidate) => endpointKey({ host: candidate.host ?? '', port: candidate.port ?? 0 }) === endpointKey(instance.endpoint));
    if (replica) return replica;
    return planEndpoint(plan, instance.endpoint, dialAddress(instance.endpoint, plan.cluster.settings.instance_addresses));
  }

  #markUnhealthy(pool: InstancePool, error: DbModuleError): void {
    if (!pool.healthy) return;
    pool.healthy = false;
    pool.lastFailure = error;
    this.#context.logger.warn('Reader unreachable; its reads go elsewhere until it answers again', { connection: this.#context.plan.name, reader: pool.key, code: error.code, error: error.message });
  }

  #onRefresh(snapshot: TopologySnapshot, previous: TopologySnapshot | undefined): void {
    if (this.#closed) return;
    const readers = snapshot.instances.filter((instance) => instance.role === 'reader');
    void this.#pools.retain(new Set(readers.map((instance) => endpointKey(instance.endpoint))));
    // every reader has its pool (sessions open on demand): they are where the topology is read when the writer fails
    for (const instance of readers) this.#poolOf(instance);
    this.#probeUnhealthy();
    const before = new Set(previous?.instances.map(describeInstance));
    const after = new Set(snapshot.instances.map(describeInstance));
    const added = [...after].filter((entry) => !before.has(entry));
    const removed = [...before].filter((entry) => !after.has(entry));
    if (added.length === 0 && removed.length === 0) return;
    const writer = snapshot.instances.find((instance) => instance.role === 'writer');
    this.#context.events.emit('topology.changed', {
      connection: this.#context.plan.name,
      source: snapshot.source,
      ...(writer ? { writer: writer.id } : {}),
      readers: snapshot.instances.filter((instance) => instance.role === 'reader').map((instance) => instance.id),
      added,
      removed,
    });
  }

  /** A reader marked unhealthy is asked again on every refresh; once it answers it gets reads again. */
  #probeUnhealthy(): void {
    for (const pool of this.#pools.values()) {
      if (pool.healthy) continue;
      void pool.opened
        .then(({ pool: driverPool }) => driverPool.ping())
        .then(() => {
          pool.healthy = true;
          this.#context.logger.info('Reader answers again', { connection: this.#context.plan.name, reader: pool.key });
        })
        .catch(() => {});
    }
  }
}

/** The instance asked did not answer: another may. */
const UNREACHED: ReadonlySet<string> = new Set(['CONNECT_FAILED', 'CONNECT_TIMEOUT', 'CONNECTION_LOST', 'TLS_FAILED', 'POOL_TIMEOUT', 'DATABASE_CLOSED']);

function endpointKey(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/** An instance in `topology.changed`: `id (role)`, so a role change shows as removed + added. */
function describeInstance(instance: InstanceInfo): string {
  return `${instance.id} (${instance.role})`;
}

/** Plain replication: the writer is the connection's host; each replica reports its role and lag. */
function replicaRead(plan: ConnectionPlan & { readonly cluster: ClusterPlan }, pools: InstancePools): TopologyRead {
  const writerEndpoint: Endpoint = { host: plan.host ?? 'localhost', port: plan.port ?? 0 };
  return async () => {
    const readers = await Promise.all(
      plan.cluster.replicas.map(async (replica): Promise<InstanceInfo | undefined> => {
        const endpoint: Endpoint = { host: replica.host ?? 'localhost', port: replica.port ?? 0 };
        const entry = pools.get(endpointKey(endpoint), replica);
        try {
          const { pool } = await entry.opened;
          const rows: RowsQuery = async (sql) => (await pool.query<Record<string, unknown>>(sql)).rows;
          const [role] = await rows(readerRoleQuery(plan.driver));
          if (!truthy(role?.reader)) return undefined;
          const lagMs = await replicaLagMs(plan.driver, rows);
          entry.healthy = true;
          return { id: endpointKey(endpoint), endpoint, role: 'reader', ...(lagMs === undefined ? {} : { lagMs }) };
        } catch (error) {
          entry.healthy = false;
          entry.lastFailure = error instanceof DbModuleError ? error : new DbModuleError('CONNECT_FAILED', messageOf(error), { cause: error });
          // an unreachable replica stays in the topology, unhealthy, so it is asked again next time
          return { id: endpointKey(endpoint), endpoint, role: 'reader' };
        }
      }),
    );
    return [{ id: endpointKey(writerEndpoint), endpoint: writerEndpoint, role: 'writer' }, ...readers.filter((reader): reader is InstanceInfo => reader !== undefined)];
  };
}
