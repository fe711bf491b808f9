import type { Duplex } from 'node:stream';
import { messageOf } from '../errors.js';
import type { Logger } from '../logging.js';
import { endWith, reject, type PostgresBackend, type PostgresLogin } from './postgres-frontend.js';
import { connectPostgresUpstream, loginPostgresUpstream, relayCancel } from './postgres-upstream.js';
import { relay, type SocketSet } from './relay.js';
import { postgresStatementRewriter, type SqlRewrite } from './statement-rewriter.js';
import type { UpstreamTarget } from './upstream-url.js';

/**
 * Serves sessions from a real PostgreSQL: IAM logins are logged in with the upstream
 * credentials, passthrough logins are forwarded as they came (the server checks the password),
 * then every message passes through untouched.
 */
export class PostgresRelayBackend implements PostgresBackend {
  readonly #target: UpstreamTarget;
  readonly #sockets: SocketSet;
  readonly #timeoutMillis: number;
  readonly #logger: Logger;

  readonly #rewrite: SqlRewrite | undefined;

  /** `rewrite`: the statements of every session pass through it (a cluster instance's topology answers). */
  constructor(target: UpstreamTarget, sockets: SocketSet, timeoutMillis: number, logger: Logger, rewrite?: SqlRewrite) {
    this.#rewrite = rewrite;
    this.#target = target;
    this.#sockets = sockets;
    this.#timeoutMillis = timeoutMillis;
    this.#logger = logger;
  }

  async serve(client: Duplex, pending: Buffer, login: PostgresLogin): Promise<void> {
    let upstream: Duplex;
    let greeting: Buffer = Buffer.alloc(0);
    try {
      if (login.kind === 'passthrough') {
        const connection = await connectPostgresUpstream(this.#target, this.#sockets, this.#timeoutMillis);
        upstream = connection.socket;
        greeting = connection.reader.detach();
        upstream.write(login.startupPacket);
      } else {
        const result = await loginPostgresUpstream(this.#target, this.upstreamParameters(login.params), this.#sockets, this.#timeoutMillis);
        if (!result.ok) {
          // The upstream's own error says why (database does not exist...): forward it as is.
          await endWith(client, result.errorResponse);
          return;
        }
        ({ socket: upstream, greeting } = result);
      }
    } catch (error) {
      this.#logger.warn('emulator: cannot open the upstream PostgreSQL session', { upstream: this.#target.redacted, reason: messageOf(error) });
      await reject(client, { severity: 'FATAL', code: '08001', message: `emulator: cannot reach the upstream server ${this.#target.host}:${this.#target.port}: ${messageOf(error)}` });
      return;
    }
    await relay(client, upstream, { toClient: greeting, toUpstream: pending }, this.#rewrite && postgresStatementRewriter(this.#rewrite));
  }

  async cancel(packet: Buffer): Promise<void> {
    await relayCancel(this.#target, packet, this.#sockets, this.#timeoutMillis).catch((error: unknown) => {
      this.#logger.debug('emulator: cannot relay a cancel request', { reason: messageOf(error) });
    });
  }

  async close(): Promise<void> {}

  /** The client's parameters, as the upstream user, in the client's database (else the URL's). */
  private upstreamParameters(params: ReadonlyMap<string, string>): Map<string, string> {
    const out = new Map(params);
    const loginUser = params.get('user') ?? '';
    out.set('user', this.#target.user ?? loginUser);
    out.set('database', params.get('database') || this.#target.database || loginUser);
    return out;
  }
}
