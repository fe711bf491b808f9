import type { Duplex } from 'node:stream';
import {
  buildHandshakeResponse,
  CAP,
  cachingSha2Response,
  nativePasswordResponse,
  packet,
  parseAuthSwitch,
  parseGreeting,
  readPacket,
  type Greeting,
  type HandshakeResponse,
} from './mysql-packets.js';
import { connectTcp, withTimeout, type SocketSet } from './relay.js';
import { ProtocolError, SocketReader } from './socket-reader.js';
import type { UpstreamTarget } from './upstream-url.js';

/** An open connection to the upstream that has sent its greeting. */
export interface UpstreamConnection {
  readonly socket: Duplex;
  readonly reader: SocketReader;
  readonly greeting: Greeting;
}

export type UpstreamLogin =
  | { readonly ok: true; readonly socket: Duplex; readonly okPayload: Buffer; readonly pending: Buffer }
  | { readonly ok: false; readonly errPayload: Buffer };

/** What the emulator never lets a client negotiate, because it relays the session or terminates TLS itself. */
const STRIPPED = CAP.SSL | CAP.COMPRESS | CAP.ZSTD | CAP.MULTI_FACTOR_AUTHENTICATION;

/**
 * The client's capabilities as sent on to the upstream: the same session-phase flags (so the
 * relayed packets mean the same on both sides), without TLS or compression, with plugin auth.
 */
export function relayableCapabilities(clientCapabilities: number): number {
  return ((clientCapabilities & ~STRIPPED) | CAP.PLUGIN_AUTH | CAP.SECURE_CONNECTION) >>> 0;
}

/**
 * The upstream MySQL/MariaDB server: its greeting (probed once, so the emulator can greet
 * clients with the same version and capabilities and relay sessions byte for byte), and logins
 * with the upstream credentials (mysql_native_password, mysql_clear_password, or the
 * caching_sha2_password fast path).
 */
export class MysqlUpstream {
  readonly #target: UpstreamTarget;
  readonly #sockets: SocketSet;
  readonly #timeoutMillis: number;
  #greeting: Promise<Greeting> | undefined;

  constructor(target: UpstreamTarget, sockets: SocketSet, timeoutMillis: number) {
    this.#target = target;
    this.#sockets = sockets;
    this.#timeoutMillis = timeoutMillis;
  }

  get target(): UpstreamTarget {
    return this.#target;
  }

  /**
   * The upstream greeting, as the emulator shows it to clients: capabilities it cannot relay
   * removed, TLS added. Probed with a complete login (an aborted handshake would count against
   * the server's max_connect_errors); a failed probe is retried by the next caller.
   */
  greeting(): Promise<Greeting> {
    this.#greeting ??= this.#probe().catch((error: unknown) => {
      this.#greeting = undefined;
      throw error;
    });
    return this.#greeting;
  }

  /** Connects and reads the greeting; an ERR instead of a greeting (host blocked...) is thrown. */
  async open(): Promise<UpstreamConnection> {
    const socket = this.#sockets.track(await connectTcp(this.#target.host, this.#target.port, this.#timeoutMillis));
    try {
      const reader = new SocketReader(socket);
      const first = await withTimeout(readPacket(reader), this.#timeoutMillis);
      if (first.payload[0] === 0xff) {
        throw new Error(`the upstream refused the connection: ${first.payload.subarray(3).toString('utf8').replace(/^#\w{5}/, '')}`);
      }
      return { socket, reader, greeting: parseGreeting(first.payload) };
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  /**
   * Logs in with the upstream credentials (or as `loginUser` when the URL has no user), with the
   * client's capabilities, character set and attributes so the relayed session matches what
   * the client negotiated, in the client's database (else the URL's).
   */
  async login(client: HandshakeResponse, loginUser: string, connection: UpstreamConnection): Promise<UpstreamLogin> {
    const database = client.database || this.#target.database;
    const capabilities = (relayableCapabilities(client.capabilities) | (database ? CAP.CONNECT_WITH_DB : 0)) >>> 0;
    return this.#authenticate(connection, {
      ...client,
      capabilities,
      user: this.#target.user ?? loginUser,
      database,
      authPlugin: connection.greeting.authPlugin,
      authResponse: this.#authData(connection.greeting.authPlugin, connection.greeting.scramble),
    });
  }

  async #probe(): Promise<Greeting> {
    const connection = await this.open();
    const minimal = CAP.LONG_PASSWORD | CAP.PROTOCOL_41 | CAP.SECURE_CONNECTION | CAP.PLUGIN_AUTH;
    const result = await this.#authenticate(connection, {
      capabilities: minimal | (this.#target.database ? CAP.CONNECT_WITH_DB : 0),
      maxPacket: 16 * 1024 * 1024,
      charset: connection.greeting.charset,
      filler: Buffer.alloc(23),
      user: this.#target.user ?? 'root',
      authResponse: this.#authData(connection.greeting.authPlugin, connection.greeting.scramble),
      database: this.#target.database,
      authPlugin: connection.greeting.authPlugin,
      attributes: undefined,
    });
    if (!result.ok) throw new Error(`the upstream refused the emulator's login: ${result.errPayload.subarray(9).toString('utf8')}`);
    result.socket.end(packet(0, Buffer.from([0x01]))); // COM_QUIT
    const greeting = connection.greeting;
    return { ...greeting, capabilities: ((greeting.capabilities & ~STRIPPED) | CAP.SSL) >>> 0 };
  }

  /** Completes the login within the timeout; the upstream socket is destroyed when it fails. */
  async #authenticate(connection: UpstreamConnection, response: HandshakeResponse): Promise<UpstreamLogin> {
    try {
      return await withTimeout(this.#exchange(connection, response), this.#timeoutMillis);
    } catch (error) {
      connection.socket.destroy();
      throw error;
    }
  }

  async #exchange(connection: UpstreamConnection, response: HandshakeResponse): Promise<UpstreamLogin> {
    const { socket, reader } = connection;
    let seq = 1;
    socket.write(packet(seq, buildHandshakeResponse(response)));
    let plugin = response.authPlugin ?? 'mysql_native_password';
    for (;;) {
      const answer = await readPacket(reader);
      seq = answer.seq + 1;
      const marker = answer.payload[0];
      if (marker === 0x00) return { ok: true, socket, okPayload: answer.payload, pending: reader.detach() };
      if (marker === 0xff) {
        reader.detach();
        socket.destroy();
        return { ok: false, errPayload: answer.payload };
      }
      if (marker === 0xfe) {
        const request = parseAuthSwitch(answer.payload);
        plugin = request.plugin;
        socket.write(packet(seq, this.#authData(plugin, request.data)));
      } else if (marker === 0x01 && plugin === 'caching_sha2_password' && answer.payload[1] === 0x03) {
        continue; // fast authentication succeeded; the OK follows
      } else {
        throw new ProtocolError(`the upstream asks for ${plugin} authentication the emulator cannot complete (use mysql_native_password for the upstream user)`);
      }
    }
  }

  #authData(plugin: string, scramble: Buffer): Buffer {
    const password = this.#target.password;
    if (plugin === 'mysql_native_password') return nativePasswordResponse(password, scramble);
    if (plugin === 'caching_sha2_password') return cachingSha2Response(password, scramble);
    if (plugin === 'mysql_clear_password') return Buffer.from(`${password}\0`, 'utf8');
    throw new ProtocolError(`the upstream asks for the ${plugin} authentication plugin, which the emulator does not speak`);
  }
}
