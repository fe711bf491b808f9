import net from 'node:net';

/** Where the proxy forwards to. */
export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

/** How `dropAll` ends the connections: a FIN (`end`) or a TCP reset (`reset`). */
export type DropMode = 'end' | 'reset';

/** Which way a partition holds data: both ways, or only the server's answers (what the client sent still arrives). */
export type Partition = 'both' | 'answers';

/**
 * A loopback TCP proxy between a client and a database server whose faults are switched at
 * run time. Every fault applies to connections already open and to new ones.
 */
export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** Client connections open through the proxy now. */
  readonly openConnections: number;
  /** Client connections accepted since the proxy started. */
  readonly accepted: number;
  /** Closes every open connection on both sides; resolves once every socket is closed. */
  dropAll(mode?: DropMode): Promise<void>;
  /** Stops listening: new connections get ECONNREFUSED (the port stays reserved for `accept`). */
  refuse(): Promise<void>;
  /** Listens again on the same port after `refuse`. */
  accept(): Promise<void>;
  /** Delays every chunk, both directions, by `ms` (order kept). 0 removes the delay. */
  setLatency(ms: number): void;
  /**
   * A network partition: connections are still accepted, but nothing crosses either way (or,
   * with `'answers'`, nothing comes back from the server), not even a FIN or a reset; data is
   * held, as a stalled network holds it.
   */
  blackhole(partition?: Partition): void;
  /** Chunks held by the partition now: sent by clients, and answered by the server. */
  readonly held: { readonly fromClients: number; readonly fromServer: number };
  /** Ends a blackhole: what was held goes through, in order (latency stays as set). */
  restore(): void;
  /** Drops everything and stops listening for good. */
  close(): Promise<void>;
}

interface Faults {
  latencyMs: number;
  partition: Partition | undefined;
}

/** The lane carrying what clients send (0) or what the server answers (1). */
type Direction = 0 | 1;

function holds(faults: Faults, direction: Direction): boolean {
  return faults.partition === 'both' || (faults.partition === 'answers' && direction === 1);
}

type Item = { kind: 'data'; chunk: Buffer; due: number } | { kind: 'end'; due: number };

/** One direction of one connection: chunks (and the FIN) go out in order, after the latency, unless held. */
class Lane {
  readonly #to: net.Socket;
  readonly #faults: Faults;
  readonly #direction: Direction;
  readonly #queue: Item[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(to: net.Socket, faults: Faults, direction: Direction) {
    this.#to = to;
    this.#faults = faults;
    this.#direction = direction;
  }

  get held(): number {
    return holds(this.#faults, this.#direction) ? this.#queue.length : 0;
  }

  push(chunk: Buffer): void {
    this.#queue.push({ kind: 'data', chunk, due: Date.now() + this.#faults.latencyMs });
    this.flush();
  }

  end(): void {
    this.#queue.push({ kind: 'end', due: Date.now() + this.#faults.latencyMs });
    this.flush();
  }

  flush(): void {
    if (holds(this.#faults, this.#direction) || this.#timer) return;
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.flush();
        }, wait);
        return;
      }
      this.#queue.shift();
      if (this.#to.destroyed) continue;
      if (head.kind === 'data') this.#to.write(head.chunk);
      else this.#to.end();
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }
}

class Pipe {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly closed: Promise<void>;
  readonly #lanes: readonly [Lane, Lane];
  readonly #faults: Faults;
  /** A side failed or closed while the network was partitioned: the other side learns of it on restore. */
  #teardownHeld = false;

  constructor(client: net.Socket, target: ProxyTarget, faults: Faults) {
    this.client = client;
    this.#faults = faults;
    this.upstream = net.connect({ port: target.port, host: target.host, allowHalfOpen: true });
    const upstream = this.upstream;
    this.#lanes = [new Lane(upstream, faults, 0), new Lane(client, faults, 1)];
    this.closed = Promise.all([closedOf(client), closedOf(upstream)]).then(() => {});
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.#lanes[0].push(chunk));
    upstream.on('data', (chunk: Buffer) => this.#lanes[1].push(chunk));
    client.on('end', () => this.#lanes[0].end());
    upstream.on('end', () => this.#lanes[1].end());
    const lost = () => this.#lost();
    client.on('error', lost).on('close', lost);
    upstream.on('error', lost).on('close', lost);
  }

  heldOn(direction: Direction): number {
    return this.#lanes[direction].held;
  }

  /** Lets held data (and held teardowns) through. */
  release(): void {
    for (const lane of this.#lanes) lane.flush();
    if (this.#teardownHeld) this.destroy();
  }

  destroy(mode: DropMode = 'end'): void {
    for (const lane of this.#lanes) lane.stop();
    if (mode === 'reset') this.client.resetAndDestroy();
    else this.client.destroy();
    this.upstream.destroy();
  }

  #lost(): void {
    // one side gone: the other follows, as with a server (or a client) that went away; a
    // partition hides that too
    if (this.#faults.partition) this.#teardownHeld = true;
    else this.destroy();
  }
}

/**
 * Starts a {@link FaultProxy} on 127.0.0.1 (an ephemeral port) in front of `target`.
 * Server-side faults (terminating backends, restarting a server) are the test's own business.
 */
export async function startFaultProxy(target: ProxyTarget): Promise<FaultProxy> {
  const faults: Faults = { latencyMs: 0, partition: undefined };
  const pipes = new Set<Pipe>();
  let accepted = 0;
  let port = 0;
  let listener: net.Server | undefined;

  const onConnection = (client: net.Socket): void => {
    accepted++;
    const pipe = new Pipe(client, target, faults);
    pipes.add(pipe);
    void pipe.closed.then(() => pipes.delete(pipe));
  };

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      // half-open: a client's FIN is forwarded (or held) like data, not answered by the proxy itself
      const server = net.createServer({ allowHalfOpen: true }, onConnection);
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as net.AddressInfo).port;
        listener = server;
        resolve();
      });
    });

  const stopListening = (): void => {
    // close() stops accepting at once; connections already open stay up
    listener?.close();
    listener = undefined;
  };

  const dropAll = async (mode: DropMode = 'end'): Promise<void> => {
    const closing = [...pipes].map((pipe) => {
      pipe.destroy(mode);
      return pipe.closed;
    });
    await Promise.all(closing);
  };

  await listen();
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    get openConnections() {
      return pipes.size;
    },
    get accepted() {
      return accepted;
    },
    dropAll,
    refuse: async () => stopListening(),
    accept: async () => {
      if (!listener) await listen();
    },
    setLatency: (ms) => {
      faults.latencyMs = Math.max(0, ms);
    },
    get held() {
      const count = (direction: Direction) => [...pipes].reduce((sum, pipe) => sum + pipe.heldOn(direction), 0);
      return { fromClients: count(0), fromServer: count(1) };
    },
    blackhole: (partition = 'both') => {
      faults.partition = partition;
    },
    restore: () => {
      faults.partition = undefined;
      for (const pipe of pipes) pipe.release();
    },
    close: async () => {
      stopListening();
      faults.partition = undefined;
      await dropAll();
    },
  };
}

function closedOf(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.closed) resolve();
    else socket.once('close', () => resolve());
  });
}
