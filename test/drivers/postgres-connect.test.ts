import net from 'node:net';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../src/errors.js';
import { closeTestPools, openTestPool } from '../support/drivers/postgres.js';
import { rejectionOf } from '../support/rejection.js';
import { startPrivatePostgres, type PrivateServer } from '../support/resilience/private-servers.js';

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
afterAll(async () => {
  await closeTestPools();
  for (const socket of sockets) socket.destroy();
  for (const server of servers) server.close();
});

/** A TCP server on a free local port; `onSocket` decides what it says. */
async function localServer(onSocket: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** Answers PostgreSQL's SSLRequest with 'S', then does TLS with `cert`, as a TLS-enabled server would. */
async function fakeTlsServer(commonName: string): Promise<{ port: number; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: commonName }] }],
  });
  const port = await localServer((socket) => {
    socket.once('data', () => {
      socket.write('S');
      const secure = new tls.TLSSocket(socket, { isServer: true, key: pems.private, cert: pems.cert });
      secure.on('error', () => {});
    });
  });
  return { port, cert: pems.cert };
}

describe('postgres connect errors', () => {
  it('refused: CONNECT_FAILED, retryable, naming the connection and host:port', async () => {
    const { pool } = await openTestPool({ dsn: { port: 1 } });
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'CONNECT_FAILED', retryable: true, connection: 'pgtest' });
    expect(error.message).toContain('connection "pgtest"');
    expect(error.message).toContain('127.0.0.1:1');
    expect((error.cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect(pool.stats().total).toBe(0);
  });

  it('DNS failure: CONNECT_FAILED naming the host', async () => {
    const { pool } = await openTestPool({ dsn: { host: 'no-such-host.invalid' } });
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(error).toMatchObject({ code: 'CONNECT_FAILED', connection: 'pgtest' });
    expect(error.message).toContain('"no-such-host.invalid"');
  });

  it('a server that accepts and never answers: CONNECT_TIMEOUT within connection_timeout', async () => {
    const port = await localServer(() => {});
    const { pool } = await openTestPool({ dsn: { port }, config: { connection_timeout: 300 } });
    const started = performance.now();
    const error = await rejectionOf(pool.query('SELECT 1'));
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ code: 'CONNECT_TIMEOUT', retryable: true, connection: 'pgtest' });
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(3_000);
    expect(pool.stats()).toMatchObject({ total: 0, waiting: 0 });
  });

  it('ping is bounded by connection_timeout too', async () => {
    const port = await localServer(() => {});
    const { pool } = await openTestPool({ dsn: { port }, config: { connection_timeout: 300 } });
    const started = performance.now();
    expect(await rejectionOf(pool.ping())).toMatchObject({ code: 'CONNECT_TIMEOUT' });
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

describe('postgres TLS', () => {
  // A server of its own with TLS off: the shared one may have TLS on, and these need one without.
  let plain: PrivateServer;
  beforeAll(async () => {
    plain = await startPrivatePostgres();
  });
  afterAll(async () => {
    await plain?.remove();
  });

  it('options.tls against a server without TLS: TLS_FAILED', async () => {
    const { pool } = await openTestPool({ dsn: { port: plain.port }, tls: { rejectUnauthorized: true } });
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(error).toMatchObject({ code: 'TLS_FAILED', retryable: false, connection: 'pgtest' });
    expect(error.message).toContain(`127.0.0.1:${plain.port}`);
    expect((error.cause as Error).message).toBe('The server does not support SSL connections');
  });

  it("the DSN's sslmode is translated into TLS options when options.tls is absent", async () => {
    const { pool: required } = await openTestPool({ dsn: { port: plain.port, params: { sslmode: 'require' } } });
    expect(await rejectionOf(required.query('SELECT 1'))).toMatchObject({ code: 'TLS_FAILED' });
    const { pool: disabled } = await openTestPool({ dsn: { port: plain.port, params: { sslmode: 'disable' } } });
    expect((await disabled.query<{ ok: number }>('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });

  it("options.tls replaces the DSN's sslmode", async () => {
    const { pool } = await openTestPool({ dsn: { port: plain.port, params: { sslmode: 'disable' } }, tls: { rejectUnauthorized: false } });
    expect(await rejectionOf(pool.query('SELECT 1'))).toMatchObject({ code: 'TLS_FAILED' });
  });

  it('a self-signed certificate: TLS_FAILED', async () => {
    const { port } = await fakeTlsServer('localhost');
    const { pool } = await openTestPool({ dsn: { port }, tls: { rejectUnauthorized: true } });
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(error).toMatchObject({ code: 'TLS_FAILED', retryable: false });
    expect((error.cause as { code?: string }).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('a certificate for another host name: TLS_FAILED', async () => {
    const { port, cert } = await fakeTlsServer('db.example.com');
    const { pool } = await openTestPool({ dsn: { port }, tls: { ca: cert, rejectUnauthorized: true } });
    const error = await rejectionOf(pool.query('SELECT 1'));
    expect(error).toMatchObject({ code: 'TLS_FAILED' });
    expect((error.cause as { code?: string }).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
