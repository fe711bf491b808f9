import type { Attributes, BatchObservableResult, Counter, Histogram, Meter, Observable, ObservableUpDownCounter } from '@opentelemetry/api';
import type { ConnectionPlan } from '../config/plan.js';
import type { DriverPool, DriverSession, SessionObserver } from '../drivers/types.js';
import { ATTR, SPAN, errorType } from './attributes.js';
import type { InternalSpans } from './span-maker.js';
import type { OpenTelemetryApi } from './load-api.js';

/** The database conventions' pool attributes (in development), and dbmodule's own on `pool.wait`. */
export const POOL_ATTR = {
  poolName: 'db.client.connection.pool.name',
  state: 'db.client.connection.state',
  /** Callers already waiting when this one asked (PoolStats.waiting). */
  pending: 'dbmodule.pool.pending_requests',
  /** True when the caller queued for a session in use (every one max_open_connections allows taken); false: one was opened for it. */
  atLimit: 'dbmodule.pool.at_limit',
} as const;

/** Buckets of the pool's time histograms (seconds): those the conventions give `db.client.operation.duration`. */
const TIME_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/**
 * `db.client.connection.pool.name`: the connection's name for its own pool; for the pool of a
 * cluster instance or a replica, `name/host:port` with the endpoint by name (as in `server.address`).
 */
export function poolName(plan: ConnectionPlan, instance: boolean): string {
  if (!instance) return plan.name;
  const host = plan.endpoint?.host ?? plan.host;
  const port = plan.endpoint?.port ?? plan.port;
  return port === undefined ? `${plan.name}/${host ?? ''}` : `${plan.name}/${host ?? ''}:${port}`;
}

interface PoolEntry {
  readonly pool: DriverPool;
  /** `db.client.connection.pool.name`: what every measurement carries. */
  readonly attributes: Attributes;
  readonly idle: Attributes;
  readonly used: Attributes;
  /** The pool's name and the connection's: what a `pool.wait` span carries. */
  readonly span: Attributes;
}

/**
 * The pool metrics of the database conventions (in development) for every pool a Database opened.
 *
 * Counts are asynchronous instruments read from `pool.stats()` when the SDK collects, so a
 * checkout costs nothing for them: `db.client.connection.count` (state idle|used),
 * `.max`, `.idle.max` and `.pending_requests` are observable up-down counters (the conventions
 * make them UpDownCounters), one batch callback reading each pool's stats once.
 *
 * Times are what each pool reports of every checkout, whoever made it (`connection.query`, a
 * transaction, an ORM on `connection.pool`; see DriverPool.observeSessions): `wait_time` from
 * asking to being handed a session, `use_time` from then to its release, and `create_time` for a
 * session opened for the caller that asked: its wait, which is the opening (an IAM token, refused
 * logins retried and the handshake included). `timeouts` counts POOL_TIMEOUT from `withSession`
 * and from statements.
 */
export class PoolMetrics {
  readonly #api: OpenTelemetryApi;
  readonly #meter: Meter;
  readonly #spans: InternalSpans;
  readonly #suppress: symbol;
  readonly #entries = new Map<object, PoolEntry>();
  readonly #count: ObservableUpDownCounter;
  readonly #max: ObservableUpDownCounter;
  readonly #idleMax: ObservableUpDownCounter;
  readonly #pending: ObservableUpDownCounter;
  readonly #observables: Observable[];
  readonly #timeouts: Counter;
  readonly #createTime: Histogram;
  readonly #waitTime: Histogram;
  readonly #useTime: Histogram;

  constructor(api: OpenTelemetryApi, meter: Meter, spans: InternalSpans, suppress: symbol) {
    this.#api = api;
    this.#meter = meter;
    this.#spans = spans;
    this.#suppress = suppress;
    this.#count = meter.createObservableUpDownCounter('db.client.connection.count', {
      description: 'The number of connections that are currently in state described by the state attribute.',
      unit: '{connection}',
    });
    this.#max = meter.createObservableUpDownCounter('db.client.connection.max', { description: 'The maximum number of open connections allowed.', unit: '{connection}' });
    this.#idleMax = meter.createObservableUpDownCounter('db.client.connection.idle.max', { description: 'The maximum number of idle open connections allowed.', unit: '{connection}' });
    this.#pending = meter.createObservableUpDownCounter('db.client.connection.pending_requests', {
      description: 'The number of current pending requests for an open connection.',
      unit: '{request}',
    });
    this.#observables = [this.#count, this.#max, this.#idleMax, this.#pending];
    meter.addBatchObservableCallback(this.#observe, this.#observables);
    this.#timeouts = meter.createCounter('db.client.connection.timeouts', {
      description: 'The number of connection timeouts that have occurred trying to obtain a connection from the pool.',
      unit: '{timeout}',
    });
    const time = (name: string, description: string): Histogram => meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: TIME_BUCKETS } });
    this.#createTime = time('db.client.connection.create_time', 'The time it took to create a new connection.');
    this.#waitTime = time('db.client.connection.wait_time', 'The time it took to obtain an open connection from the pool.');
    this.#useTime = time('db.client.connection.use_time', 'The time between borrowing a connection and returning it to the pool.');
  }

  /** Measures `pool` from now on (see {@link poolName}). */
  register(pool: DriverPool, plan: ConnectionPlan, instance: boolean): void {
    const attributes = { [POOL_ATTR.poolName]: poolName(plan, instance) };
    this.#entries.set(pool, {
      pool,
      attributes,
      idle: { ...attributes, [POOL_ATTR.state]: 'idle' },
      used: { ...attributes, [POOL_ATTR.state]: 'used' },
      span: { ...attributes, [ATTR.connectionName]: plan.name },
    });
    pool.observeSessions(this.#observer(attributes));
  }

  /** What records the times of `pool`'s checkouts. */
  #observer(attributes: Attributes): SessionObserver {
    return {
      acquired: (waitMs, opened) => {
        this.#waitTime.record(waitMs / 1000, attributes);
        if (opened) this.#createTime.record(waitMs / 1000, attributes);
      },
      released: (useMs) => this.#useTime.record(useMs / 1000, attributes),
    };
  }

  /** `pool` closed: it is no longer observed. */
  unregister(pool: DriverPool): void {
    this.#entries.delete(pool);
  }

  /** The Database closed: nothing is observed any more, and the SDK no longer calls back. */
  close(): void {
    this.#entries.clear();
    this.#meter.removeBatchObservableCallback(this.#observe, this.#observables);
  }

  /** A statement on `runner` failed with `type`: a POOL_TIMEOUT of a measured pool counts. */
  failed(runner: object, type: string): void {
    if (type !== 'POOL_TIMEOUT') return;
    const entry = this.#entries.get(runner);
    if (entry) this.#timeouts.add(1, entry.attributes);
  }

  /**
   * Checks out a session of `pool` with tracing suppressed (a driver instrumentation's span of the
   * checkout would be a second CLIENT span) and runs `body` on it in the caller's context (the
   * pool itself reports the wait and the use). When no session was idle (one is opened, or the caller
   * queues) the wait is a `pool.wait` span, the parent of the spans of the opening (token signing,
   * a refused login).
   */
  withSession<T>(pool: DriverPool, body: (session: DriverSession) => Promise<T>): Promise<T> {
    const api = this.#api;
    const caller = api.context.active();
    const entry = this.#entries.get(pool);
    if (entry === undefined) {
      return api.context.with(caller.setValue(this.#suppress, true), () => pool.withSession((session) => api.context.with(caller, body, undefined, session)));
    }
    const { idle, waiting, total, maxOpen } = pool.stats();
    // no idle session is left for this caller once those ahead of it are served (a burst of
    // callers queues before the first is handed the idle one): a session is opened, or it queues
    const span =
      waiting >= idle
        ? this.#spans.start(SPAN.poolWait, { ...entry.span, [POOL_ATTR.pending]: waiting, [POOL_ATTR.atLimit]: waiting + 1 > idle + Math.max(0, maxOpen - total) }, this.#spans.parent(false))
        : undefined;
    const checkout = (span === undefined ? caller : api.trace.setSpan(caller, span)).setValue(this.#suppress, true);
    let acquired = false;
    const held = api.context.with(checkout, () =>
      pool.withSession((session) => {
        acquired = true;
        span?.end();
        return api.context.with(caller, body, undefined, session);
      }),
    );
    return held.catch((error: unknown) => {
      if (acquired) throw error;
      const type = errorType(error);
      if (span !== undefined) {
        this.#spans.fail(span, type);
        span.end();
      }
      if (type === 'POOL_TIMEOUT') this.#timeouts.add(1, entry.attributes);
      throw error;
    });
  }

  readonly #observe = (result: BatchObservableResult): void => {
    for (const entry of this.#entries.values()) {
      const stats = entry.pool.stats();
      result.observe(this.#count, stats.idle, entry.idle);
      result.observe(this.#count, stats.inUse, entry.used);
      result.observe(this.#max, stats.maxOpen, entry.attributes);
      result.observe(this.#idleMax, stats.maxIdle, entry.attributes);
      result.observe(this.#pending, stats.waiting, entry.attributes);
    }
  };
}
