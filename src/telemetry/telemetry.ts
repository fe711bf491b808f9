import type { Attributes, Context, Histogram, MeterProvider, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import type { ConnectionPlan } from '../config/plan.js';
import type { DriverPool, DriverSession, QueryResult } from '../drivers/types.js';
import { TransactionError, messageOf } from '../errors.js';
import type { Logger } from '../logging.js';
import { ATTR, endpointAttributes, errorType, mysqlFlavour, responseStatusCode, systemOf, type DatabaseSystem, type EndpointAttributes } from './attributes.js';
import { OtelInternalTelemetry } from './internal-spans.js';
import { InternalSpans } from './span-maker.js';
import { loadOpenTelemetryApi, type OpenTelemetryApi } from './load-api.js';
import type { TelemetryOptions } from './options.js';
import { PoolMetrics } from './pool-metrics.js';
import { traceNativePool } from './native-pool.js';
import type { ConnectionTelemetry, DatabaseTelemetry, EndpointTelemetry, LentMethodWrapper, StatementRunner, StatementSpan } from './types.js';
import { summarizeStatement, type StatementSummary, type SummaryDialect } from './statement-summary.js';
import { withTraceComment } from './sqlcommenter.js';

/** The instrumentation scope of every span and instrument. */
const SCOPE = 'dbmodule';

/**
 * The OpenTelemetry SDK's suppress-tracing key (`@opentelemetry/core` suppress-tracing.ts:
 * `createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING')`, set to `true`). The API's
 * `createContextKey` is `Symbol.for(description)`, so this is the very key the SDK's tracer and
 * every instrumentation check, with no dependency on `@opentelemetry/core`.
 */
const SUPPRESS_TRACING = 'OpenTelemetry SDK Context Key SUPPRESS_TRACING';

/** The conventions' advice for `db.client.operation.duration` (seconds). */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

interface Instruments {
  readonly api: OpenTelemetryApi;
  readonly tracer: Tracer;
  readonly duration: Histogram;
  readonly suppress: symbol;
  /** The pool metrics (pool-metrics.ts): a session's wait and use, POOL_TIMEOUT. */
  readonly pools: PoolMetrics;
  /** Statements sent carry their span's trace context in a sqlcommenter comment. */
  readonly sqlcommenter: boolean;
}

/**
 * A Database's telemetry, created by `createDatabase` when telemetry is on (only then is
 * `@opentelemetry/api` loaded). It knows where every pool goes, so a statement on a cluster
 * instance or a replica names that server.
 */
export class OtelDatabaseTelemetry implements DatabaseTelemetry {
  readonly #instruments: Instruments;
  readonly #plans = new WeakMap<DriverPool, ConnectionPlan>();
  readonly internal: OtelInternalTelemetry;

  private constructor(instruments: Instruments, internal: OtelInternalTelemetry) {
    this.#instruments = instruments;
    this.internal = internal;
  }

  /**
   * Loads `@opentelemetry/api` and creates the tracer and the duration histogram.
   * @throws DbModuleError `DRIVER_NOT_INSTALLED` when `@opentelemetry/api` is not installed.
   */
  static async open(options: TelemetryOptions, importer?: () => Promise<OpenTelemetryApi>): Promise<OtelDatabaseTelemetry> {
    const api = await loadOpenTelemetryApi(importer);
    // the options declare the providers by their shape (see TelemetryTracerProvider): they are the API's
    const tracer = ((options.tracerProvider as TracerProvider | undefined) ?? api.trace.getTracerProvider()).getTracer(SCOPE);
    const meter = ((options.meterProvider as MeterProvider | undefined) ?? api.metrics.getMeterProvider()).getMeter(SCOPE);
    const duration = meter.createHistogram('db.client.operation.duration', {
      description: 'Duration of database client operations.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    const suppress = api.createContextKey(SUPPRESS_TRACING);
    const spans = new InternalSpans(api, tracer, suppress);
    const pools = new PoolMetrics(api, meter, spans, suppress);
    const instruments = { api, tracer, duration, suppress, pools, sqlcommenter: options.sqlcommenter === true };
    return new OtelDatabaseTelemetry(instruments, new OtelInternalTelemetry(spans, meter, pools));
  }

  /** Remembers the plan `pool` was opened from (a connection's, an instance's, a replica's). */
  registerPool(pool: DriverPool, plan: ConnectionPlan): void {
    this.#plans.set(pool, plan);
  }

  /**
   * The telemetry of one connection. A MySQL connection asks its server once what it is
   * (`SELECT VERSION()`, tracing suppressed): `db.system.name` is `mariadb` when it says MariaDB.
   */
  async connection(plan: ConnectionPlan, pool: DriverPool, logger: Logger): Promise<ConnectionTelemetry> {
    const system = plan.driver === 'mysql' ? await this.#mysqlSystem(plan, pool, logger) : systemOf(plan.driver);
    return new OtelConnectionTelemetry(this.#instruments, plan, system, (other) => this.#plans.get(other));
  }

  async #mysqlSystem(plan: ConnectionPlan, pool: DriverPool, logger: Logger): Promise<DatabaseSystem> {
    const { api, suppress } = this.#instruments;
    try {
      const { rows } = await api.context.with(api.context.active().setValue(suppress, true), () => pool.query<{ version?: unknown }>('SELECT VERSION() AS version'));
      return mysqlFlavour(rows[0]?.version);
    } catch (error) {
      logger.debug('Could not read the server version; spans say db.system.name=mysql', { connection: plan.name, error: messageOf(error) });
      return 'mysql';
    }
  }
}

/** One connection's telemetry: an {@link OtelEndpointTelemetry} per pool it runs statements on. */
export class OtelConnectionTelemetry implements ConnectionTelemetry {
  readonly system: DatabaseSystem;
  readonly #instruments: Instruments;
  readonly #plan: ConnectionPlan;
  readonly #planOf: (pool: DriverPool) => ConnectionPlan | undefined;
  readonly #endpoints = new WeakMap<DriverPool, OtelEndpointTelemetry>();

  constructor(instruments: Instruments, plan: ConnectionPlan, system: DatabaseSystem, planOf: (pool: DriverPool) => ConnectionPlan | undefined) {
    this.#instruments = instruments;
    this.#plan = plan;
    this.system = system;
    this.#planOf = planOf;
  }

  /** The telemetry of statements and transactions on `pool` (a pool this Database did not open counts as the connection's own). */
  on(pool: DriverPool): OtelEndpointTelemetry {
    let endpoint = this.#endpoints.get(pool);
    if (endpoint === undefined) {
      const plan = this.#planOf(pool) ?? this.#plan;
      endpoint = new OtelEndpointTelemetry(this.#instruments, this.#plan.name, endpointAttributes(plan, this.system), { backslashEscapes: plan.driver === 'mysql' });
      this.#endpoints.set(pool, endpoint);
    }
    return endpoint;
  }

  /** Traces what ORMs run through `pool`'s native pool in the spans of {@link on} (see native-pool.ts). */
  traceLent(pool: DriverPool): LentMethodWrapper | undefined {
    return traceNativePool(pool, this.on(pool), this.#plan.name);
  }
}

/** What the spans and measurements of one statement text carry, built once per text and shared (read-only). */
interface PreparedStatement {
  readonly name: string;
  readonly spanAttributes: Attributes;
  readonly metricAttributes: Attributes;
}

/** Statement texts remembered per endpoint (first in, first out); longer texts are described afresh each time. */
const PREPARED_CACHE_SIZE = 500;
const CACHEABLE_TEXT_LENGTH = 2_000;

/**
 * Spans and measurements of statements and transactions on one endpoint.
 *
 * A statement is one CLIENT span, the child of the active context's span, and one measurement
 * of `db.client.operation.duration`. The driver call runs with tracing suppressed (and our span
 * active), so a driver instrumentation also registered (`@opentelemetry/instrumentation-pg`)
 * adds no second CLIENT span. Spans carry no free text from the server: error messages can
 * quote parameter values, so a failure is `error.type`, `db.response.status_code` and status ERROR.
 */
export class OtelEndpointTelemetry implements EndpointTelemetry {
  readonly #instruments: Instruments;
  readonly #system: DatabaseSystem;
  readonly #dialect: SummaryDialect;
  /** The endpoint's attributes and the connection's name: on every span. */
  readonly #spanBase: Attributes;
  /** The endpoint's attributes: on every measurement. */
  readonly #metricBase: EndpointAttributes;
  readonly #prepared = new Map<string, PreparedStatement>();
  /** sqlcommenter on, and a server to read the comments (not SQLite, whose statement cache a text per call would defeat). */
  readonly #comments: boolean;

  constructor(instruments: Instruments, connection: string, endpoint: EndpointAttributes, dialect: SummaryDialect) {
    this.#instruments = instruments;
    this.#system = endpoint[ATTR.systemName];
    this.#comments = instruments.sqlcommenter && this.#system !== 'sqlite';
    this.#dialect = dialect;
    this.#metricBase = endpoint;
    this.#spanBase = { ...endpoint, [ATTR.connectionName]: connection };
  }

  /** Runs `sql` on `runner` in a CLIENT span named `{operation} {table}`, `{operation}` or `db.system.name`. */
  async query<T>(runner: StatementRunner, sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    const statement = this.#start(sql, this.#instruments.api.context.active());
    try {
      const sent = statement.sent(sql);
      const result = await statement.run(() => runner.query<T>(sent, params));
      statement.end();
      return result;
    } catch (error) {
      statement.fail(error);
      this.#instruments.pools.failed(runner, errorType(error));
      throw error;
    }
  }

  /**
   * The CLIENT span of a statement a native pool's session sends for an ORM (`connection.pool`):
   * the span {@link query} makes, or undefined where tracing is suppressed (inside {@link query},
   * whose driver call runs suppressed: dbmodule's own statement is not traced twice).
   */
  statement(sql: string): StatementSpan | undefined {
    const parent = this.#instruments.api.context.active();
    return parent.getValue(this.#instruments.suppress) === true ? undefined : this.#start(sql, parent);
  }

  /**
   * A checkout of the native pool with tracing suppressed, its callback in the caller's context.
   * dbmodule's own checkouts (a statement's, already suppressed) run in the caller's context as it is.
   */
  checkout<F extends (...args: never[]) => unknown, R>(connect: (callback: F | undefined) => R, callback: F | undefined): R {
    const { api, suppress } = this.#instruments;
    const caller = api.context.active();
    const bound = callback === undefined ? undefined : api.context.bind(caller, callback);
    if (caller.getValue(suppress) === true) return connect(bound);
    return api.context.with(caller.setValue(suppress, true), connect, undefined, bound);
  }

  /** Starts the CLIENT span of `sql`, the child of `parent`: the one place statement spans are made. */
  #start(sql: string, parent: Context): StatementSpan {
    const { api, tracer, suppress } = this.#instruments;
    const statement = this.#prepare(sql);
    const span = tracer.startSpan(statement.name, { kind: api.SpanKind.CLIENT, attributes: statement.spanAttributes }, parent);
    const started = performance.now();
    const active = api.trace.setSpan(parent, span).setValue(suppress, true);
    let ended = false;
    return {
      run: (call) => api.context.with(active, call),
      bind: (callback) => api.context.bind(parent, callback),
      end: () => {
        if (ended) return;
        ended = true;
        span.end();
        this.#instruments.duration.record((performance.now() - started) / 1000, statement.metricAttributes);
      },
      fail: (error) => {
        if (ended) return;
        ended = true;
        this.#failed(span, statement, started, error);
      },
      sent: (text) => (this.#comments ? withTraceComment(text, span.spanContext(), api.trace.isSpanContextValid) : text),
    };
  }

  /**
   * Checks out a session of `pool` with tracing suppressed (a driver instrumentation's span of
   * the checkout, `pg-pool.connect`, would be a second CLIENT span), then runs `body` on it in
   * the caller's context: the application's code in a transaction is traced as usual.
   */
  withSession<T>(pool: DriverPool, body: (session: DriverSession) => Promise<T>): Promise<T> {
    // and measures the wait and the use of the session (pool-metrics.ts)
    return this.#instruments.pools.withSession(pool, body);
  }

  /**
   * Runs a transaction scope (`depth` 0: BEGIN … COMMIT, and the wait for its session; deeper: a
   * savepoint) in an INTERNAL span, the parent of its statements' CLIENT spans.
   */
  transaction<T>(depth: number, isolation: string, run: () => Promise<T>): Promise<T> {
    const { api, tracer } = this.#instruments;
    const parent = api.context.active();
    const span = tracer.startSpan(
      'transaction',
      { kind: api.SpanKind.INTERNAL, attributes: { ...this.#spanBase, [ATTR.transactionDepth]: depth, [ATTR.transactionIsolation]: isolation } },
      parent,
    );
    let running: Promise<T>;
    try {
      running = api.context.with(api.trace.setSpan(parent, span), run);
    } catch (error) {
      running = Promise.reject(error);
    }
    return running.then(
      (result) => {
        span.setAttribute(ATTR.transactionOutcome, 'committed');
        span.end();
        return result;
      },
      (error: unknown) => {
        const type = errorType(error);
        span.setAttributes({ [ATTR.transactionOutcome]: error instanceof TransactionError ? error.outcome : 'rolled-back', [ATTR.errorType]: type });
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: type });
        span.end();
        throw error;
      },
    );
  }

  #failed(span: Span, statement: PreparedStatement, started: number, error: unknown): void {
    const seconds = (performance.now() - started) / 1000;
    const type = errorType(error);
    const status = responseStatusCode(error, this.#system);
    const failure: Attributes = status === undefined ? { [ATTR.errorType]: type } : { [ATTR.errorType]: type, [ATTR.responseStatusCode]: status };
    span.setAttributes(failure);
    span.setStatus({ code: this.#instruments.api.SpanStatusCode.ERROR, message: status === undefined ? type : `${type} (${status})` });
    span.end();
    this.#instruments.duration.record(seconds, { ...statement.metricAttributes, ...failure });
  }

  #prepare(sql: string): PreparedStatement {
    const known = this.#prepared.get(sql);
    if (known !== undefined) return known;
    const summary = summarizeStatement(sql, this.#dialect);
    const name = spanName(summary, this.#system);
    const described = summaryAttributes(summary);
    const statement: PreparedStatement = {
      name,
      // shared by every span of the text: not frozen, a tracer that wrote into them would throw from the query
      spanAttributes: { ...this.#spanBase, ...described, ...(summary.operation === undefined ? {} : { [ATTR.querySummary]: name }), [ATTR.queryText]: sql },
      // the summary is left off: it repeats the operation and the table, and each attribute costs the SDK's histogram on every statement
      metricAttributes: { ...this.#metricBase, ...described },
    };
    if (sql.length <= CACHEABLE_TEXT_LENGTH) {
      if (this.#prepared.size >= PREPARED_CACHE_SIZE) this.#prepared.delete(this.#prepared.keys().next().value as string);
      this.#prepared.set(sql, statement);
    }
    return statement;
  }
}

function spanName(summary: StatementSummary, system: DatabaseSystem): string {
  if (summary.operation === undefined) return system;
  return summary.collection === undefined ? summary.operation : `${summary.operation} ${summary.collection}`;
}

/** The operation and the table, where the text says them. */
function summaryAttributes(summary: StatementSummary): Attributes {
  if (summary.operation === undefined) return {};
  return summary.collection === undefined
    ? { [ATTR.operationName]: summary.operation }
    : { [ATTR.operationName]: summary.operation, [ATTR.collectionName]: summary.collection };
}
