import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { generate } from 'selfsigned';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { isDbModuleError } from '../../src/errors.js';
import { KEY, PG_UPSTREAM, pgClient, sign } from '../support/emulator.js';
import { rejectionOf } from '../support/rejection.js';
import { freePort } from '../support/ports.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('emulator options', () => {
  it('rejects an option it does not know, naming it, a close known one and the known ones', async () => {
    const misspelt = await rejectionOf(startEmulator({ hostname: ['localhost'] } as never));
    expect(misspelt).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(misspelt.message).toContain('emulator option hostname: unknown option; did you mean hostnames?');
    expect(misspelt.message).toContain('known: region, hostnames, listen, postgres, mysql');
    const nested = await rejectionOf(startEmulator({ postgres: { upstrem: PG_UPSTREAM } } as never));
    expect(nested.message).toContain('emulator option postgres.upstrem: unknown option; did you mean postgres.upstream?');
  });

  it.each([
    [{ region: 'moon-1' }, 'region'],
    [{ postgres: false as const }, 'postgres'],
    [{ mysql: { port: 0 } }, 'mysql.upstream'],
    [{ postgres: { port: 70000 } }, 'postgres.port'],
    [{ hostnames: [] }, 'hostnames'],
    [{ postgres: { upstream: 'mysql://root@127.0.0.1/x' } }, 'postgres.upstream'],
  ])('refuses %j naming the option', async (options, key) => {
    const error = await rejectionOf(startEmulator(options));
    expect(isDbModuleError(error) && error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(`emulator option ${key}`);
  });

  it('generates a CA and a server certificate for the hostnames, and writes the CA where asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'em-opt-'));
    dirs.push(dir);
    const caFile = join(dir, 'nested', 'ca.pem');
    const emulator = await startEmulator({ credentials: [KEY], postgres: { upstream: PG_UPSTREAM }, hostnames: ['db.internal.test', '127.0.0.1'], caFile });
    try {
      expect(emulator.caFile).toBe(caFile);
      const ca = new X509Certificate(readFileSync(caFile));
      expect(ca.ca).toBe(true);
      const port = emulator.postgres?.port ?? 0;
      const client = pgClient(emulator, await sign({ port, hostname: 'db.internal.test' }), { ssl: { ca: readFileSync(caFile), servername: 'db.internal.test' } });
      await client.connect();
      const peer = new X509Certificate((client as unknown as { connection: { stream: { getPeerCertificate(detailed: boolean): { raw: Buffer } } } }).connection.stream.getPeerCertificate(true).raw);
      expect(peer.subjectAltName).toBe('DNS:db.internal.test, IP Address:127.0.0.1');
      expect(peer.verify(ca.publicKey)).toBe(true);
      await client.end();
      // 'localhost' is not among the hostnames: neither the certificate nor the signed host accept it.
      const wrongName = await rejectionOf(pgClient(emulator, await sign({ port }), { ssl: { ca: readFileSync(caFile), servername: 'localhost' } }).connect());
      expect(wrongName.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      await emulator.close();
    }
    expect(readFileSync(caFile, 'utf8')).toContain('BEGIN CERTIFICATE'); // a caller-chosen file is left in place
  });

  it('presents a certificate given to it and writes its CA to caFile', async () => {
    const ca = await generate([{ name: 'commonName', value: 'given CA' }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true }] });
    const server = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256', ca: { key: ca.private, cert: ca.cert } });
    const emulator = await startEmulator({ credentials: [KEY], postgres: { upstream: PG_UPSTREAM }, tls: { cert: server.cert, key: server.private, ca: ca.cert } });
    try {
      expect(readFileSync(emulator.caFile, 'utf8')).toBe(ca.cert);
      const client = pgClient(emulator, await sign({ port: emulator.postgres?.port ?? 0 }));
      await client.connect();
      const presented = (client as unknown as { connection: { stream: { getPeerCertificate(): { fingerprint256: string } } } }).connection.stream.getPeerCertificate().fingerprint256;
      expect(presented).toBe(new X509Certificate(server.cert).fingerprint256);
      await client.end();
    } finally {
      await emulator.close();
    }
  });

  it('refuses a certificate and key that do not go together', async () => {
    const a = await generate(undefined, { keyType: 'ec' });
    const b = await generate(undefined, { keyType: 'ec' });
    const error = await rejectionOf(startEmulator({ tls: { cert: a.cert, key: b.private } }));
    expect(isDbModuleError(error) && error.code).toBe('TLS_FAILED');
    expect(error.message).not.toContain('PRIVATE KEY');
  });

  it('takes its default key from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in env', async () => {
    const emulator = await startEmulator({ env: { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey }, postgres: { upstream: PG_UPSTREAM } });
    const empty = await startEmulator({ env: {}, postgres: { upstream: PG_UPSTREAM } });
    try {
      const client = pgClient(emulator, await sign({ port: emulator.postgres?.port ?? 0 }));
      await client.connect();
      await client.end();
      await rejectionOf(pgClient(empty, await sign({ port: empty.postgres?.port ?? 0 })).connect());
      expect(empty.authLog.entries().at(-1)).toMatchObject({ reason: 'UNKNOWN_KEY' });
    } finally {
      await emulator.close();
      await empty.close();
    }
  });

  it('reports an unreachable upstream to the client instead of hanging', async () => {
    const deadPort = await freePort();
    const emulator: Emulator = await startEmulator({
      credentials: [KEY],
      postgres: { upstream: `postgresql://postgres@127.0.0.1:${deadPort}/x` },
      mysql: { upstream: `mysql://root@127.0.0.1:${deadPort}/x` },
    });
    try {
      const pgError = await rejectionOf(pgClient(emulator, await sign({ port: emulator.postgres?.port ?? 0 })).connect());
      expect(pgError).toMatchObject({ code: '08001', message: expect.stringContaining(`cannot reach the upstream server 127.0.0.1:${deadPort}`) });
      const myError = await rejectionOf(mysql.createConnection({ host: '127.0.0.1', port: emulator.mysql?.port, user: 'iam_user', password: 'x' }));
      expect(myError).toMatchObject({ errno: 1105, message: expect.stringContaining('is unavailable') });
    } finally {
      await emulator.close();
    }
  });
});

describe('auth log', () => {
  it('waitFor resolves with a later matching attempt, and rejects at its deadline', async () => {
    const emulator = await startEmulator({ credentials: [KEY], postgres: { upstream: PG_UPSTREAM } });
    try {
      const seen: string[] = [];
      const unsubscribe = emulator.authLog.subscribe((attempt) => seen.push(attempt.reason));
      const waiting = emulator.authLog.waitFor((attempt) => attempt.reason === 'WRONG_USER', 5000);
      await rejectionOf(pgClient(emulator, await sign({ port: emulator.postgres?.port ?? 0, username: 'somebody' })).connect());
      expect(await waiting).toMatchObject({ user: 'iam_user', reason: 'WRONG_USER', decision: 'deny' });
      unsubscribe();
      await rejectionOf(pgClient(emulator, 'not a token').connect());
      expect(seen).toEqual(['WRONG_USER']);
      expect(emulator.authLog.entries().map((attempt) => attempt.reason)).toEqual(['WRONG_USER', 'MALFORMED_TOKEN']);
      const never = await rejectionOf(emulator.authLog.waitFor((attempt) => attempt.reason === 'KEY_REVOKED', 50));
      expect(never.message).toContain('within 50 ms');
      emulator.authLog.clear();
      expect(emulator.authLog.entries()).toEqual([]);
      expect(() => emulator.setClockOffset(Number.NaN)).toThrow(/setClockOffset/);
      expect(() => emulator.addCredentials({ accessKeyId: 'AKIAONLY', secretAccessKey: '' })).toThrow(/accessKeyId and secretAccessKey/);
    } finally {
      await emulator.close();
    }
  });

  it('refuses a MySQL upstream that asks for TLS', async () => {
    const error = await rejectionOf(startEmulator({ postgres: false, mysql: { upstream: 'mysql://root:pw@127.0.0.1:3306/x?sslmode=require' } }));
    expect(error.message).toContain('mysql://root:***@127.0.0.1:3306/x?sslmode=require');
  });
});

describe('listening', () => {
  it('reports a port already in use with CONNECT_FAILED naming the endpoint and port', async () => {
    const first = await startEmulator({ credentials: [KEY], postgres: { upstream: PG_UPSTREAM } });
    try {
      const port = first.postgres?.port ?? 0;
      const error = await rejectionOf(startEmulator({ credentials: [KEY], postgres: { upstream: PG_UPSTREAM, port } }));
      expect(isDbModuleError(error) && error.code).toBe('CONNECT_FAILED');
      expect(error.message).toContain(`postgres endpoint cannot listen on 127.0.0.1:${port}`);
    } finally {
      await first.close();
    }
  });
});
