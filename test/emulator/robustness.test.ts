import { once } from 'node:events';
import { connect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import fc from 'fast-check';
import mysql from 'mysql2/promise';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { KEY, MYSQL_UPSTREAM, mysqlConnection, PG_UPSTREAM, pgClient, sign } from '../support/emulator.js';

let emulator: Emulator;
let pgPort: number;
let myPort: number;
let pgSession: pg.Client;
let mySession: mysql.Connection;

beforeAll(async () => {
  // A long handshake budget: every connection below must be closed by validation, not by the timer.
  emulator = await startEmulator({ credentials: [KEY], postgres: { upstream: PG_UPSTREAM }, mysql: { upstream: MYSQL_UPSTREAM }, handshakeTimeoutMillis: 60_000 });
  pgPort = emulator.postgres?.port ?? 0;
  myPort = emulator.mysql?.port ?? 0;
  pgSession = pgClient(emulator, await sign({ port: pgPort }));
  await pgSession.connect();
  mySession = await mysqlConnection(emulator, await sign({ port: myPort }));
});

afterAll(async () => {
  await pgSession?.end().catch(() => {});
  await mySession?.end().catch(() => {});
  await emulator?.close();
});

/**
 * Sends `data` (optionally half-closing; with `afterGreeting`, once the server's greeting came,
 * as MySQL clients do), resolves with what came back once the emulator closed the connection.
 */
function exchange(port: number, data: Buffer, options: { end?: boolean; afterGreeting?: boolean; timeoutMillis?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the emulator kept the connection open for ${options.timeoutMillis ?? 5000} ms`));
    }, options.timeoutMillis ?? 5000);
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(received));
    });
    const send = (): void => {
      socket.write(data);
      if (options.end) socket.end();
    };
    if (options.afterGreeting) socket.once('data', send);
    else send();
  });
}

/** Sends a TLS request, waits for `answerBytes` of plaintext answer, then completes a TLS handshake trusting the emulator CA. */
async function tlsAfterRequest(port: number, request: Buffer, answerBytes: number): Promise<TLSSocket> {
  const raw = connect({ host: '127.0.0.1', port });
  raw.on('error', () => {});
  await once(raw, 'connect');
  if (port === myPort) await once(raw, 'data'); // the MySQL greeting comes first
  raw.write(request);
  if (answerBytes > 0) await once(raw, 'data');
  const socket = tlsConnect({ socket: raw, ca: emulator.caPem, servername: 'localhost' });
  socket.on('error', () => {});
  await once(socket, 'secureConnect');
  return socket;
}

function closedWithin(socket: TLSSocket, millis = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${millis} ms`)), millis);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** SSLRequest: capabilities with CLIENT_SSL and PROTOCOL_41, max packet, charset, filler; sequence id 1. */
function mysqlSslRequest(): Buffer {
  const payload = Buffer.alloc(32);
  payload.writeUInt32LE(0x800 | 0x200 | 0x8000 | 0x80000, 0);
  payload.writeUInt32LE(16 * 1024 * 1024, 4);
  payload[8] = 45;
  return Buffer.concat([Buffer.from([32, 0, 0, 1]), payload]);
}

function int32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(value);
  return out;
}

function pgStartup(user: string): Buffer {
  const body = Buffer.concat([int32(196608), Buffer.from(`user\0${user}\0database\0dbmodule_test\0\0`)]);
  return Buffer.concat([int32(body.length + 4), body]);
}

async function sessionsStillWork(): Promise<void> {
  expect((await pgSession.query('SELECT 41 + 1 AS answer')).rows).toEqual([{ answer: 42 }]);
  const [rows] = await mySession.query('SELECT 41 + 1 AS answer');
  expect(rows).toEqual([{ answer: 42 }]);
  const fresh = pgClient(emulator, await sign({ port: pgPort }));
  await fresh.connect();
  await fresh.end();
  await (await mysqlConnection(emulator, await sign({ port: myPort }))).end();
}

describe('garbage and truncated input', () => {
  it('closes connections that send random bytes, on both ports (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2048 }), async (bytes) => {
        await Promise.all([exchange(pgPort, Buffer.from(bytes), { end: true }), exchange(myPort, Buffer.from(bytes), { end: true })]);
      }),
      { numRuns: 40 },
    );
    await sessionsStillWork();
  });

  it('closes a connection whose startup packet is cut in half', async () => {
    const startup = pgStartup('iam_user');
    await exchange(pgPort, startup.subarray(0, Math.floor(startup.length / 2)), { end: true });
    const greetingOnly = await exchange(myPort, Buffer.from([0x20, 0, 0, 1, 0x05, 0xa6]), { end: true, afterGreeting: true });
    expect(greetingOnly[4]).toBe(10); // the MySQL side had greeted (protocol 10) before the truncated response
    await sessionsStillWork();
  });

  it('closes a connection announcing a huge packet at once, without waiting for it', async () => {
    await exchange(pgPort, int32(0x7fffffff));
    await exchange(pgPort, int32(4)); // shorter than the length field itself
    await exchange(myPort, Buffer.from([0xff, 0xff, 0xff, 1]));
    await sessionsStillWork();
  });

  it('closes a TLS-requesting connection that then sends garbage instead of a ClientHello', async () => {
    const answer = await exchange(pgPort, Buffer.concat([int32(8), int32(80877103), Buffer.from('not a tls record at all')]));
    expect(answer.toString('latin1', 0, 1)).not.toBe('R'); // never reached authentication
    await sessionsStillWork();
  });

  it('closes a TLS session that announces a huge password message', async () => {
    const socket = await tlsAfterRequest(pgPort, Buffer.concat([int32(8), int32(80877103)]), 1);
    const closed = closedWithin(socket);
    socket.write(pgStartup('iam_user'));
    await once(socket, 'data'); // AuthenticationCleartextPassword
    socket.write(Buffer.concat([Buffer.from('p'), int32(0x7fffffff)]));
    await closed;
    await sessionsStillWork();
  });

  it('closes a TLS session whose MySQL handshake response is truncated or huge', async () => {
    for (const garbage of [Buffer.from([0x05, 0, 0, 2, 0x0d, 0xa2, 0, 0, 0]), Buffer.from([0xff, 0xff, 0xff, 2])]) {
      const socket = await tlsAfterRequest(myPort, mysqlSslRequest(), 0);
      const closed = closedWithin(socket);
      socket.write(garbage);
      await closed;
    }
    await sessionsStillWork();
  });

  it('refuses unsupported protocol versions with a FATAL error', async () => {
    const body = Buffer.concat([int32(2 << 16), Buffer.from('user\0x\0\0')]);
    const reply = await exchange(pgPort, Buffer.concat([int32(body.length + 4), body]));
    expect(reply.toString('latin1')).toContain('unsupported frontend protocol 2.0');
  });

  it('answers GSSENCRequest with N and goes on with the startup', async () => {
    const reply = await exchange(pgPort, Buffer.concat([int32(8), int32(80877104), pgStartup('iam_user')]));
    expect(reply.toString('latin1', 0, 1)).toBe('N');
    expect(reply.toString('latin1')).toContain('no encryption'); // the IAM user without TLS is then refused
  });
});

describe('handshake timeout', () => {
  it('closes a client that never finishes its handshake', async () => {
    const impatient = await startEmulator({ credentials: [KEY], postgres: { upstream: PG_UPSTREAM }, mysql: { upstream: MYSQL_UPSTREAM }, handshakeTimeoutMillis: 300 });
    try {
      const startup = pgStartup('iam_user');
      await exchange(impatient.postgres?.port ?? 0, startup.subarray(0, 5));
      await exchange(impatient.mysql?.port ?? 0, Buffer.alloc(0));
    } finally {
      await impatient.close();
    }
  });
});
