// A session through the cluster endpoint belongs to the instance it was routed to: stopping the
// instance ends it, also while it is still being opened (as an Aurora writer's crash does), so no
// half-open session can log in to the old writer after a failover began.
import { connect, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { PG_URL } from '../support/databases.js';

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

it('setHealthy(writer, false) ends a cluster-endpoint session that has not finished its handshake', async () => {
  const upstream = PG_URL.replace('?sslmode=disable', '');
  // the handshake would otherwise wait a minute for the client
  emulator = await startEmulator({ credentials: [], handshakeTimeoutMillis: 60_000, cluster: { engine: 'postgres', instances: [{ id: 'db-1', upstream }, { id: 'db-2', upstream }] } });
  const cluster = emulator.cluster!;
  const [host, port] = cluster.addresses()[`${cluster.clusterEndpoint}:${cluster.port}`]!.split(':');
  const socket = connect({ host: host!, port: Number(port) });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  // accepted and routed to db-1, waiting for the client's first message
  await new Promise((resolve) => setImmediate(resolve));
  const ended = closed(socket);
  await cluster.setHealthy('db-1', false);
  // without it, the session would live on until the handshake timeout (a minute), past the test's
  await ended;
  expect(socket.destroyed).toBe(true);
});
