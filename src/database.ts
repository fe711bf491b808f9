import { envVariable, isResolvedConfig, validateConfig } from './config/index.js';
import { formatDuration } from './config/duration.js';
import { planConnection, usesIam, usesSecret, type ConnectionPlan } from './config/plan.js';
import type { ConnectionConfig, DatabaseConfig, DriverName } from './config/types.js';
import { DriverConnection, type Connection, type LastError } from './connection.js';
import { loadDriver } from './drivers/index.js';
import { systemClock, type Clock, type DriverPool, type PoolStats } from './drivers/types.js';
import { ConnectionError, DbModuleError, messageOf } from './errors.js';
import type { AwsCredentialIdentity, AwsCredentialProvider, TokenState } from './iam/types.js';
import { SharedTokenProviders } from './iam/shared-providers.js';
import type { IamConnectionAuth } from './iam-connection.js';
import type { SecretConnectionAuth } from './secret-connection.js';
import type { SecretState } from './secrets/types.js';
import type { Topology } from './cluster/types.js';
import { DatabaseEventEmitter, type DatabaseEventListener, type DatabaseEventName } from './events.js';
import { toLogger, type Logger, type LoggerLike } from './logging.js';
import { migrationSettings } from './migrations/settings.js';
import type { Migrator } from './migrations/migrator.js';
import type { MigrateOptions, MigrationRun, MigrationStatus, RollbackOptions } from './migrations/types.js';
import { telemetryOptions, type TelemetrySetting } from './telemetry/options.js';
import type { DatabaseTelemetry } from './telemetry/types.js';

/** @public */
export interface CreateDatabaseOptions {
  /** pino-, console- or dbmodule-style logger. Default: logfmt on stderr at `DBMODULE_LOG_LEVEL`. */
  logger?: LoggerLike;
  /** Aborts opening: pools already opened are closed. */
  signal?: AbortSignal;
  /** Time source for pool lifetimes and token expiry; tests pass a controllable one. */
  clock?: Clock;
  /** AWS credentials (or a provider) for IAM connections. Default: the AWS SDK default credential chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialProvider;
  /**
   * OpenTelemetry spans and metrics (DESIGN §11): `true`, or the providers to use (default: the
   * global ones); `false` turns them off. Default: the configuration's `telemetry.enabled`.
   * Needs `@opentelemetry/api`, loaded only when telemetry is on.
   */
  telemetry?: TelemetrySetting;
}

/** @public */
export interface ConnectionHealth {
  name: string;
  driver: DriverName;
  /** The connection's plan target, redacted: `postgres://app@db.example.com:5432/app`. */
  target: string;
  ok: boolean;
  latencyMs: number;
  pool: PoolStats;
  error?: { code: string; message: string };
  /** The last connection-level failure seen on this connection, even if it has recovered since. */
  lastError?: LastError;
  /** IAM connections: the token's state (source, age, expiry, credential source and key id suffix). */
  token?: TokenState;
  /** `secrets_manager` connections: the secret's state (id, version, fetch time; never a value). */
  secret?: SecretState;
  /** Cluster connections: the topology as last refreshed (a failed refresh shows as `refreshError`). */
  topology?: Topology;
}

/** @public */
export interface HealthReport {
  ok: boolean;
  checkedAt: string;
  connections: Record<string, ConnectionHealth>;
}

/**
 * Named connections opened from a configuration. Created by {@link createDatabase}.
 * @public
 */
export class Database {
  readonly names: string[];
  readonly defaultName: string;
  readonly config: DatabaseConfig;
  readonly #connections: ReadonlyMap<string, Connection>;
  readonly #events: DatabaseEventEmitter;
  readonly #logger: Logger;
  readonly #telemetry: DatabaseTelemetry | undefined;
  #closing: Promise<void> | undefined;

  /** @internal */
  constructor(config: DatabaseConfig, connections: ReadonlyMap<string, Connection>, events: DatabaseEventEmitter, logger: Logger, telemetry?: DatabaseTelemetry) {
    this.config = config;
    this.names = [...connections.keys()];
    this.defaultName = config.default;
    this.#connections = connections;
    this.#events = events;
    this.#logger = logger;
    this.#telemetry = telemetry;
  }

  /** The named connection, or the default one. Unknown names throw `CONNECTION_NOT_FOUND` listing the known names. */
  connection(name: string = this.defaultName): Connection {
    const connection = this.#connections.get(name);
    if (!connection) {
      throw new DbModuleError('CONNECTION_NOT_FOUND', `no connection named "${name}"; known connections: ${this.names.join(', ')}`, {
        connection: name,
        solutions: [`Use one of: ${this.names.join(', ')}`, `Or define it: connections.${name}.dsn in the config file, or ${envVariable(name, ['dsn'])}`],
      });
    }
    return connection;
  }

  /** Pings every connection (each within its `connection_timeout`) and reports latency, pool counters and errors. */
  async health(): Promise<HealthReport> {
    const entries = await Promise.all([...this.#connections.values()].map(checkHealth));
    return {
      ok: entries.every((entry) => entry.ok),
      checkedAt: new Date().toISOString(),
      connections: Object.fromEntries(entries.map((entry) => [entry.name, entry])),
    };
  }

  /**
   * Applies the pending migrations of connection `name` (default: the default connection) in
   * version order, up to `to`, under a lock that lets one process at a time migrate (DESIGN §10).
   */
  async migrate(name?: string, options: MigrateOptions = {}): Promise<MigrationRun> {
    return (await this.#migrator(name)).migrate(options);
  }

  /** Reverts the last `steps` (default 1) applied migrations, newest first, with their down migrations. */
  async rollback(name?: string, options: RollbackOptions = {}): Promise<MigrationRun> {
    return (await this.#migrator(name)).rollback(options);
  }

  /** Every migration of the directory and the history table, applied or pending; takes no lock, changes nothing. */
  async migrationStatus(name?: string): Promise<MigrationStatus> {
    return (await this.#migrator(name)).status();
  }

  /** Like {@link migrationStatus}; fails with `MIGRATION_CHECKSUM` when an applied migration's file changed since. */
  async verifyMigrations(name?: string): Promise<MigrationStatus> {
    return (await this.#migrator(name)).verify();
  }

  /** Marks `version` applied and clean and forgets every version above it, running nothing (after repairing a dirty migration by hand). */
  async forceMigrationVersion(version: string | number | bigint, name?: string): Promise<MigrationStatus> {
    return (await this.#migrator(name)).force(version);
  }

  async #migrator(name?: string): Promise<Migrator> {
    const connection = this.connection(name);
    const { Migrator } = await import('./migrations/migrator.js');
    return new Migrator({
      connection: connection.name,
      driver: connection.driver,
      settings: migrationSettings(this.config, connection.name),
      events: this.#events,
      logger: this.#logger,
      holdSession: (fn) => connection.holdSession(fn),
    });
  }

  on<E extends DatabaseEventName>(event: E, listener: DatabaseEventListener<E>): this {
    this.#events.on(event, listener);
    return this;
  }

  once<E extends DatabaseEventName>(event: E, listener: DatabaseEventListener<E>): this {
    this.#events.once(event, listener);
    return this;
  }

  off<E extends DatabaseEventName>(event: E, listener: DatabaseEventListener<E>): this {
    this.#events.off(event, listener);
    return this;
  }

  /**
   * Drains in-flight work (at most `timeoutMs`, default 30 s), then closes every pool.
   * Idempotent: later calls return the same promise.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    // the pool metrics stop once the pools are closed (the SDK no longer calls back into them)
    this.#closing ??= closeAll([...this.#connections.values()], options.timeoutMs).finally(() => this.#telemetry?.internal.close());
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Validates the configuration (a raw object is validated like a file), opens every pool and
 * pings every connection within its `connection_timeout`. If one fails, the pools already
 * opened are closed and a `DbModuleError` naming the connection and the cause is thrown.
 * Startup events (`config.loaded`, `connected`) are delivered on the next turn of the event
 * loop, so listeners attached right after `await createDatabase(...)` receive them.
 * @public
 */
export async function createDatabase(config: DatabaseConfig | object, options: CreateDatabaseOptions = {}): Promise<Database> {
  const resolved = isResolvedConfig(config) ? config : validateConfig(config, { source: 'object' });
  const logger = toLogger(options.logger);
  const clock = options.clock ?? systemClock;
  const events = new DatabaseEventEmitter((error, event) => logger.error('Event listener threw', { event, error: messageOf(error) }));
  for (const warning of resolved.warnings) logger.warn(warning);
  const telemetry = await openTelemetry(options.telemetry, resolved);

  const tokenProviders = new SharedTokenProviders();
  const opening = Object.values(resolved.connections).map((connection) =>
    openConnection(connection, { logger, clock, events, signal: options.signal, credentials: options.credentials, tokenProviders, ...(telemetry ? { telemetry } : {}) }),
  );
  const settled = await Promise.allSettled(opening);
  const opened = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) {
    await Promise.allSettled(opened.map(({ connection }) => connection.close(0)));
    telemetry?.internal.close();
    throw failure.reason;
  }

  const connections = new Map(opened.map(({ connection }) => [connection.name, connection]));
  const database = new Database(resolved, connections, events, logger, telemetry);
  for (const connection of connections.values()) {
    if (!connection.config.migrations?.run_on_start) continue;
    try {
      await database.migrate(connection.name);
    } catch (error) {
      await database.close({ timeoutMs: 0 });
      throw error;
    }
  }
  setImmediate(() => {
    events.emit('config.loaded', { connection: resolved.default, connections: [...connections.keys()], default: resolved.default });
    for (const { connection, durationMs } of opened) {
      events.emit('connected', { connection: connection.name, driver: connection.driver, durationMs });
    }
  });
  return database;
}

/** The Database's telemetry when it is on; `@opentelemetry/api` and dbmodule's telemetry code are loaded only then. */
async function openTelemetry(option: TelemetrySetting | undefined, config: DatabaseConfig): Promise<DatabaseTelemetry | undefined> {
  const options = telemetryOptions(option, config.telemetry);
  if (!options) return undefined;
  const { OtelDatabaseTelemetry } = await import('./telemetry/telemetry.js');
  return OtelDatabaseTelemetry.open(options);
}

/** What opening a connection needs besides the connection itself. */
export interface OpenContext {
  logger: Logger;
  clock: Clock;
  events: DatabaseEventEmitter;
  signal: AbortSignal | undefined;
  credentials: CreateDatabaseOptions['credentials'];
  /** The Database's IAM token providers, one per signing endpoint and user. */
  tokenProviders?: SharedTokenProviders;
  /** Spans and metrics, when telemetry is on. */
  telemetry?: DatabaseTelemetry;
}

/**
 * Opens one connection from its settings (resolved here, once) or from a plan already resolved
 * (`check` opens the plan it reports). IAM code, and the AWS SDK behind it, is loaded only when
 * the connection uses IAM.
 */
export async function openConnection(source: ConnectionConfig | ConnectionPlan, context: OpenContext): Promise<{ connection: Connection; durationMs: number }> {
  const { logger, signal } = context;
  const started = performance.now();
  const settings = 'settings' in source ? source.settings : source;
  throwIfAborted(signal, settings.name);
  const iamModule = settings.aws_iam_auth.enabled ? await import('./iam-connection.js') : undefined;
  const plan = 'settings' in source ? source : iamModule ? iamModule.planIamConnection(source, logger, context.credentials) : planConnection(source);
  const config = plan.settings;
  const fields = { connection: plan.name, driver: plan.driver, dsn: plan.target };
  logger.debug('Opening connection pool', { ...fields, max_open: config.max_open_connections, max_idle: config.max_idle_connections });

  let opened: OpenedDriverPool;
  let secret: SecretConnectionAuth | undefined;
  try {
    // one secret per connection, shared by the pools of its cluster instances and replicas
    secret = await openSecret(plan, context);
    opened = await openDriverPool(plan, context, iamModule, false, secret);
  } catch (error) {
    secret?.close();
    throw error instanceof DbModuleError && error.connection === undefined
      ? new DbModuleError(error.code, `connection "${plan.name}": ${error.message}`, { ...error, connection: plan.name, cause: error })
      : error;
  }
  const { pool, driver, iam } = opened;
  const connection = new DriverConnection(plan, pool, driver.dialect, context.events, { iam, secret }) as Connection;
  try {
    logger.debug('Testing database connection', { connection: config.name, timeout: formatDuration(config.connection_timeout) });
    await abortable(connection.ping(), signal, config.name);
    const telemetry = context.telemetry ? await abortable(context.telemetry.connection(plan, pool, logger), signal, config.name) : undefined;
    if (telemetry) connection.attachTelemetry(telemetry);
    if (plan.cluster) {
      const { ClusterRouting } = await import('./cluster/cluster.js');
      const cluster = await abortable(
        ClusterRouting.open({
          plan: { ...plan, cluster: plan.cluster },
          writerPool: pool,
          writer: connection,
          runner: connection,
          routingPool: driver.routingPool,
          // an instance's native pool is lent to ORMs too (the cluster's routing pool checks out from it)
          openPool: async (instance) => {
            const opened = await openDriverPool(instance, context, iamModule, true, secret);
            telemetry?.traceLent(opened.pool);
            return opened;
          },
          events: context.events,
          logger,
          clock: context.clock,
          ...(context.telemetry ? { telemetry: context.telemetry.internal.cluster(plan) } : {}),
        }),
        signal,
        config.name,
      );
      if (cluster) connection.attachCluster(cluster);
    }
  } catch (error) {
    await connection.close(0).catch(() => {});
    const failure = error instanceof DbModuleError ? error : new ConnectionError('CONNECT_FAILED', `connection "${config.name}": ${messageOf(error)}`, { connection: config.name, cause: error });
    logger.error(pingFailureMessage(failure.code, iam !== undefined), {
      ...fields,
      code: failure.code,
      error: failure.message,
      timeout: formatDuration(config.connection_timeout),
      ...(iam ? { region: iam.state().region } : {}),
      ...(failure.possibleCauses.length > 0 ? { possible_causes: failure.possibleCauses } : {}),
    });
    context.events.emit('connection.error', { connection: config.name, driver: config.driver, code: failure.code, message: failure.message, operation: 'connect' });
    throw failure;
  }
  const durationMs = performance.now() - started;
  logger.info('Database connection test successful', { ...fields, duration_ms: Math.round(durationMs) });
  return { connection, durationMs };
}

/** A driver pool for one plan (the connection's, or an instance's), with its IAM token lifecycle. */
interface OpenedDriverPool {
  readonly pool: DriverPool;
  readonly driver: Awaited<ReturnType<typeof loadDriver>>;
  readonly iam: IamConnectionAuth | undefined;
  close(): Promise<void>;
}

/**
 * The login lifecycle of a `secrets_manager` connection, its secret fetched once before any
 * session opens (a secret that cannot be read fails the opening with its own error); undefined
 * for other connections. The Secrets Manager code and SDK client load only for such a connection.
 */
async function openSecret(plan: ConnectionPlan, context: OpenContext): Promise<SecretConnectionAuth | undefined> {
  if (!usesSecret(plan)) return undefined;
  const { createSecretConnectionAuth } = await import('./secret-connection.js');
  const telemetry = context.telemetry?.internal.secret(plan);
  const secret = createSecretConnectionAuth({
    plan,
    logger: context.logger,
    clock: context.clock,
    emit: (event, payload) => context.events.emit(event, payload),
    credentials: context.credentials,
    ...(telemetry ? { telemetry } : {}),
  });
  try {
    await abortable(secret.ready(), context.signal, plan.name);
  } catch (error) {
    secret.close();
    throw error;
  }
  return secret;
}

/**
 * `instance`: the pool of a cluster instance or a replica (its metrics name it `name/host:port`),
 * not the connection's own. `secret`: the connection's, for a `secrets_manager` connection.
 */
async function openDriverPool(
  plan: ConnectionPlan,
  context: OpenContext,
  iamModule: typeof import('./iam-connection.js') | undefined,
  instance = false,
  secret?: SecretConnectionAuth,
): Promise<OpenedDriverPool> {
  const telemetry = context.telemetry?.internal;
  const iam = iamModule && usesIam(plan)
    ? iamModule.createIamConnectionAuth({
        plan,
        logger: context.logger,
        clock: context.clock,
        emit: (event, payload) => context.events.emit(event, payload),
        ...(context.credentials ? { credentials: context.credentials } : {}),
        ...(context.tokenProviders ? { shared: context.tokenProviders } : {}),
        ...(telemetry ? { telemetry: telemetry.iam(plan) } : {}),
      })
    : undefined;
  try {
    const driver = await loadDriver(plan.driver);
    const pool = await driver.createPool({
      plan,
      logger: context.logger,
      clock: context.clock,
      ...(iam ? { password: iam.password, currentPassword: iam.currentPassword, onAuthFailure: iam.onAuthFailure } : {}),
      ...(secret ? { login: secret.login, onAuthFailure: secret.onAuthFailure } : {}),
    });
    context.telemetry?.registerPool(pool, plan);
    telemetry?.poolOpened(pool, plan, instance);
    return {
      pool,
      driver,
      iam,
      close: async () => {
        telemetry?.poolClosed(pool);
        try {
          await pool.close();
        } finally {
          iam?.close();
        }
      },
    };
  } catch (error) {
    iam?.close();
    throw error;
  }
}

/** The seed's log line: credentials that cannot be resolved are its "AWS configuration" category. */
function pingFailureMessage(code: string, iam: boolean): string {
  if (!iam) return 'Database ping failed';
  return code === 'AWS_CREDENTIALS_UNAVAILABLE' ? 'Failed to load AWS configuration' : 'Database ping failed with IAM authentication';
}

async function checkHealth(connection: Connection): Promise<ConnectionHealth> {
  const started = performance.now();
  let error: ConnectionHealth['error'];
  try {
    await connection.ping();
  } catch (failure) {
    error = { code: failure instanceof DbModuleError ? failure.code : 'CONNECT_FAILED', message: messageOf(failure) };
  }
  const health: ConnectionHealth = {
    name: connection.name,
    driver: connection.driver,
    target: connection.plan.target,
    ok: error === undefined,
    latencyMs: performance.now() - started,
    pool: connection.stats(),
  };
  if (error) health.error = error;
  if (connection.lastError) health.lastError = connection.lastError;
  const token = connection.tokenState();
  if (token) health.token = token;
  const secret = connection.secretState();
  if (secret) health.secret = secret;
  const topology = connection.topology();
  if (topology) health.topology = topology;
  return health;
}

async function closeAll(connections: Connection[], timeoutMs?: number): Promise<void> {
  const results = await Promise.allSettled(connections.map((connection) => connection.close(timeoutMs)));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
}

function throwIfAborted(signal: AbortSignal | undefined, connection: string): void {
  if (signal?.aborted) {
    throw new ConnectionError('CONNECT_FAILED', `connection "${connection}": opening was aborted`, { connection, cause: signal.reason, retryable: true });
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, connection: string): Promise<T> {
  if (!signal) return promise;
  throwIfAborted(signal, connection);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ConnectionError('CONNECT_FAILED', `connection "${connection}": opening was aborted`, { connection, cause: signal.reason, retryable: true }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
