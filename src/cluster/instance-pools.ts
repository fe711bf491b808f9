import type { ConnectionPlan } from '../config/plan.js';
import type { DriverPool } from '../drivers/types.js';
import type { DbModuleError } from '../errors.js';

/** A pool opened for one instance, and how to close it with what it holds (its IAM tokens). */
export interface OpenedPool {
  readonly pool: DriverPool;
  close(): Promise<void>;
}

/** Opens the pool of one instance's plan (IAM and the driver as for the connection itself). */
export type InstancePoolOpener = (plan: ConnectionPlan) => Promise<OpenedPool>;

/** One instance's pool as the router uses it. */
export interface InstancePool {
  readonly key: string;
  readonly plan: ConnectionPlan;
  readonly opened: Promise<OpenedPool>;
  /** Set once `opened` resolved: what synchronous callers (the routing native pool) may use. */
  ready?: OpenedPool;
  /** Statements and transactions running on it now (least-connections). */
  inFlight: number;
  /** False from a failure to reach it until it answers again. */
  healthy: boolean;
  lastFailure?: DbModuleError;
}

/**
 * The connection's pools to the instances of its cluster, one per endpoint, each with the
 * connection's pool limits; opened on first use, closed when the instance leaves the topology.
 */
export class InstancePools {
  readonly #open: InstancePoolOpener;
  readonly #pools = new Map<string, InstancePool>();
  #closed = false;

  constructor(open: InstancePoolOpener) {
    this.#open = open;
  }

  /** The pool for `plan` (keyed by the endpoint `key`), opened now if it is not open yet. */
  get(key: string, plan: ConnectionPlan): InstancePool {
    let entry = this.#pools.get(key);
    if (!entry) {
      const opened = this.#open(plan);
      const created: InstancePool = { key, plan, opened, inFlight: 0, healthy: true };
      entry = created;
      opened.then(
        (ready) => (created.ready = ready),
        // a pool that could not even be created (say, a bad TLS file) is unhealthy, not unhandled
        () => (created.healthy = false),
      );
      this.#pools.set(key, entry);
    }
    return entry;
  }

  /** The pool of `key` when one is open. */
  find(key: string): InstancePool | undefined {
    return this.#pools.get(key);
  }

  values(): IterableIterator<InstancePool> {
    return this.#pools.values();
  }

  /** Closes the pools whose endpoint is not in `keep` (their sessions in use finish first). */
  async retain(keep: ReadonlySet<string>): Promise<void> {
    const leaving = [...this.#pools.values()].filter((entry) => !keep.has(entry.key));
    for (const entry of leaving) this.#pools.delete(entry.key);
    await Promise.allSettled(leaving.map(closeEntry));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.retain(new Set());
  }
}

async function closeEntry(entry: InstancePool): Promise<void> {
  const opened = await entry.opened.catch(() => undefined);
  await opened?.close();
}
