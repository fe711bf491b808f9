import type { Duplex } from 'node:stream';

/** The peer closed the connection or sent something the protocol forbids. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/**
 * Reads exact byte counts from a socket during a handshake. Bytes that arrive before they are
 * asked for are buffered (at most `maxBuffered`); `detach` hands them back so a relay can
 * forward them first.
 */
export class SocketReader {
  readonly #socket: Duplex;
  readonly #maxBuffered: number;
  #chunks: Buffer[] = [];
  #length = 0;
  #closed: Error | undefined;
  #waiter: { size: number; resolve: (data: Buffer) => void; reject: (error: Error) => void } | undefined;

  constructor(socket: Duplex, maxBuffered = 1024 * 1024) {
    this.#socket = socket;
    this.#maxBuffered = maxBuffered;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
  }

  /** Resolves with exactly `size` bytes, or rejects when the peer goes away first. */
  read(size: number): Promise<Buffer> {
    if (this.#waiter) return Promise.reject(new Error('SocketReader: concurrent reads'));
    if (this.#length >= size) return Promise.resolve(this.#take(size));
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      this.#waiter = { size, resolve, reject };
    });
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.#length;
  }

  /** Stops reading; returns the bytes received and not yet read. The socket is left paused. */
  detach(): Buffer {
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onError);
    this.#socket.pause();
    const rest = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#length = 0;
    this.#fail(new ProtocolError('reader detached'));
    return rest;
  }

  #take(size: number): Buffer {
    const all = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
    const out = all.subarray(0, size);
    const rest = all.subarray(size);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#length = rest.length;
    return out;
  }

  #fail(error: Error): void {
    this.#closed ??= error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(error);
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    if (this.#length > this.#maxBuffered) {
      this.#fail(new ProtocolError(`more than ${this.#maxBuffered} unread bytes during the handshake`));
      this.#socket.destroy();
      return;
    }
    const waiter = this.#waiter;
    if (waiter && this.#length >= waiter.size) {
      this.#waiter = undefined;
      waiter.resolve(this.#take(waiter.size));
    }
  };

  readonly #onEnd = (): void => this.#fail(new ProtocolError('the peer closed the connection'));
  readonly #onError = (error: Error): void => this.#fail(error);
}
