import { createHash, randomBytes } from 'node:crypto';
import { ProtocolError, type SocketReader } from './socket-reader.js';

/** Capability flags the emulator reads or changes. */
export const CAP = {
  LONG_PASSWORD: 1,
  CONNECT_WITH_DB: 8,
  COMPRESS: 32,
  PROTOCOL_41: 512,
  SSL: 2048,
  SECURE_CONNECTION: 32768,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  ZSTD: 1 << 26,
  MULTI_FACTOR_AUTHENTICATION: 1 << 28,
} as const;

export const ER_ACCESS_DENIED = 1045;
export const ER_UNKNOWN_ERROR = 1105;

/** Handshake packets are small; a token with a session token is a few KB. */
export const MAX_HANDSHAKE_PAYLOAD = 64 * 1024;

export interface Packet {
  readonly seq: number;
  readonly payload: Buffer;
}

/** Reads one packet (3-byte length, sequence id, payload), refusing payloads over `maxPayload`. */
export async function readPacket(reader: SocketReader, maxPayload = MAX_HANDSHAKE_PAYLOAD): Promise<Packet> {
  const header = await reader.read(4);
  const length = header.readUIntLE(0, 3);
  if (length > maxPayload) throw new ProtocolError(`packet of ${length} bytes during the handshake`);
  return { seq: header[3] as number, payload: await reader.read(length) };
}

export function packet(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq & 0xff;
  return Buffer.concat([header, payload]);
}

/** Initial Handshake (protocol 10). */
export interface Greeting {
  readonly serverVersion: string;
  readonly connectionId: number;
  readonly scramble: Buffer;
  readonly capabilities: number;
  readonly charset: number;
  readonly status: number;
  /** The 10 reserved bytes; MariaDB keeps its extended capabilities in the last 4. */
  readonly reserved: Buffer;
  readonly authPlugin: string;
}

export function parseGreeting(payload: Buffer): Greeting {
  const cursor = new Cursor(payload);
  if (cursor.u8() !== 10) throw new ProtocolError('the server greeting is not protocol 10');
  const serverVersion = cursor.cstring();
  const connectionId = cursor.u32();
  const part1 = cursor.bytes(8);
  cursor.skip(1);
  let capabilities = cursor.u16();
  const charset = cursor.u8();
  const status = cursor.u16();
  capabilities = (capabilities | (cursor.u16() << 16)) >>> 0;
  const dataLength = cursor.u8();
  const reserved = cursor.bytes(10);
  const part2 = capabilities & CAP.SECURE_CONNECTION ? cursor.bytes(Math.max(13, dataLength - 8)) : Buffer.alloc(0);
  const authPlugin = capabilities & CAP.PLUGIN_AUTH ? cursor.cstringOrRest() : 'mysql_native_password';
  const scramble = Buffer.concat([part1, part2]).subarray(0, 20);
  return { serverVersion, connectionId, scramble, capabilities, charset, status, reserved, authPlugin };
}

export function buildGreeting(greeting: Greeting): Buffer {
  const middle = Buffer.alloc(21);
  middle.writeUInt32LE(greeting.connectionId >>> 0, 0);
  greeting.scramble.copy(middle, 4, 0, 8);
  middle.writeUInt16LE(greeting.capabilities & 0xffff, 13);
  middle.writeUInt8(greeting.charset, 15);
  middle.writeUInt16LE(greeting.status, 16);
  middle.writeUInt16LE(greeting.capabilities >>> 16, 18);
  middle.writeUInt8(21, 20);
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from(`${greeting.serverVersion}\0`, 'latin1'),
    middle,
    greeting.reserved,
    greeting.scramble.subarray(8, 20),
    Buffer.from([0]),
    Buffer.from(`${greeting.authPlugin}\0`, 'latin1'),
  ]);
}

/** HandshakeResponse41 (or the SSLRequest prefix of it). */
export interface HandshakeResponse {
  readonly capabilities: number;
  readonly maxPacket: number;
  readonly charset: number;
  /** The 23 filler bytes; MariaDB clients put extended capabilities in the last 4. */
  readonly filler: Buffer;
  readonly user: string;
  readonly authResponse: Buffer;
  readonly database: string | undefined;
  readonly authPlugin: string | undefined;
  /** The connection attributes, length prefix included, to pass on untouched. */
  readonly attributes: Buffer | undefined;
}

export const SSL_REQUEST_LENGTH = 32;

export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const cursor = new Cursor(payload);
  const capabilities = cursor.u32();
  if (!(capabilities & CAP.PROTOCOL_41)) throw new ProtocolError('the client does not speak protocol 4.1');
  const maxPacket = cursor.u32();
  const charset = cursor.u8();
  const filler = cursor.bytes(23);
  const user = cursor.cstring();
  let authResponse: Buffer;
  if (capabilities & CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = cursor.bytes(cursor.lenenc());
  else if (capabilities & CAP.SECURE_CONNECTION) authResponse = cursor.bytes(cursor.u8());
  else authResponse = Buffer.from(cursor.cstring(), 'utf8');
  const database = capabilities & CAP.CONNECT_WITH_DB && !cursor.done ? cursor.cstring() : undefined;
  const authPlugin = capabilities & CAP.PLUGIN_AUTH && !cursor.done ? cursor.cstringOrRest() : undefined;
  let attributes: Buffer | undefined;
  if (capabilities & CAP.CONNECT_ATTRS && !cursor.done) {
    const start = cursor.offset;
    const length = cursor.lenenc();
    cursor.skip(length);
    attributes = payload.subarray(start, cursor.offset);
  }
  return { capabilities, maxPacket, charset, filler, user, authResponse, database, authPlugin, attributes };
}

export function buildHandshakeResponse(response: HandshakeResponse): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt32LE(response.capabilities >>> 0, 0);
  head.writeUInt32LE(response.maxPacket >>> 0, 4);
  head.writeUInt8(response.charset, 8);
  const auth =
    response.capabilities & CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA
      ? Buffer.concat([lenenc(response.authResponse.length), response.authResponse])
      : Buffer.concat([Buffer.from([response.authResponse.length]), response.authResponse]);
  return Buffer.concat([
    head,
    response.filler,
    Buffer.from(`${response.user}\0`, 'utf8'),
    auth,
    response.capabilities & CAP.CONNECT_WITH_DB ? Buffer.from(`${response.database ?? ''}\0`, 'utf8') : Buffer.alloc(0),
    response.capabilities & CAP.PLUGIN_AUTH ? Buffer.from(`${response.authPlugin ?? 'mysql_native_password'}\0`, 'latin1') : Buffer.alloc(0),
    response.capabilities & CAP.CONNECT_ATTRS ? (response.attributes ?? lenenc(0)) : Buffer.alloc(0),
  ]);
}

export function errPacket(errno: number, sqlState: string, message: string): Buffer {
  const head = Buffer.alloc(3);
  head.writeUInt8(0xff, 0);
  head.writeUInt16LE(errno, 1);
  return Buffer.concat([head, Buffer.from(`#${sqlState}`, 'latin1'), Buffer.from(message, 'utf8')]);
}

export function authSwitchRequest(plugin: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${plugin}\0`, 'latin1'), data]);
}

/** The auth data of an AuthSwitchRequest payload. */
export function parseAuthSwitch(payload: Buffer): { plugin: string; data: Buffer } {
  const end = payload.indexOf(0, 1);
  if (end === -1) return { plugin: payload.toString('latin1', 1), data: Buffer.alloc(0) };
  const data = payload.subarray(end + 1);
  return { plugin: payload.toString('latin1', 1, end), data: data.at(-1) === 0 ? data.subarray(0, -1) : data };
}

/** mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
export function nativePasswordResponse(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha('sha1', Buffer.from(password, 'utf8'));
  const stage2 = sha('sha1', Buffer.concat([scramble.subarray(0, 20), sha('sha1', stage1)]));
  return xor(stage1, stage2);
}

/** caching_sha2_password fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble). */
export function cachingSha2Response(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha('sha256', Buffer.from(password, 'utf8'));
  return xor(stage1, sha('sha256', Buffer.concat([sha('sha256', stage1), scramble.subarray(0, 20)])));
}

/** 20 printable bytes, as servers make their scrambles. */
export function newScramble(): Buffer {
  return Buffer.from(randomBytes(20).map((byte) => 0x21 + (byte % 94)));
}

export function lenenc(value: number): Buffer {
  if (value < 251) return Buffer.from([value]);
  if (value < 0x10000) {
    const out = Buffer.alloc(3);
    out[0] = 0xfc;
    out.writeUInt16LE(value, 1);
    return out;
  }
  const out = Buffer.alloc(4);
  out[0] = 0xfd;
  out.writeUIntLE(value, 1, 3);
  return out;
}

// --- internal ---

function sha(algorithm: 'sha1' | 'sha256', data: Buffer): Buffer {
  return createHash(algorithm).update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((byte, i) => byte ^ (b[i] as number)));
}

/** Bounds-checked reads: a truncated packet is a ProtocolError, never a RangeError deep in a session. */
class Cursor {
  offset = 0;
  constructor(private readonly data: Buffer) {}

  get done(): boolean {
    return this.offset >= this.data.length;
  }

  #need(count: number): void {
    if (this.offset + count > this.data.length) throw new ProtocolError('truncated packet');
  }

  u8(): number {
    this.#need(1);
    return this.data.readUInt8(this.offset++);
  }

  u16(): number {
    this.#need(2);
    const value = this.data.readUInt16LE(this.offset);
    this.offset += 2;
    return value;
  }

  u32(): number {
    this.#need(4);
    const value = this.data.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  bytes(count: number): Buffer {
    this.#need(count);
    const out = this.data.subarray(this.offset, this.offset + count);
    this.offset += count;
    return out;
  }

  skip(count: number): void {
    this.bytes(count);
  }

  lenenc(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.bytes(3).readUIntLE(0, 3);
    if (first === 0xfe) {
      const value = Number(this.bytes(8).readBigUInt64LE(0));
      if (value > MAX_HANDSHAKE_PAYLOAD) throw new ProtocolError('length-encoded integer too large');
      return value;
    }
    throw new ProtocolError('invalid length-encoded integer');
  }

  cstring(): string {
    const end = this.data.indexOf(0, this.offset);
    if (end === -1) throw new ProtocolError('unterminated string');
    const value = this.data.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }

  /** A NUL-terminated string, or the rest of the packet when the NUL is missing (old servers). */
  cstringOrRest(): string {
    const end = this.data.indexOf(0, this.offset);
    const stop = end === -1 ? this.data.length : end;
    const value = this.data.toString('utf8', this.offset, stop);
    this.offset = stop + 1;
    return value;
  }
}
