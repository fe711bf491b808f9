import { createServer, type Server, type Socket } from 'node:net';
import { ConfigError, DbModuleError, messageOf } from '../errors.js';
import { handleMysqlConnection } from './mysql-frontend.js';
import { MysqlUpstream } from './mysql-upstream.js';
import { resolveInstance, type EmulatorClusterInstanceOptions, type ResolvedCluster } from './options.js';
import { handlePostgresConnection, type PostgresBackend } from './postgres-frontend.js';
import { PostgresRelayBackend } from './postgres-relay-backend.js';
import { closeServer, listen, SocketSet } from './relay.js';
import type { SessionContext } from './session-context.js';
import type { SqlRewrite } from './statement-rewriter.js';
import { rewriteTopologySql, type TopologyView } from './topology-sql.js';
import { parseUpstreamUrl, type UpstreamTarget } from './upstream-url.js';

/** One instance of an {@link EmulatedCluster} as it stands. @public */
export interface EmulatedInstance {
  readonly id: string;
  readonly role: 'writer' | 'reader';
  /** Its endpoint's name: `<id>.<clusterId>.<region>.rds.amazonaws.com`. */
  readonly endpoint: string;
  /** Where it listens (`host:port`). */
  readonly address: string;
  readonly lagMs: number;
  /** False while marked unhealthy: it refuses connections and its topology row goes stale. */
  readonly healthy: boolean;
  /** The real server behind it, redacted. */
  readonly upstream: string;
}

/**
 * An Aurora-shaped cluster on this machine (`startEmulator({ cluster })`): every endpoint by its
 * production name, each verifying IAM tokens signed for that name and the cluster port.
 * @public
 */
export interface EmulatedCluster {
  readonly engine: 'postgres' | 'mysql';
  /** `<name>.cluster-<clusterId>.<region>.rds.amazonaws.com`: sessions go to the writer. */
  readonly clusterEndpoint: string;
  /** `<name>.cluster-ro-<clusterId>...`: sessions go to a healthy reader (the writer when there is none). */
  readonly readerEndpoint: string;
  /** `?.<clusterId>.<region>.rds.amazonaws.com`, dbmodule's `cluster.instance_host_pattern`. */
  readonly instancePattern: string;
  /** The port tokens are signed for on every endpoint (5432 / 3306 unless configured). */
  readonly port: number;
  /**
   * Every endpoint's name and port mapped to where it listens: dbmodule's
   * `cluster.instance_addresses`, so clients dial the names exactly as in production.
   */
  addresses(): Record<string, string>;
  /**
   * Where `endpoint` listens now, or undefined for a name that is not the cluster's: a
   * `cluster.instance_addresses` function that also finds instances added later.
   */
  readonly addressOf: (endpoint: { readonly host: string; readonly port: number }) => string | undefined;
  instances(): readonly EmulatedInstance[];
  /** The replica lag the topology reports for instance `id`. */
  setLag(id: string, lagMs: number): void;
  /** Unhealthy: the instance refuses connections, its sessions end, its topology row stops updating. */
  setHealthy(id: string, healthy: boolean): Promise<void>;
  /** A new reader (or writer, replacing none: at most one writer), listening at once and in the topology. */
  addInstance(instance: EmulatorClusterInstanceOptions): Promise<EmulatedInstance>;
  /** Removes instance `id`: its endpoint stops listening, its sessions end, it leaves the topology. */
  removeInstance(id: string): Promise<void>;
  /**
   * Fails the writer over to reader `to`, as Aurora does: the writer stops (its sessions end, it
   * refuses connections), `promote` makes the real server behind `to` writable, the topology names
   * `to` as the writer, `demote` makes the old writer's server a read-only replica, and it comes
   * back as a reader. The cluster endpoint keeps resolving to the old writer for `staleDnsMs`.
   */
  failover(options: EmulatedFailoverOptions): Promise<EmulatedFailover>;
  /**
   * Calls `listener` with every statement an instance receives (through its own endpoint or the
   * cluster's and reader's), as it arrives; returns what stops it. Tests see where work landed.
   */
  onStatement(listener: (statement: EmulatedStatement) => void): () => void;
}

/** A statement as it reached an instance: its SQL text as the client sent it. @public */
export interface EmulatedStatement {
  readonly instance: string;
  readonly sql: string;
}

/** @public */
export interface EmulatedFailoverOptions {
  readonly to: string;
  /** Makes the server behind `to` accept writes (pg_promote, read_only = 0), after the old writer stopped. */
  readonly promote?: () => Promise<void>;
  /** Makes the old writer's server a read-only replica of the new one, before it comes back. */
  readonly demote?: () => Promise<void>;
  /** How long the cluster endpoint keeps resolving to the old writer; 0 by default. */
  readonly staleDnsMs?: number;
}

/** @public */
export interface EmulatedFailover {
  readonly from: string;
  readonly to: string;
  /** When the topology first named `to` as the writer (epoch ms). */
  readonly switchedAt: number;
}

/** What the cluster shares with the rest of the emulator. */
export interface ClusterContext {
  readonly session: SessionContext;
  readonly listen: string;
  /** Every socket set the cluster creates, for the emulator's close(). */
  readonly socketSets: Set<SocketSet>;
  readonly servers: Server[];
}

/** Starts the cluster's endpoints; the emulator closes them (servers and sockets) with its own. */
export async function startCluster(options: ResolvedCluster, shared: ClusterContext): Promise<EmulatedCluster> {
  const cluster = new ClusterEndpoints(options, shared);
  await cluster.start();
  return cluster;
}

// --- internal ---

interface Instance {
  readonly id: string;
  writer: boolean;
  lagMs: number;
  healthy: boolean;
  /** When it went unhealthy (its row's last update), epoch ms. */
  silentSince?: number;
  readonly endpoint: string;
  readonly target: UpstreamTarget;
  readonly sockets: SocketSet;
  readonly rewrite: SqlRewrite;
  readonly postgres?: PostgresBackend;
  readonly mysql?: MysqlUpstream;
  server?: Server;
  port: number;
}

class ClusterEndpoints implements EmulatedCluster {
  readonly engine: 'postgres' | 'mysql';
  readonly clusterEndpoint: string;
  readonly readerEndpoint: string;
  readonly instancePattern: string;
  readonly port: number;
  readonly #options: ResolvedCluster;
  readonly #shared: ClusterContext;
  readonly #instances = new Map<string, Instance>();
  readonly #routers: Array<{ endpoint: string; port: number }> = [];
  #stale: { instance: Instance; until: number } | undefined;
  readonly #statementListeners = new Set<(statement: EmulatedStatement) => void>();

  constructor(options: ResolvedCluster, shared: ClusterContext) {
    const region = shared.session.region;
    this.#options = options;
    this.#shared = shared;
    this.engine = options.engine;
    this.port = options.port;
    this.clusterEndpoint = `${options.name}.cluster-${options.clusterId}.${region}.rds.amazonaws.com`;
    this.readerEndpoint = `${options.name}.cluster-ro-${options.clusterId}.${region}.rds.amazonaws.com`;
    this.instancePattern = `?.${options.clusterId}.${region}.rds.amazonaws.com`;
  }

  async start(): Promise<void> {
    for (const instance of this.#options.instances) await this.#add(instance);
    for (const [endpoint, pick] of [
      [this.clusterEndpoint, () => this.#clusterTarget()],
      [this.readerEndpoint, () => this.#reader()],
    ] as const) {
      const port = await this.#listen(this.#newServer(endpoint, this.#socketSet(), pick), 0, endpoint);
      this.#routers.push({ endpoint, port });
    }
  }

  addresses(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const { endpoint, port } of this.#routers) out[`${endpoint}:${this.port}`] = `${this.#shared.listen}:${port}`;
    for (const instance of this.#instances.values()) out[`${instance.endpoint}:${this.port}`] = `${this.#shared.listen}:${instance.port}`;
    return out;
  }

  readonly addressOf = (endpoint: { readonly host: string; readonly port: number }): string | undefined => this.addresses()[`${endpoint.host.toLowerCase()}:${endpoint.port}`];

  instances(): readonly EmulatedInstance[] {
    return [...this.#instances.values()].map((instance) => ({
      id: instance.id,
      role: instance.writer ? 'writer' : 'reader',
      endpoint: instance.endpoint,
      address: `${this.#shared.listen}:${instance.port}`,
      lagMs: instance.lagMs,
      healthy: instance.healthy,
      upstream: instance.target.redacted,
    }));
  }

  setLag(id: string, lagMs: number): void {
    if (!(lagMs >= 0)) throw new ConfigError('CONFIG_INVALID', `emulator cluster: the lag of ${id} must be zero or more milliseconds`);
    this.#get(id).lagMs = lagMs;
  }

  async setHealthy(id: string, healthy: boolean): Promise<void> {
    const instance = this.#get(id);
    if (instance.healthy === healthy) return;
    instance.healthy = healthy;
    if (healthy) {
      delete instance.silentSince;
      instance.server = this.#newServer(instance.endpoint, instance.sockets, () => instance);
      await this.#listen(instance.server, instance.port, instance.endpoint);
      return;
    }
    instance.silentSince = Date.now();
    await this.#stop(instance);
  }

  async addInstance(options: EmulatorClusterInstanceOptions): Promise<EmulatedInstance> {
    const resolved = resolveInstance(options, 'instance');
    if (this.#instances.has(resolved.id)) throw new ConfigError('CONFIG_INVALID', `emulator cluster: instance "${resolved.id}" exists already`);
    if (resolved.writer && this.#writer()) throw new ConfigError('CONFIG_INVALID', `emulator cluster: ${this.#writer()?.id} is the writer already; add ${resolved.id} as a reader`);
    await this.#add(resolved);
    return this.instances().find((instance) => instance.id === resolved.id)!;
  }

  async removeInstance(id: string): Promise<void> {
    const instance = this.#get(id);
    this.#instances.delete(id);
    await this.#stop(instance);
    await instance.postgres?.close();
  }

  async failover(options: EmulatedFailoverOptions): Promise<EmulatedFailover> {
    const from = this.#writerInstance();
    const to = this.#get(options.to);
    if (to === from) throw new ConfigError('CONFIG_INVALID', `emulator cluster: ${to.id} is the writer already`);
    await this.setHealthy(from.id, false);
    await options.promote?.();
    this.#stale = { instance: from, until: Date.now() + (options.staleDnsMs ?? 0) };
    from.writer = false;
    to.writer = true;
    const switchedAt = Date.now();
    await options.demote?.();
    await this.setHealthy(from.id, true);
    return { from: from.id, to: to.id, switchedAt };
  }

  onStatement(listener: (statement: EmulatedStatement) => void): () => void {
    this.#statementListeners.add(listener);
    return () => this.#statementListeners.delete(listener);
  }

  /** Sessions on instance `self` see the cluster as it is when each statement arrives. */
  #view(self: Instance): TopologyView {
    const now = Date.now();
    return {
      rows: [...this.#instances.values()].map((instance) => ({
        id: instance.id,
        writer: instance.writer,
        lagMs: instance.lagMs,
        silentSeconds: instance.silentSince === undefined ? 0 : (now - instance.silentSince) / 1000,
      })),
      self: { id: self.id, writer: self.writer },
    };
  }

  async #add(options: ResolvedCluster['instances'][number]): Promise<void> {
    const { engine } = this.#options;
    const target = parseUpstreamUrl(options.upstream, engine);
    const sockets = this.#socketSet();
    const endpoint = this.instancePattern.replace('?', options.id);
    const { handshakeTimeoutMillis, logger } = this.#shared.session;
    const rewrite: SqlRewrite = (sql) => {
      for (const listener of this.#statementListeners) listener({ instance: options.id, sql });
      return rewriteTopologySql(engine, sql, () => this.#view(instance));
    };
    const instance: Instance = {
      id: options.id,
      writer: options.writer,
      lagMs: options.lagMs,
      healthy: true,
      endpoint,
      target,
      sockets,
      rewrite,
      ...(engine === 'postgres'
        ? { postgres: new PostgresRelayBackend(target, sockets, handshakeTimeoutMillis, logger, rewrite) }
        : { mysql: new MysqlUpstream(target, sockets, handshakeTimeoutMillis) }),
      port: 0,
    };
    instance.server = this.#newServer(endpoint, sockets, () => instance);
    instance.port = await this.#listen(instance.server, 0, endpoint);
    this.#instances.set(options.id, instance);
  }

  #writer(): Instance | undefined {
    return [...this.#instances.values()].find((instance) => instance.writer && instance.healthy);
  }

  /** What the cluster endpoint resolves to: the writer, or the old one while its DNS record is stale. */
  #clusterTarget(): Instance | undefined {
    const stale = this.#stale;
    if (stale && Date.now() < stale.until && this.#instances.get(stale.instance.id) === stale.instance) return stale.instance.healthy ? stale.instance : undefined;
    return this.#writer();
  }

  #writerInstance(): Instance {
    const writer = [...this.#instances.values()].find((instance) => instance.writer);
    if (!writer) throw new ConfigError('CONFIG_INVALID', 'emulator cluster: there is no writer to fail over');
    return writer;
  }

  /** A healthy reader at random, as the reader endpoint's DNS answers; the writer when there is none. */
  #reader(): Instance | undefined {
    const readers = [...this.#instances.values()].filter((instance) => !instance.writer && instance.healthy);
    return readers.length === 0 ? this.#writer() : readers[Math.floor(Math.random() * readers.length)];
  }

  /** A listener for `endpoint`, serving each session on the instance `pick` gives at that moment. */
  #newServer(endpoint: string, sockets: SocketSet, pick: () => Instance | undefined): Server {
    const context: SessionContext = { ...this.#shared.session, hostnames: [endpoint], sockets, endpoint };
    const server = createServer({ noDelay: true });
    this.#shared.servers.push(server);
    server.on('error', (error) => context.logger.error('emulator: cluster listener error', { endpoint, reason: messageOf(error) }));
    server.on('connection', (socket: Socket) => {
      const instance = pick();
      if (!instance) {
        // no instance to serve it (every one is down): as a connection to a stopped instance
        socket.destroy();
        return;
      }
      // a session through the cluster or reader endpoint is a session of the instance: it ends
      // when the instance stops, also while it is still being opened
      instance.sockets.track(socket);
      const served = instance.mysql
        ? handleMysqlConnection(socket, context, instance.mysql, this.port, instance.rewrite)
        : handlePostgresConnection(socket, context, this.#postgresBackend(instance), this.port);
      void served.catch(() => socket.destroy());
    });
    return server;
  }

  /** The instance's backend, with cancel requests sent to every instance: the key belongs to one session of one of them. */
  #postgresBackend(instance: Instance): PostgresBackend {
    const backend = instance.postgres!;
    return {
      serve: (client, pending, login) => backend.serve(client, pending, login),
      cancel: async (packet) => {
        await Promise.all([...this.#instances.values()].map((each) => each.postgres?.cancel(packet)));
      },
      close: async () => {},
    };
  }

  async #listen(server: Server, port: number, endpoint: string): Promise<number> {
    try {
      return await listen(server, port, this.#shared.listen);
    } catch (error) {
      throw new DbModuleError('CONNECT_FAILED', `emulator: the cluster endpoint ${endpoint} cannot listen on ${this.#shared.listen}:${port}: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Stops accepting (clients get ECONNREFUSED, as from a stopped instance) and ends the instance's sessions. */
  async #stop(instance: Instance): Promise<void> {
    const server = instance.server;
    delete instance.server;
    if (server) {
      const index = this.#shared.servers.indexOf(server);
      if (index >= 0) this.#shared.servers.splice(index, 1);
    }
    // close() waits for open connections: they are ended first
    const closed = server ? closeServer(server) : Promise.resolve();
    instance.sockets.resetAll();
    await closed;
  }

  #socketSet(): SocketSet {
    const sockets = new SocketSet();
    this.#shared.socketSets.add(sockets);
    return sockets;
  }

  #get(id: string): Instance {
    const instance = this.#instances.get(id);
    if (!instance) throw new ConfigError('CONFIG_INVALID', `emulator cluster: no instance "${id}" (instances: ${[...this.#instances.keys()].join(', ')})`);
    return instance;
  }
}
