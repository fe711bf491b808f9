import type { Clock } from '../drivers/types.js';
import { DbModuleError, messageOf } from '../errors.js';
import type { Logger } from '../logging.js';
import type { ClusterTelemetry } from '../telemetry/types.js';
import type { InstanceInfo, TopologySnapshot, TopologySource } from './types.js';

/** Reads the topology once (a topology query on the writer, or each replica's role). */
export type TopologyRead = () => Promise<readonly InstanceInfo[]>;

export interface TopologyMonitorOptions {
  readonly source: TopologySource;
  readonly refreshMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** For log lines: the connection (or cluster endpoint) the monitor serves. */
  readonly label: string;
  /** Telemetry on: every refresh in a `topology.refresh` span (the first user's telemetry, for a shared monitor). */
  readonly telemetry?: ClusterTelemetry | undefined;
}

type Listener = (snapshot: TopologySnapshot, previous: TopologySnapshot | undefined) => void;
type FailureListener = (error: DbModuleError) => void;

/**
 * Keeps one cluster's topology fresh: reads it every `refreshMs` (and on demand, single flight:
 * a failover reads it every `failover_refresh`) through the first of its sources that
 * answers, keeps the last good topology when no source does and says so, and tells its
 * subscribers. One per cluster, shared by every connection pointing at it ({@link acquireMonitor}).
 */
export class TopologyMonitor {
  readonly #options: TopologyMonitorOptions;
  readonly #sources: TopologyRead[] = [];
  readonly #listeners = new Set<Listener>();
  readonly #failureListeners = new Set<FailureListener>();
  #snapshot: TopologySnapshot | undefined;
  #failure: { error: DbModuleError; at: number } | undefined;
  #refreshing: Promise<TopologySnapshot> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: TopologyMonitorOptions) {
    this.#options = options;
  }

  get source(): TopologySource {
    return this.#options.source;
  }

  /** The last good topology, or undefined before the first refresh succeeded. */
  get snapshot(): TopologySnapshot | undefined {
    return this.#snapshot;
  }

  /** The failure of the last refresh, when it failed (cleared by the next success). */
  get failure(): { error: DbModuleError; at: number } | undefined {
    return this.#failure;
  }

  subscribe(listener: Listener, onFailure?: FailureListener): () => void {
    this.#listeners.add(listener);
    if (onFailure) this.#failureListeners.add(onFailure);
    return () => {
      this.#listeners.delete(listener);
      if (onFailure) this.#failureListeners.delete(onFailure);
    };
  }

  /** Reads the topology now; concurrent callers share one read. Rejects when it fails (the last good one stays). */
  refresh(): Promise<TopologySnapshot> {
    return this.#refresh(false);
  }

  /** `background`: the periodic refresh (a trace of its own), not a caller's. */
  #refresh(background: boolean): Promise<TopologySnapshot> {
    const telemetry = this.#options.telemetry;
    this.#refreshing ??= (telemetry ? telemetry.topologyRefresh(this.#options.source, background, () => this.#read()) : this.#read()).finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** Adds a way to read the topology (each connection's sessions); removing it leaves the others. */
  addSource(read: TopologyRead): () => void {
    this.#sources.push(read);
    return () => {
      const index = this.#sources.indexOf(read);
      if (index >= 0) this.#sources.splice(index, 1);
    };
  }

  /** Starts the periodic refresh (the timer never keeps the process alive). */
  start(): void {
    if (this.#timer || this.#stopped) return;
    const tick = () => {
      this.#timer = undefined;
      if (this.#stopped) return;
      this.#refresh(true)
        .catch(() => {})
        .finally(() => {
          if (!this.#stopped) this.#schedule(tick);
        });
    };
    this.#schedule(tick);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(tick: () => void): void {
    this.#timer = setTimeout(tick, this.#options.refreshMs);
    this.#timer.unref();
  }

  /** The first source that answers; the last failure when none does. */
  async #readSources(): Promise<readonly InstanceInfo[]> {
    let failure: unknown = new DbModuleError('TOPOLOGY_FAILED', 'no session is left to read the topology through', { retryable: true });
    for (const read of [...this.#sources]) {
      try {
        return await read();
      } catch (error) {
        failure = error;
      }
    }
    throw failure;
  }

  async #read(): Promise<TopologySnapshot> {
    const { clock, source, logger, label } = this.#options;
    let instances: readonly InstanceInfo[];
    try {
      instances = await this.#readSources();
    } catch (error) {
      const failure = error instanceof DbModuleError ? error : new DbModuleError('TOPOLOGY_FAILED', `reading the ${source} topology failed: ${messageOf(error)}`, { cause: error, retryable: true });
      this.#failure = { error: failure, at: clock.now() };
      logger.warn('Topology refresh failed; keeping the last good topology', { connection: label, source, code: failure.code, error: failure.message });
      for (const listener of this.#failureListeners) listener(failure);
      throw failure;
    }
    const previous = this.#snapshot;
    const snapshot: TopologySnapshot = { source, instances, refreshedAt: clock.now() };
    this.#snapshot = snapshot;
    this.#failure = undefined;
    for (const listener of this.#listeners) listener(snapshot, previous);
    return snapshot;
  }
}

interface SharedMonitor {
  readonly monitor: TopologyMonitor;
  users: number;
}

const shared = new Map<string, SharedMonitor>();

/**
 * The monitor of the cluster `key` names, created by `create` for its first user; `release`
 * stops it when its last user is gone.
 */
export function acquireMonitor(key: string, create: () => TopologyMonitor): { monitor: TopologyMonitor; release: () => void } {
  let entry = shared.get(key);
  if (!entry) {
    entry = { monitor: create(), users: 0 };
    shared.set(key, entry);
  }
  entry.users++;
  const held = entry;
  let released = false;
  return {
    monitor: held.monitor,
    release: () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      held.monitor.stop();
      if (shared.get(key) === held) shared.delete(key);
    },
  };
}
