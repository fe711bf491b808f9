import net from 'node:net';

/** Where the proxy forwards to. */
export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

/** How `dropAll` ends the connections: a FIN (`end`) or a TCP reset (`reset`). */
export type DropMode = 'end' | 'reset';

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
  /** Accepts connections but forwards nothing either way; data is held, as a stalled network holds it. */
  blackhole(): void;
  /** Ends a blackhole: held data flows again (latency stays as set). */
  restore(): void;
  /** Drops everything and stops listening for good. */
  close(): Promise<void>;
}

/** One direction of one connection: chunks go out in order, after the latency, unless held. */
class Lane {
  readonly #to: net.Socket;
  readonly #faults: Faults;
  readonly #queue: Array<{ chunk: Buffer; due: number }> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(to: net.Socket, faults: Faults) {
    this.#to = to;
    this.#faults = faults;
  }

  push(chunk: Buffer): void {
    this.#queue.push({ chunk, due: Date.now() + this.#faults.latencyMs });
    this.flush();
  }

  flush(): void {
    if (this.#faults.blackholed || this.#timer) return;
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
      if (!this.#to.destroyed) this.#to.write(head.chunk);
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }
}

interface Faults {
  latencyMs: number;
  blackholed: boolean;
}

interface Pipe {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly lanes: readonly [Lane, Lane];
  readonly closed: Promise<void>;
}

/**
 * Starts a {@link FaultProxy} on 127.0.0.1 (an ephemeral port) in front of `target`.
 * Server-side faults (terminating backends, restarting a server) are the test's own business.
 */
export async function startFaultProxy(target: ProxyTarget): Promise<FaultProxy> {
  const faults: Faults = { latencyMs: 0, blackholed: false };
  const pipes = new Set<Pipe>();
  let accepted = 0;
  let port = 0;
  let listener: net.Server | undefined;

  const onConnection = (client: net.Socket): void => {
    accepted++;
    const upstream = net.connect(target.port, target.host);
    const lanes = [new Lane(upstream, faults), new Lane(client, faults)] as const;
    const closed = Promise.all([once(client, 'close'), once(upstream, 'close')]).then(() => {});
    const pipe: Pipe = { client, upstream, lanes, closed };
    pipes.add(pipe);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => lanes[0].push(chunk));
    upstream.on('data', (chunk: Buffer) => lanes[1].push(chunk));
    // one side gone: the other follows, as a server (or a client) that went away
    const teardown = () => {
      lanes[0].stop();
      lanes[1].stop();
      client.destroy();
      upstream.destroy();
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    void closed.then(() => pipes.delete(pipe));
  };

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const server = net.createServer(onConnection);
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as net.AddressInfo).port;
        listener = server;
        resolve();
      });
    });

  const stopListening = async (): Promise<void> => {
    const server = listener;
    listener = undefined;
    if (!server) return;
    // close() stops accepting at once; its callback waits for open connections, which stay up
    await new Promise<void>((resolve) => {
      server.close();
      resolve();
    });
  };

  const dropAll = async (mode: DropMode = 'end'): Promise<void> => {
    const closing = [...pipes].map((pipe) => {
      pipe.lanes[0].stop();
      pipe.lanes[1].stop();
      if (mode === 'reset') pipe.client.resetAndDestroy();
      else pipe.client.destroy();
      pipe.upstream.destroy();
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
    refuse: stopListening,
    accept: async () => {
      if (!listener) await listen();
    },
    setLatency: (ms) => {
      faults.latencyMs = Math.max(0, ms);
    },
    blackhole: () => {
      faults.blackholed = true;
    },
    restore: () => {
      faults.blackholed = false;
      for (const pipe of pipes) for (const lane of pipe.lanes) lane.flush();
    },
    close: async () => {
      await stopListening();
      await dropAll();
    },
  };
}

function once(socket: net.Socket, event: 'close'): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed && socket.closed) resolve();
    else socket.once(event, () => resolve());
  });
}
