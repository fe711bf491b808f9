import type { Attributes, Counter, Meter } from '@opentelemetry/api';
import type { ConnectionPlan, IamConnectionPlan, SecretConnectionPlan } from '../config/plan.js';
import type { AuthFailure, AuthFailureDecision, DriverPool } from '../drivers/types.js';
import type { DbModuleError } from '../errors.js';
import type { RefreshReport } from '../iam/token-provider.js';
import { ATTR, SPAN } from './attributes.js';
import type { PoolMetrics } from './pool-metrics.js';
import type { InternalSpans } from './span-maker.js';
import type { SecretFetchReason } from '../events.js';
import type { ClusterTelemetry, FailoverStart, IamTelemetry, InternalTelemetry, SecretTelemetry, TopologyReadout } from './types.js';

/** dbmodule's names for what its INTERNAL spans and counters carry (the conventions have none for this work). */
export const INTERNAL_ATTR = {
  /** True for work done ahead of need (a timer's topology refresh, a token refreshed before it expires): a trace of its own. */
  background: 'dbmodule.background',
  iamUser: 'dbmodule.iam.user',
  cloudRegion: 'cloud.region',
  tokenOutcome: 'dbmodule.iam.token.outcome',
  /** Consecutive failed refreshes, this one included. */
  tokenFailures: 'dbmodule.iam.token.failures',
  credentialSource: 'dbmodule.iam.credential_source',
  /** The last four characters of the access key id: never more of it. */
  accessKeyIdSuffix: 'dbmodule.iam.access_key_id_suffix',
  credentialsOutcome: 'dbmodule.aws.credentials.outcome',
  authAttempt: 'dbmodule.iam.auth.attempt',
  authOutcome: 'dbmodule.iam.auth.outcome',
  topologySource: 'dbmodule.topology.source',
  topologyOutcome: 'dbmodule.topology.outcome',
  topologyInstances: 'dbmodule.topology.instances',
  topologyWriter: 'dbmodule.topology.writer',
  failoverFrom: 'dbmodule.failover.from',
  failoverTo: 'dbmodule.failover.to',
  failoverReason: 'dbmodule.failover.reason',
  /** The error code that made the writer suspect (CONNECTION_LOST, READ_ONLY, ...), when an error did. */
  failoverTrigger: 'dbmodule.failover.trigger_code',
  failoverOutcome: 'dbmodule.failover.outcome',
  secretId: 'dbmodule.secret.id',
  secretReason: 'dbmodule.secret.fetch_reason',
  secretVersion: 'dbmodule.secret.version_id',
} as const;

/** The counters of IAM work (dbmodule's own, not the conventions'). */
interface IamCounters {
  /** Token signings: each one once, whatever the number of pools sharing the token. */
  readonly refreshes: Counter;
  /** Session openings retried with a new token after the server refused one. */
  readonly retries: Counter;
}

/**
 * The INTERNAL spans of IAM, topology and failover work and the pool metrics of one Database
 * (see {@link InternalTelemetry}).
 */
export class OtelInternalTelemetry implements InternalTelemetry {
  readonly #spans: InternalSpans;
  readonly #pools: PoolMetrics;
  readonly #counters: IamCounters;

  constructor(spans: InternalSpans, meter: Meter, pools: PoolMetrics) {
    this.#spans = spans;
    this.#pools = pools;
    this.#counters = {
      refreshes: meter.createCounter('dbmodule.iam.token.refreshes', { description: 'IAM authentication tokens signed, or failed to sign.', unit: '{refresh}' }),
      retries: meter.createCounter('dbmodule.iam.auth.retries', { description: 'Session openings retried with a new IAM token after the server refused one.', unit: '{retry}' }),
    };
  }

  iam(plan: IamConnectionPlan): IamTelemetry {
    return new OtelIamTelemetry(this.#spans, this.#counters, plan);
  }

  secret(plan: SecretConnectionPlan): SecretTelemetry {
    return new OtelSecretTelemetry(this.#spans, plan);
  }

  cluster(plan: ConnectionPlan): ClusterTelemetry {
    return new OtelClusterTelemetry(this.#spans, this.#pools, plan.name);
  }

  poolOpened(pool: DriverPool, plan: ConnectionPlan, instance: boolean): void {
    this.#pools.register(pool, plan, instance);
  }

  poolClosed(pool: DriverPool): void {
    this.#pools.unregister(pool);
  }

  close(): void {
    this.#pools.close();
  }
}

/**
 * One IAM pool's spans and counters. Its endpoint is the one tokens are signed for (the real RDS
 * endpoint, not the address a tunnel dials); nothing secret is an attribute: no token, no secret
 * key, no session token, at most the last four characters of the access key id.
 */
class OtelIamTelemetry implements IamTelemetry {
  readonly #spans: InternalSpans;
  readonly #counters: IamCounters;
  readonly #spanBase: Attributes;
  readonly #metricBase: Attributes;

  constructor(spans: InternalSpans, counters: IamCounters, plan: IamConnectionPlan) {
    this.#spans = spans;
    this.#counters = counters;
    const { iam } = plan;
    this.#metricBase = { [ATTR.connectionName]: plan.name, [ATTR.serverAddress]: iam.signingHost, [ATTR.serverPort]: iam.signingPort };
    this.#spanBase = { ...this.#metricBase, [INTERNAL_ATTR.iamUser]: iam.user, [INTERNAL_ATTR.cloudRegion]: iam.region };
  }

  /**
   * An `iam.token.sign` span for the refresh `report` describes, made once it ended (the token
   * provider times it), with an `aws.credentials.resolve` child when the refresh resolved
   * credentials; counted in `dbmodule.iam.token.refreshes`. Never throws (it runs in the provider's callback).
   */
  refreshed(report: RefreshReport): void {
    try {
      this.#refreshed(report);
    } catch {
      // telemetry must not break the token lifecycle
    }
  }

  #refreshed(report: RefreshReport): void {
    const spans = this.#spans;
    const signed = report.outcome === 'signed';
    const outcome: Attributes = signed ? { [INTERNAL_ATTR.tokenOutcome]: 'signed' } : { [INTERNAL_ATTR.tokenOutcome]: 'failed', [ATTR.errorType]: report.code ?? '_OTHER' };
    const parent = spans.parent(report.background);
    const span = spans.start(
      SPAN.tokenSign,
      {
        ...this.#spanBase,
        ...outcome,
        [INTERNAL_ATTR.background]: report.background,
        ...(report.credentialSource === undefined ? {} : { [INTERNAL_ATTR.credentialSource]: report.credentialSource }),
        ...(report.accessKeyIdSuffix === undefined ? {} : { [INTERNAL_ATTR.accessKeyIdSuffix]: report.accessKeyIdSuffix }),
        ...(report.attempt === undefined ? {} : { [INTERNAL_ATTR.tokenFailures]: report.attempt }),
      },
      parent,
      report.startedAt,
    );
    if (!signed) spans.fail(span, report.code ?? '_OTHER');
    const resolved = report.credentials;
    if (resolved) {
      const child = spans.start(
        SPAN.credentialsResolve,
        {
          [ATTR.connectionName]: this.#spanBase[ATTR.connectionName],
          [INTERNAL_ATTR.credentialsOutcome]: resolved.code === undefined ? 'resolved' : 'failed',
          ...(resolved.source === undefined ? {} : { [INTERNAL_ATTR.credentialSource]: resolved.source }),
        },
        spans.api.trace.setSpan(parent, span),
        resolved.startedAt,
      );
      if (resolved.code !== undefined) spans.fail(child, resolved.code);
      child.end(resolved.startedAt + resolved.durationMs);
    }
    span.end(report.startedAt + report.durationMs);
    this.#counters.refreshes.add(1, { ...this.#metricBase, ...outcome });
  }

  /**
   * Runs the auth-failure hook (which invalidates the refused token and waits out the backoff) in
   * an `iam.auth.refused` span: `error.type` AUTH_FAILED when the opening tries again with a new
   * token, IAM_AUTH_FAILED when it gives up; a retry counts in `dbmodule.iam.auth.retries`.
   */
  async authFailure(failure: AuthFailure, decide: (failure: AuthFailure) => Promise<AuthFailureDecision>): Promise<AuthFailureDecision> {
    const spans = this.#spans;
    const parent = spans.parent(false);
    const span = spans.start(SPAN.authRefused, { ...this.#spanBase, [INTERNAL_ATTR.authAttempt]: failure.attempt, [ATTR.errorType]: failure.error.code }, parent);
    return spans.run(
      span,
      parent,
      () => decide(failure),
      (decision) => {
        span.setAttribute(INTERNAL_ATTR.authOutcome, decision.retry ? 'retry' : 'gave-up');
        spans.fail(span, decision.retry ? failure.error.code : (decision.error?.code ?? failure.error.code));
        if (decision.retry) this.#counters.retries.add(1, this.#metricBase);
      },
      () => span.setAttribute(INTERNAL_ATTR.authOutcome, 'gave-up'),
    );
  }
}

/**
 * One `secrets_manager` connection's `secret.fetch` spans: the secret's id (a name or ARN, not a
 * value), why it was fetched, the version it brought. A fetch at open or after a refused login
 * is the child of the work that waits for it; a refresh after `secrets_manager.refresh` is
 * background work, a trace of its own.
 */
class OtelSecretTelemetry implements SecretTelemetry {
  readonly #spans: InternalSpans;
  readonly #base: Attributes;

  constructor(spans: InternalSpans, plan: SecretConnectionPlan) {
    this.#spans = spans;
    this.#base = { [ATTR.connectionName]: plan.name, [INTERNAL_ATTR.secretId]: plan.secret.secretId, [INTERNAL_ATTR.cloudRegion]: plan.secret.region };
  }

  fetch<T extends { readonly versionId: string }>(reason: SecretFetchReason, run: () => Promise<T>): Promise<T> {
    const spans = this.#spans;
    const background = reason === 'refresh';
    const parent = spans.parent(background);
    const span = spans.start(SPAN.secretFetch, { ...this.#base, [INTERNAL_ATTR.secretReason]: reason, [INTERNAL_ATTR.background]: background }, parent);
    return spans.run(span, parent, run, (login) => span.setAttribute(INTERNAL_ATTR.secretVersion, login.versionId));
  }
}

/** One connection's topology and failover spans. */
class OtelClusterTelemetry implements ClusterTelemetry {
  readonly #spans: InternalSpans;
  readonly #pools: PoolMetrics;
  readonly #connection: string;

  constructor(spans: InternalSpans, pools: PoolMetrics, connection: string) {
    this.#spans = spans;
    this.#pools = pools;
    this.#connection = connection;
  }

  /** Reads the topology in a `topology.refresh` span: the instances found and the writer's id, or the error's code. */
  topologyRefresh<S extends TopologyReadout>(source: string, background: boolean, read: () => Promise<S>): Promise<S> {
    const spans = this.#spans;
    const parent = spans.parent(background);
    const span = spans.start(SPAN.topologyRefresh, { [ATTR.connectionName]: this.#connection, [INTERNAL_ATTR.topologySource]: source, [INTERNAL_ATTR.background]: background }, parent);
    return spans.run(
      span,
      parent,
      read,
      (snapshot) => {
        const writer = snapshot.instances.find((instance) => instance.role === 'writer');
        span.setAttributes({
          [INTERNAL_ATTR.topologyOutcome]: 'refreshed',
          [INTERNAL_ATTR.topologyInstances]: snapshot.instances.length,
          ...(writer ? { [INTERNAL_ATTR.topologyWriter]: writer.id } : {}),
        });
      },
      () => span.setAttribute(INTERNAL_ATTR.topologyOutcome, 'failed'),
    );
  }

  /**
   * Seeks the new writer in a `writer.failover` span, the root of a trace of its own (linked to
   * the span that saw the writer fail): from and to instance ids, the reason, the outcome.
   */
  failover(start: FailoverStart, seek: () => Promise<DbModuleError | undefined>, writer: () => string): Promise<DbModuleError | undefined> {
    const spans = this.#spans;
    const parent = spans.parent(true);
    const span = spans.start(
      SPAN.failover,
      {
        [ATTR.connectionName]: this.#connection,
        [INTERNAL_ATTR.failoverFrom]: start.from,
        [INTERNAL_ATTR.failoverReason]: start.reason,
        ...(start.code === undefined ? {} : { [INTERNAL_ATTR.failoverTrigger]: start.code }),
      },
      parent,
      undefined,
      spans.linkToActive(),
    );
    return spans.run(
      span,
      parent,
      seek,
      (failure) => {
        if (failure === undefined) {
          span.setAttributes({ [INTERNAL_ATTR.failoverOutcome]: 'completed', [INTERNAL_ATTR.failoverTo]: writer() });
          return;
        }
        // the connection closed while the writer was sought: not the cluster's failure
        if (failure.code === 'DATABASE_CLOSED') {
          span.setAttribute(INTERNAL_ATTR.failoverOutcome, 'closed');
          return;
        }
        span.setAttribute(INTERNAL_ATTR.failoverOutcome, 'failed');
        spans.fail(span, failure.code);
      },
      () => span.setAttribute(INTERNAL_ATTR.failoverOutcome, 'failed'),
    );
  }

  poolClosed(pool: DriverPool): void {
    this.#pools.unregister(pool);
  }
}
