import type { Duplex } from 'node:stream';
import type { PGlite } from '@electric-sql/pglite';
import { DbModuleError, messageOf } from '../errors.js';
import type { Logger } from '../logging.js';
import { frame, startupMessage } from './pg-messages.js';
import type { PostgresBackend, PostgresLogin } from './postgres-frontend.js';

/** Largest single protocol message a PGlite session accepts. */
const MAX_MESSAGE = 64 * 1024 * 1024;

/**
 * Serves sessions from one embedded PGlite database, so the emulator works with nothing
 * installed. PGlite has a single backend session: client sessions take turns at transaction
 * boundaries (a session holds the database from its first message until PGlite is idle again,
 * outside a transaction), and session state (SET, prepared statements) is shared.
 */
export class PgliteBackend implements PostgresBackend {
  readonly #db: PGlite;
  readonly #greeting: Buffer;
  readonly #logger: Logger;
  #queue: Promise<void> = Promise.resolve();

  private constructor(db: PGlite, greeting: Buffer, logger: Logger) {
    this.#db = db;
    this.#greeting = greeting;
    this.#logger = logger;
  }

  /** Loads PGlite (lazily: it is large) and opens its in-memory database. */
  static async create(logger: Logger): Promise<PgliteBackend> {
    let module: typeof import('@electric-sql/pglite');
    try {
      module = await import('@electric-sql/pglite');
    } catch (error) {
      throw new DbModuleError('DRIVER_NOT_INSTALLED', 'emulator: no PostgreSQL upstream was given and @electric-sql/pglite is not installed', {
        cause: error,
        solutions: ['Install @electric-sql/pglite, or give postgres.upstream (--postgres-upstream URL).'],
      });
    }
    const db = await module.PGlite.create();
    const greeting = Buffer.from(await db.execProtocolRaw(startupMessage(new Map([['user', 'postgres'], ['database', 'template1']]))));
    return new PgliteBackend(db, greeting, logger);
  }

  serve(client: Duplex, pending: Buffer, _login: PostgresLogin): Promise<void> {
    return new PgliteSession(this, client, pending).run();
  }

  async cancel(): Promise<void> {
    // A statement cannot be interrupted inside PGlite's single backend.
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    await this.#db.close().catch((error: unknown) => this.#logger.debug('emulator: closing PGlite failed', { reason: messageOf(error) }));
  }

  get greeting(): Buffer {
    return this.#greeting;
  }

  /** Runs raw protocol messages through PGlite. */
  exec(messages: Buffer): Promise<Buffer> {
    return this.#db.execProtocolRaw(messages).then((out) => Buffer.from(out));
  }

  /** Waits for the database; the returned function hands it to the next session. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.#queue;
    this.#queue = previous.then(() => turn);
    return previous.then(() => release);
  }
}

// --- internal ---

class PgliteSession {
  readonly #backend: PgliteBackend;
  readonly #client: Duplex;
  #buffer: Buffer;
  #release: (() => void) | undefined;
  /** Transaction status of the last ReadyForQuery; undefined while a Sync is outstanding. */
  #status: string | undefined = 'I';
  #draining: Promise<void> | undefined;
  #done = false;
  #finished!: () => void;

  constructor(backend: PgliteBackend, client: Duplex, pending: Buffer) {
    this.#backend = backend;
    this.#client = client;
    this.#buffer = pending;
  }

  /** Serves the client until it leaves; the session always ends through its 'close' event. */
  run(): Promise<void> {
    const finished = new Promise<void>((resolve) => {
      this.#finished = resolve;
    });
    this.#client.write(this.#backend.greeting);
    this.#client.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#pump();
    });
    this.#client.once('close', () => void this.#end());
    if (this.#client.destroyed) void this.#end();
    this.#client.resume();
    this.#pump();
    return finished;
  }

  #pump(): void {
    if (this.#draining || this.#done) return;
    // Paused while PGlite works, so messages are executed in order and never concurrently.
    this.#client.pause();
    this.#draining = this.#drain()
      .catch((error: unknown) => {
        this.#client.destroy(error instanceof Error ? error : undefined);
      })
      .finally(() => {
        this.#draining = undefined;
        if (!this.#done && !this.#client.destroyed) this.#client.resume();
      });
  }

  async #drain(): Promise<void> {
    for (;;) {
      const { messages, terminate } = this.#takeMessages();
      if (messages.length > 0) await this.#execute(Buffer.concat(messages));
      if (terminate) {
        this.#client.end();
        return;
      }
      if (messages.length === 0) return;
    }
  }

  /** Complete messages in the buffer, stopping at Terminate. */
  #takeMessages(): { messages: Buffer[]; terminate: boolean } {
    const messages: Buffer[] = [];
    let offset = 0;
    let terminate = false;
    while (this.#buffer.length - offset >= 5) {
      const length = this.#buffer.readInt32BE(offset + 1);
      if (length < 4 || length > MAX_MESSAGE) throw new Error(`invalid message length ${length}`);
      if (this.#buffer.length - offset < length + 1) break;
      if (this.#buffer[offset] === 0x58) {
        terminate = true;
        offset = this.#buffer.length;
        break;
      }
      messages.push(this.#buffer.subarray(offset, offset + length + 1));
      offset += length + 1;
    }
    this.#buffer = this.#buffer.subarray(offset);
    return { messages, terminate };
  }

  async #execute(messages: Buffer): Promise<void> {
    this.#release ??= await this.#backend.acquire();
    this.#status = undefined;
    const out = await this.#backend.exec(messages);
    if (!this.#client.destroyed) this.#client.write(out);
    this.#status = lastReadyStatus(out);
    if (this.#status === 'I') this.#releaseTurn();
  }

  async #end(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#draining;
      if (this.#release) {
        // Leave PGlite as the next session expects it: no half-done extended query, no open transaction.
        if (this.#status === undefined) this.#status = lastReadyStatus(await this.#backend.exec(frame('S')));
        if (this.#status !== 'I') await this.#backend.exec(frame('Q', Buffer.from('ROLLBACK\0', 'utf8')));
      }
    } catch {
      // PGlite itself failed; the next session will see the same error.
    } finally {
      this.#releaseTurn();
      this.#finished();
    }
  }

  #releaseTurn(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}

/** The status byte of the output's final message when it is ReadyForQuery, else undefined. */
function lastReadyStatus(out: Buffer): string | undefined {
  let offset = 0;
  let last: string | undefined;
  while (offset + 5 <= out.length) {
    const type = out[offset];
    const length = out.readInt32BE(offset + 1);
    last = type === 0x5a && length === 5 && offset + 6 <= out.length ? String.fromCharCode(out[offset + 5] as number) : undefined;
    offset += length + 1;
  }
  return last;
}
