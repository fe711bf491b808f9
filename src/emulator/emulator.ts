import { createServer, type Server, type Socket } from 'node:net';
import { DbModuleError, messageOf } from '../errors.js';
import { silentLogger, type Logger } from '../logging.js';
import { MemoryAuthLog, type AuthLog } from './auth-log.js';
import { startAwsEndpoint, type EmulatedAws } from './aws/server.js';
import { prepareTls, type TlsMaterial } from './certificates.js';
import { startCluster, type EmulatedCluster } from './cluster.js';
import { ShiftableClock } from './clock.js';
import { KeyRegistry } from './key-registry.js';
import { handleMysqlConnection } from './mysql-frontend.js';
import { MysqlUpstream } from './mysql-upstream.js';
import { resolveEmulatorOptions, type EmulatorCredentials, type EmulatorOptions, type ResolvedEndpoint } from './options.js';
import { handlePostgresConnection, type PostgresBackend } from './postgres-frontend.js';
import { PostgresRelayBackend } from './postgres-relay-backend.js';
import { closeServer, listen, SocketSet } from './relay.js';
import type { SessionContext } from './session-context.js';
import { parseUpstreamUrl } from './upstream-url.js';

/** Where one protocol endpoint listens. @public */
export interface EmulatorEndpoint {
  readonly host: string;
  readonly port: number;
  /** The port tokens must be signed for (the listening port unless `advertisedPort` was set). */
  readonly advertisedPort: number;
  /** What serves the sessions: the redacted upstream URL, or `pglite`. */
  readonly backend: string;
}

/**
 * A running RDS IAM endpoint. See {@link startEmulator}.
 * @public
 */
export interface Emulator {
  readonly postgres?: EmulatorEndpoint;
  readonly mysql?: EmulatorEndpoint;
  /** The emulated Aurora cluster, when `cluster` was given. */
  readonly cluster?: EmulatedCluster;
  /** The local Secrets Manager and STS endpoint, when `aws` was given. */
  readonly aws?: EmulatedAws;
  /** The CA certificate file clients must trust (verify-full against the configured hostnames). */
  readonly caFile: string;
  /** The same CA, PEM. */
  readonly caPem: string;
  readonly region: string;
  readonly hostnames: readonly string[];
  /** Every authentication attempt (never the token or its signature). */
  readonly authLog: AuthLog;
  /**
   * Shifts the emulator clock by `seconds` (absolute, not cumulative), e.g. 960 to make 15-minute
   * tokens expire, and with them 15-minute credentials from `aws.sts` (for tokens and AWS requests).
   */
  setClockOffset(seconds: number): void;
  /** Trusts another access key (or replaces one), e.g. temporary credentials with a session token; the AWS endpoint trusts it too. */
  addCredentials(credentials: EmulatorCredentials): void;
  /** Refuses every later token, and every later AWS request, signed with this access key id. */
  revoke(accessKeyId: string): void;
  /** Ends every session, stops listening and removes the generated CA directory. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a local endpoint that authenticates RDS IAM tokens as RDS does (PostgreSQL and/or MySQL
 * protocol, TLS with a generated or given certificate) and relays each authenticated session to
 * a real server, or for PostgreSQL without an upstream to an embedded PGlite database. With `aws`
 * it also serves Secrets Manager and STS over HTTP (`emulator.aws`), trusting the same keys on the
 * same clock, for tests that run the real AWS SDK clients against it.
 *
 * @example
 * ```ts
 * const emulator = await startEmulator({ postgres: { upstream: 'postgresql://postgres@127.0.0.1:5432/app' }, credentials: [{ accessKeyId, secretAccessKey }] });
 * // sign a token for localhost:<emulator.postgres.port> and connect with ssl.ca = readFileSync(emulator.caFile)
 * await emulator.close();
 * ```
 * @public
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const resolved = resolveEmulatorOptions(options);
  const postgresTarget = resolved.postgres?.upstream ? parseUpstreamUrl(resolved.postgres.upstream, 'postgres') : undefined;
  const mysqlTarget = resolved.mysql?.upstream ? parseUpstreamUrl(resolved.mysql.upstream, 'mysql') : undefined;
  const logger = options.logger ?? silentLogger;
  const sockets = new SocketSet();
  const socketSets = new Set([sockets]);
  const keys = new KeyRegistry(resolved.credentials);
  const clock = new ShiftableClock(resolved.clock);
  const authLog = new MemoryAuthLog();
  const servers: Server[] = [];
  let tls: TlsMaterial | undefined;
  let postgresBackend: PostgresBackend | undefined;
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = Promise.all(servers.map(closeServer));
      for (const set of socketSets) set.destroyAll();
      await stopped;
      await postgresBackend?.close().catch(() => {});
      await tls?.cleanup().catch(() => {});
    })();
    return closing;
  };

  if (keys.size === 0) logger.warn('emulator: no AWS credentials configured; every token is refused until addCredentials()', {});
  try {
    tls = await prepareTls(resolved.hostnames, resolved.tls, resolved.caFile);
    const context: SessionContext = {
      region: resolved.region,
      hostnames: resolved.hostnames,
      keys,
      clock,
      clockSkewSeconds: resolved.clockSkewSeconds,
      isIamUser: resolved.isIamUser,
      authLog,
      sockets,
      handshakeTimeoutMillis: resolved.handshakeTimeoutMillis,
      tls: tls.identity,
      logger,
    };
    let postgres: EmulatorEndpoint | undefined;
    let mysql: EmulatorEndpoint | undefined;
    if (resolved.postgres) {
      const backend: PostgresBackend = postgresTarget
        ? new PostgresRelayBackend(postgresTarget, sockets, resolved.handshakeTimeoutMillis, logger)
        : await createPgliteBackend(logger);
      postgresBackend = backend;
      const { port, advertisedPort } = await serve(servers, 'postgres', resolved.postgres, resolved.listen, (socket, advertised) => handlePostgresConnection(socket, context, backend, advertised));
      postgres = { host: resolved.listen, port, advertisedPort, backend: postgresTarget?.redacted ?? 'pglite' };
    }
    if (resolved.mysql && mysqlTarget) {
      const upstream = new MysqlUpstream(mysqlTarget, sockets, resolved.handshakeTimeoutMillis);
      // Probed now so a wrong upstream shows at start-up; clients retry the probe if it failed.
      upstream.greeting().catch((error: unknown) => logger.warn('emulator: the MySQL upstream is not usable yet', { upstream: mysqlTarget.redacted, reason: messageOf(error) }));
      const { port, advertisedPort } = await serve(servers, 'mysql', resolved.mysql, resolved.listen, (socket, advertised) => handleMysqlConnection(socket, context, upstream, advertised));
      mysql = { host: resolved.listen, port, advertisedPort, backend: mysqlTarget.redacted };
    }
    const aws = resolved.aws && (await startAwsEndpoint({ ...resolved.aws, listen: resolved.listen, region: resolved.region, keys, clock, sockets, logger }, servers));
    for (const server of servers) server.on('error', (error) => logger.error('emulator: listener error', { reason: messageOf(error) }));
    // after the loop above: the cluster's listeners have their own error handlers
    const cluster = resolved.cluster && (await startCluster(resolved.cluster, { session: context, listen: resolved.listen, socketSets, servers }));
    const material = tls;
    return {
      ...(postgres ? { postgres } : {}),
      ...(mysql ? { mysql } : {}),
      ...(cluster ? { cluster } : {}),
      ...(aws ? { aws } : {}),
      caFile: material.caFile,
      caPem: material.caPem,
      region: resolved.region,
      hostnames: resolved.hostnames,
      authLog,
      setClockOffset: (seconds) => clock.setOffset(seconds),
      addCredentials: (credentials) => keys.add(credentials),
      revoke: (accessKeyId) => keys.revoke(accessKeyId),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

// --- internal ---

/** Listens for one endpoint and hands each connection to `handle` (which never rejects). */
async function serve(
  servers: Server[],
  name: string,
  endpoint: ResolvedEndpoint,
  host: string,
  handle: (socket: Socket, advertisedPort: number) => Promise<void>,
): Promise<{ port: number; advertisedPort: number }> {
  const server = createServer({ noDelay: true });
  servers.push(server);
  let port: number;
  try {
    port = await listen(server, endpoint.port, host);
  } catch (error) {
    throw new DbModuleError('CONNECT_FAILED', `emulator: the ${name} endpoint cannot listen on ${host}:${endpoint.port}: ${messageOf(error)}`, {
      cause: error,
      solutions: [`Choose another ${name} port (0 picks a free one) or listen address.`],
    });
  }
  const advertisedPort = endpoint.advertisedPort ?? port;
  server.on('connection', (socket: Socket) => void handle(socket, advertisedPort).catch(() => socket.destroy()));
  return { port, advertisedPort };
}

async function createPgliteBackend(logger: Logger): Promise<PostgresBackend> {
  const { PgliteBackend } = await import('./pglite-backend.js');
  return PgliteBackend.create(logger);
}
