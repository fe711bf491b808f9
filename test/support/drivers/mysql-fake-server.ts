/**
 * A minimal MySQL protocol server for what MariaDB here cannot do: ask for mysql_clear_password
 * (RDS IAM users, PAM) and offer TLS with a chosen certificate. It fakes the network peer only;
 * the client is the real mysql2. Just enough protocol: HandshakeV10, SSLRequest + TLS upgrade,
 * AuthSwitchRequest, OK/ERR, COM_QUERY answered with one row, COM_QUIT.
 */
import net from 'node:net';
import tls from 'node:tls';

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_TRANSACTIONS = 0x2000;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;

function packet(sequence: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequence & 0xff;
  return Buffer.concat([header, payload]);
}

function handshake(connectionId: number, withTls: boolean): Buffer {
  const flags = CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | (withTls ? CLIENT_SSL : 0);
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let at = 0;
  at = fixed.writeUInt32LE(connectionId, at);
  at += Buffer.from('abcdefgh').copy(fixed, at);
  at = fixed.writeUInt8(0, at);
  at = fixed.writeUInt16LE(flags & 0xffff, at);
  at = fixed.writeUInt8(45, at);
  at = fixed.writeUInt16LE(0x0002, at);
  at = fixed.writeUInt16LE(flags >>> 16, at);
  fixed.writeUInt8(21, at);
  return Buffer.concat([Buffer.from([10]), Buffer.from('8.0.99-fake\0'), fixed, Buffer.from('ijklmnopqrst\0'), Buffer.from('mysql_native_password\0')]);
}

const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);

function errorPacket(errno: number, sqlState: string, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(errno, 1);
  return Buffer.concat([head, Buffer.from(`#${sqlState}${message}`)]);
}

function lenenc(text: string): Buffer {
  const bytes = Buffer.from(text);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** The result of `SELECT 1`: one BIGINT column named "1" with value 1 (text protocol, EOF-terminated). */
function oneRowResult(firstSequence: number): Buffer[] {
  const column = Buffer.concat([
    lenenc('def'),
    lenenc(''),
    lenenc(''),
    lenenc(''),
    lenenc('1'),
    lenenc('1'),
    Buffer.from([0x0c, 0x3f, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x81, 0x00, 0x00, 0x00, 0x00]),
  ]);
  const eof = Buffer.from([0xfe, 0x00, 0x00, 0x02, 0x00]);
  let sequence = firstSequence;
  return [Buffer.from([1]), column, eof, lenenc('1'), eof].map((payload) => packet(sequence++, payload));
}

export interface FakeServerOptions {
  /** Offer TLS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Switch authentication to mysql_clear_password and accept only this password. */
  clearPassword?: () => string;
}

export interface FakeServer {
  port: number;
  /** Cleartext passwords received, in order. */
  passwords: string[];
  close(): Promise<void>;
}

/**
 * Reads whole packets from a socket, one callback per packet. A callback returning a function
 * takes the socket over: packet reading stops and the function gets the bytes already read
 * past that packet (the TLS ClientHello often arrives in the same chunk as the SSLRequest).
 */
function onPackets(socket: net.Socket | tls.TLSSocket, handle: (sequence: number, payload: Buffer) => ((rest: Buffer) => void) | void): void {
  let buffered = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUIntLE(0, 3);
      if (buffered.length < 4 + length) return;
      const sequence = buffered[3] ?? 0;
      const payload = buffered.subarray(4, 4 + length);
      buffered = buffered.subarray(4 + length);
      const takeOver = handle(sequence, payload);
      if (takeOver) {
        socket.off('data', onData);
        takeOver(buffered);
        return;
      }
    }
  };
  socket.on('data', onData);
}

export async function startFakeServer(options: FakeServerOptions): Promise<FakeServer> {
  const passwords: string[] = [];
  const sockets = new Set<net.Socket>();
  let nextId = 100;
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    raw.write(packet(0, handshake(nextId++, options.tls !== undefined)));
    const serve = (socket: net.Socket | tls.TLSSocket): void => {
      let stage: 'response' | 'clear' | 'command' = 'response';
      onPackets(socket, (sequence, payload) => {
        if (stage === 'response') {
          if (options.tls && socket === raw && payload.length === 32) {
            // SSLRequest: everything after it is TLS.
            const { cert, key } = options.tls;
            return (rest) => {
              raw.pause();
              if (rest.length > 0) raw.unshift(rest);
              const secure = new tls.TLSSocket(raw, { isServer: true, cert, key });
              secure.on('error', () => raw.destroy());
              serve(secure);
            };
          }
          if (options.clearPassword) {
            stage = 'clear';
            socket.write(packet(sequence + 1, Buffer.concat([Buffer.from([0xfe]), Buffer.from('mysql_clear_password\0'), Buffer.from('abcdefghijklmnopqrst\0')])));
            return;
          }
          stage = 'command';
          socket.write(packet(sequence + 1, OK));
          return;
        }
        if (stage === 'clear') {
          const received = payload.toString('utf8').replace(/\0$/, '');
          passwords.push(received);
          if (received === options.clearPassword?.()) {
            stage = 'command';
            socket.write(packet(sequence + 1, OK));
          } else {
            socket.end(packet(sequence + 1, errorPacket(1045, '28000', "Access denied for user 'iam_user'@'127.0.0.1' (using password: YES)")));
          }
          return;
        }
        if (payload[0] === 0x01) return void socket.end();
        if (payload[0] === 0x03) for (const part of oneRowResult(1)) socket.write(part);
        else socket.write(packet(1, OK));
      });
    };
    serve(raw);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake server has no TCP address');
  return {
    port: address.port,
    passwords,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
