import { ProtocolError, type SocketReader } from './socket-reader.js';

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
export const PROTOCOL_3_0 = 196608;

/** PostgreSQL's own limit on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET = 10_000;

/** Reads a startup-phase packet (no type byte); returns its body after the length. */
export async function readStartupPacket(reader: SocketReader): Promise<Buffer> {
  const length = (await reader.read(4)).readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_PACKET) throw new ProtocolError(`invalid startup packet length ${length}`);
  return reader.read(length - 4);
}

/** Reads one typed message, refusing bodies above `maxBody` bytes. */
export async function readMessage(reader: SocketReader, maxBody: number): Promise<{ type: string; body: Buffer; raw: Buffer }> {
  const header = await reader.read(5);
  const length = header.readInt32BE(1);
  if (length < 4 || length - 4 > maxBody) throw new ProtocolError(`invalid message length ${length}`);
  const body = await reader.read(length - 4);
  return { type: String.fromCharCode(header[0] as number), body, raw: Buffer.concat([header, body]) };
}

/** The key/value pairs of a StartupMessage body (after the protocol version). */
export function parseStartupParameters(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let offset = 4;
  for (;;) {
    const end = body.indexOf(0, offset);
    if (end === -1) throw new ProtocolError('startup packet is not NUL-terminated');
    if (end === offset) break;
    const key = body.toString('utf8', offset, end);
    const valueEnd = body.indexOf(0, end + 1);
    if (valueEnd === -1) throw new ProtocolError('startup parameter has no value');
    params.set(key, body.toString('utf8', end + 1, valueEnd));
    offset = valueEnd + 1;
  }
  return params;
}

/** The body of a PasswordMessage: a NUL-terminated string. */
export function passwordFromMessage(body: Buffer): string {
  const end = body.indexOf(0);
  return body.toString('utf8', 0, end === -1 ? body.length : end);
}

export function frame(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

export function int32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(value);
  return out;
}

export function cstring(value: string): Buffer {
  return Buffer.concat([Buffer.from(value, 'utf8'), Buffer.from([0])]);
}

export function authenticationRequest(code: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  return frame('R', Buffer.concat([int32(code), extra]));
}

export interface ErrorFields {
  readonly severity: 'FATAL' | 'ERROR';
  readonly code: string;
  readonly message: string;
  readonly routine?: string;
}

/** An ErrorResponse as the server sends it (S, V, C, M and, for auth failures, R). */
export function errorResponse(fields: ErrorFields): Buffer {
  const parts = [
    ['S', fields.severity],
    ['V', fields.severity],
    ['C', fields.code],
    ['M', fields.message],
    ...(fields.routine ? [['R', fields.routine]] : []),
  ];
  return frame('E', Buffer.concat([...parts.map(([tag, value]) => Buffer.concat([Buffer.from(tag as string, 'latin1'), cstring(value as string)])), Buffer.from([0])]));
}

/** Tells a client asking for 3.x (x > 0) or `_pq_` options what this server speaks. */
export function negotiateProtocolVersion(unrecognized: readonly string[]): Buffer {
  return frame('v', Buffer.concat([int32(PROTOCOL_3_0), int32(unrecognized.length), ...unrecognized.map(cstring)]));
}

export function startupMessage(params: ReadonlyMap<string, string>): Buffer {
  const body = Buffer.concat([int32(PROTOCOL_3_0), ...[...params].flatMap(([key, value]) => [cstring(key), cstring(value)]), Buffer.from([0])]);
  return Buffer.concat([int32(body.length + 4), body]);
}

/** The message fields (M, C) of an ErrorResponse body, for diagnostics. */
export function errorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const end = body.indexOf(0, offset + 1);
    if (end === -1) break;
    fields.set(String.fromCharCode(body[offset] as number), body.toString('utf8', offset + 1, end));
    offset = end + 1;
  }
  return fields;
}
