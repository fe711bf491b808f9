import { connect as netConnect, type Server, type Socket } from 'node:net';
import type { Duplex, Transform } from 'node:stream';

/**
 * Every socket the emulator holds (clients, TLS wrappers, upstreams), so `close()` can end them
 * all. Tracked sockets always have an error listener: a peer that resets never crashes the process.
 */
export class SocketSet {
  readonly #sockets = new Set<Duplex>();
  #closed = false;

  track<T extends Duplex>(socket: T): T {
    socket.on('error', ignore);
    if (this.#closed) {
      socket.destroy();
      return socket;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    return socket;
  }

  get size(): number {
    return this.#sockets.size;
  }

  /** Ends every socket and every later one. */
  destroyAll(): void {
    this.#closed = true;
    this.resetAll();
  }

  /** Ends every socket held now; later ones are tracked as usual (an instance that went down and comes back). */
  resetAll(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

/**
 * Joins an authenticated client to its server: bytes already read on either side are written
 * first, then everything passes through untouched until one side goes away, the client's through
 * `rewriter` when there is one (a cluster instance answering Aurora's topology statements).
 */
export function relay(client: Duplex, upstream: Duplex, pending: { toUpstream?: Buffer; toClient?: Buffer } = {}, rewriter?: Transform): Promise<void> {
  return new Promise((resolve) => {
    let open = 2;
    const finish = (): void => {
      open -= 1;
      if (open === 0) resolve();
    };
    if (pending.toClient && pending.toClient.length > 0) client.write(pending.toClient);
    const toUpstream = rewriter ?? upstream;
    if (rewriter) {
      rewriter.on('error', () => (client.destroy(), upstream.destroy()));
      rewriter.pipe(upstream);
    }
    if (pending.toUpstream && pending.toUpstream.length > 0) toUpstream.write(pending.toUpstream);
    client.pipe(toUpstream);
    upstream.pipe(client);
    for (const [side, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      side.on('error', () => other.destroy());
      side.once('close', () => {
        // end() flushes what the closed side sent last (an ErrorResponse, say), then closes.
        if (!other.destroyed) {
          other.end();
          setTimeout(() => other.destroy(), 2000).unref();
        }
        finish();
      });
    }
    client.resume();
    upstream.resume();
  });
}

/** Starts listening; rejects with the listen error (port in use, bad address). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Closes a server and resolves once it stopped listening, whatever its state. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

/** Connects, rejecting after `timeoutMillis`. */
export function connectTcp(host: string, port: number, timeoutMillis: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connecting to ${host}:${port} timed out after ${timeoutMillis} ms`));
    }, timeoutMillis);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/** Rejects if `promise` has not settled within `millis`. */
export function withTimeout<T>(promise: Promise<T>, millis: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the upstream within ${millis} ms`)), millis);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function ignore(): void {}
