/**
 * DNS for a client that dials RDS names itself (the AWS wrapper): while installed, a TCP connect
 * to `name:port` that `resolve` knows goes to the local address it gives instead. It stands in for
 * what AWS's DNS would answer; dbmodule needs none of it (`cluster.instance_addresses`).
 */

import net from 'node:net';

type Resolve = (endpoint: { readonly host: string; readonly port: number }) => string | undefined;

/** Routes connects to the endpoints `resolve` knows; returns what uninstalls it. */
export function installEndpointDns(resolve: Resolve): () => void {
  const connect = net.Socket.prototype.connect;
  const where = (host: unknown, port: unknown): { host: string; port: number } | undefined => {
    const address = typeof host === 'string' ? resolve({ host, port: Number(port) }) : undefined;
    if (!address) return undefined;
    const colon = address.lastIndexOf(':');
    return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
  };
  // connect(options[, listener]) as mysql2 and net.connect call it; connect(port, host[, listener]) as pg does
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const [first, second] = args;
    if (typeof first === 'object' && first !== null) {
      const options = first as net.TcpSocketConnectOpts;
      const target = where(options.host, options.port);
      if (target) args[0] = { ...options, ...target };
    } else {
      const target = where(second, first);
      if (target) [args[0], args[1]] = [target.port, target.host];
    }
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
  return () => {
    net.Socket.prototype.connect = connect;
  };
}
