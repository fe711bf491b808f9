import net from 'node:net';

/** What a test saw of the TCP sockets this process opened to one port. */
export interface SocketRecorder {
  /** Every socket connected to the port since recording started. */
  readonly sockets: readonly net.Socket[];
  /** The last setKeepAlive call on each socket: enabled and initial delay (ms). */
  readonly keepAlive: ReadonlyMap<net.Socket, { enable: boolean; initialDelay: number }>;
  /** Sockets not fully closed yet (a half-closed socket still counts). */
  open(): net.Socket[];
  stop(): void;
}

type Connect = (this: net.Socket, ...args: unknown[]) => net.Socket;
type SetKeepAlive = (this: net.Socket, enable?: boolean, initialDelay?: number) => net.Socket;

/** The port a `socket.connect(...)` call targets, in any of its argument forms. */
function portOf(args: unknown[]): number | undefined {
  // net.connect() passes its normalised arguments as one array
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) return Number(first);
  if (typeof first === 'object' && first !== null && 'port' in first) return Number((first as { port: unknown }).port);
  return undefined;
}

/**
 * Records the sockets opened to `port` by anything in this process (pg, mysql2, a cancel
 * request), by wrapping `net.Socket.prototype.connect` and `setKeepAlive` until `stop()`:
 * the independent view of whether a driver really closed a socket or turned keepalive on.
 */
export function recordSockets(port: number): SocketRecorder {
  const proto = net.Socket.prototype as unknown as { connect: Connect; setKeepAlive: SetKeepAlive };
  const connect = proto.connect;
  const setKeepAlive = proto.setKeepAlive;
  const sockets: net.Socket[] = [];
  const keepAlive = new Map<net.Socket, { enable: boolean; initialDelay: number }>();
  proto.connect = function (this: net.Socket, ...args: unknown[]) {
    if (portOf(args) === port) sockets.push(this);
    return connect.apply(this, args);
  };
  proto.setKeepAlive = function (this: net.Socket, enable = false, initialDelay = 0) {
    if (sockets.includes(this)) keepAlive.set(this, { enable, initialDelay });
    return setKeepAlive.call(this, enable, initialDelay);
  };
  return {
    sockets,
    keepAlive,
    open: () => sockets.filter((socket) => !socket.closed),
    stop: () => {
      proto.connect = connect;
      proto.setKeepAlive = setKeepAlive;
    },
  };
}
