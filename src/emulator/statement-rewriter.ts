import { Transform, type TransformCallback } from 'node:stream';

/** Rewrites one SQL statement's text (the same text when it has nothing to change). */
export type SqlRewrite = (sql: string) => string;

/**
 * The client-to-server half of a PostgreSQL session after startup, message by message: the SQL
 * of Query ('Q') and Parse ('P') messages goes through `rewrite`; everything else passes as is.
 */
export function postgresStatementRewriter(rewrite: SqlRewrite): Transform {
  return new FramedRewriter(
    (buffer) => (buffer.length < 5 ? undefined : 1 + buffer.readUInt32BE(1)),
    (frame) => {
      const type = frame[0];
      if (type === 0x51 /* Q */) return pgMessage(type, rewriteCString(frame.subarray(5), 0, rewrite));
      if (type === 0x50 /* P */) {
        const body = frame.subarray(5);
        const sqlStart = body.indexOf(0) + 1;
        return pgMessage(type, Buffer.concat([body.subarray(0, sqlStart), rewriteCString(body, sqlStart, rewrite)]));
      }
      return frame;
    },
  );
}

/**
 * The client-to-server half of a MySQL session in the command phase, packet by packet: the SQL
 * of COM_QUERY and COM_STMT_PREPARE goes through `rewrite`. Packets of a payload split at 16 MB
 * pass as they are.
 */
export function mysqlStatementRewriter(rewrite: SqlRewrite): Transform {
  let continuing = false;
  return new FramedRewriter(
    (buffer) => (buffer.length < 4 ? undefined : 4 + buffer.readUIntLE(0, 3)),
    (frame) => {
      const length = frame.readUIntLE(0, 3);
      const split = continuing || length === MAX_PAYLOAD;
      continuing = length === MAX_PAYLOAD;
      const command = frame[4];
      if (split || (command !== COM_QUERY && command !== COM_STMT_PREPARE)) return frame;
      const sql = frame.subarray(5).toString('utf8');
      const rewritten = rewrite(sql);
      if (rewritten === sql) return frame;
      const payload = Buffer.concat([Buffer.from([command]), Buffer.from(rewritten, 'utf8')]);
      if (payload.length >= MAX_PAYLOAD) return frame;
      const header = Buffer.alloc(4);
      header.writeUIntLE(payload.length, 0, 3);
      header[3] = frame[3]!;
      return Buffer.concat([header, payload]);
    },
  );
}

// --- internal ---

const MAX_PAYLOAD = 0xffffff;
const COM_QUERY = 0x03;
const COM_STMT_PREPARE = 0x16;

/** Cuts the stream into frames (`frameLength` of the buffered bytes, undefined until known) and maps each. */
class FramedRewriter extends Transform {
  readonly #frameLength: (buffer: Buffer) => number | undefined;
  readonly #mapFrame: (frame: Buffer) => Buffer;
  #buffered: Buffer = Buffer.alloc(0);

  constructor(frameLength: (buffer: Buffer) => number | undefined, mapFrame: (frame: Buffer) => Buffer) {
    super();
    this.#frameLength = frameLength;
    this.#mapFrame = mapFrame;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let buffer = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    try {
      for (;;) {
        const length = this.#frameLength(buffer);
        if (length === undefined || buffer.length < length) break;
        this.push(this.#mapFrame(buffer.subarray(0, length)));
        buffer = buffer.subarray(length);
      }
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.#buffered = buffer;
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#buffered.length > 0) this.push(this.#buffered);
    callback();
  }
}

/** The NUL-terminated string at `start` of `body`, rewritten, with what follows it. */
function rewriteCString(body: Buffer, start: number, rewrite: SqlRewrite): Buffer {
  const end = body.indexOf(0, start);
  if (end < 0) return body.subarray(start);
  const sql = body.subarray(start, end).toString('utf8');
  const rewritten = rewrite(sql);
  if (rewritten === sql) return body.subarray(start);
  return Buffer.concat([Buffer.from(rewritten, 'utf8'), body.subarray(end)]);
}

function pgMessage(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
