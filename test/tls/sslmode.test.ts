import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/dsn/index.js';
import { ConfigError } from '../../src/errors.js';
import { TLS_PARAM_NAMES, sslModeToTls, withoutTlsParams } from '../../src/tls/sslmode.js';
import { thrownBy } from '../support/rejection.js';

const settings = (dsn: string, connection?: string) => sslModeToTls(parseDsn(dsn), connection);

/** The ConfigError `dsn`'s TLS settings fail with. */
const failure = (dsn: string): ConfigError => thrownBy(() => settings(dsn, 'writer'), ConfigError);

describe('defaults', () => {
  it('postgres without sslmode is prefer, which node-postgres can only do as plaintext', () => {
    expect(settings('postgres://u@h/d')).toEqual({ mode: 'prefer', tls: false, explicit: false });
  });

  it('mysql without TLS parameters is disabled, sqlite always', () => {
    expect(settings('mysql://u@h/d')).toEqual({ mode: 'disable', tls: false, explicit: false });
    expect(settings('u@tcp(h)/d')).toEqual({ mode: 'disable', tls: false, explicit: false });
    expect(settings('sqlite:x.db?sslmode=require')).toEqual({ mode: 'disable', tls: false, explicit: false });
  });
});

describe('modes', () => {
  it.each([
    ['postgres://h/d?sslmode=disable', 'disable'],
    ['postgres://h/d?sslmode=allow', 'allow'],
    ['postgres://h/d?sslmode=prefer', 'prefer'],
    ['mysql://h/d?ssl-mode=DISABLED', 'disable'],
    ['mysql://h/d?ssl-mode=PREFERRED', 'prefer'],
    ['u@tcp(h)/d?tls=false', 'disable'],
    ['u@tcp(h)/d?tls=preferred', 'prefer'],
    ['postgres://h/d?ssl=false', 'disable'],
    ['postgres://h/d?requiressl=0', 'prefer'],
  ] as const)('%s: %s, plaintext', (dsn, mode) => {
    const result = settings(dsn);
    expect(result.mode).toBe(mode);
    expect(result.tls).toBe(false);
    expect(result.explicit).toBe(true);
  });

  it.each([
    ['postgres://h/d?sslmode=require', 'require', 'sslmode=require'],
    ['postgres://h/d?sslmode=no-verify', 'require', 'sslmode=no-verify'],
    ['mysql://h/d?ssl-mode=REQUIRED', 'require', 'ssl-mode=REQUIRED'],
    ['mysql://h/d?sslmode=required', 'require', 'sslmode=required'],
    ['u@tcp(h)/d?tls=skip-verify', 'require', 'tls=skip-verify'],
    ['postgres://h/d?requiressl=1', 'require', 'requiressl=1'],
  ] as const)('%s: encrypted, not verified', (dsn, mode, source) => {
    const result = settings(dsn);
    expect(result).toMatchObject({ mode, explicit: true, source });
    expect(result.tls).toMatchObject({ rejectUnauthorized: false });
  });

  it.each([
    ['postgres://h/d?sslmode=verify-ca'],
    ['mysql://h/d?ssl-mode=VERIFY_CA'],
    ['mysql://h/d?ssl_mode=verify_ca'],
  ])('%s: chain verified, host name not', (dsn) => {
    const result = settings(dsn);
    expect(result.mode).toBe('verify-ca');
    const options = result.tls as tls.ConnectionOptions;
    expect(options.rejectUnauthorized).toBe(true);
    expect(options.checkServerIdentity?.('other.example', {} as tls.PeerCertificate)).toBeUndefined();
  });

  it.each([['postgres://h/d?sslmode=verify-full'], ['mysql://h/d?ssl-mode=VERIFY_IDENTITY'], ['u@tcp(h)/d?tls=true'], ['postgres://h/d?ssl=true'], ['mysql://h/d?ssl=1']])(
    '%s: chain and host name verified',
    (dsn) => {
      const result = settings(dsn);
      expect(result.mode).toBe('verify-full');
      const options = result.tls as tls.ConnectionOptions;
      expect(options.rejectUnauthorized).toBe(true);
      expect(options.checkServerIdentity).toBeUndefined();
    },
  );

  it('an explicit mode refines ssl=true (the common ?ssl=true&sslmode=require)', () => {
    expect(settings('postgres://h/d?ssl=true&sslmode=require').mode).toBe('require');
  });

  it('two spellings of the same mode agree', () => {
    expect(settings('mysql://h/d?sslmode=require&ssl-mode=REQUIRED').mode).toBe('require');
  });
});

describe('certificate files', () => {
  let dir: string;
  let caFile: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbmodule-sslmode-'));
    caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n');
    writeFileSync(path.join(dir, 'client.crt'), 'client cert');
    writeFileSync(path.join(dir, 'client.key'), 'client key');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sslrootcert, sslcert, sslkey, sslpassword and sslservername become TLS options', () => {
    const result = settings(
      `postgres://h/d?sslmode=verify-full&sslrootcert=${caFile}&sslcert=${dir}/client.crt&sslkey=${dir}/client.key&sslpassword=kp&sslservername=db.example.test&ssl_min_protocol_version=TLSv1.3`,
    );
    expect(result.tls).toMatchObject({ passphrase: 'kp', servername: 'db.example.test', minVersion: 'TLSv1.3', rejectUnauthorized: true });
    const options = result.tls as tls.ConnectionOptions;
    expect(String(options.ca)).toContain('not really');
    expect(String(options.cert)).toBe('client cert');
    expect(String(options.key)).toBe('client key');
  });

  it('the MySQL spellings ssl-ca, ssl-cert, ssl-key', () => {
    const result = settings(`mysql://h/d?ssl-mode=VERIFY_CA&ssl-ca=${caFile}&ssl-cert=${dir}/client.crt&ssl-key=${dir}/client.key`);
    const options = result.tls as tls.ConnectionOptions;
    expect(String(options.ca)).toContain('not really');
    expect(String(options.key)).toBe('client key');
  });

  it('require with a root certificate verifies the chain, as libpq does', () => {
    const options = settings(`postgres://h/d?sslmode=require&sslrootcert=${caFile}`).tls as tls.ConnectionOptions;
    expect(options.rejectUnauthorized).toBe(true);
    expect(options.checkServerIdentity?.('x', {} as tls.PeerCertificate)).toBeUndefined();
  });

  it('a missing sslrootcert file names the parameter, the path and the connection', () => {
    const error = failure('postgres://u:Pw0rd-x@h/d?sslmode=verify-full&sslrootcert=/nonexistent/rds-ca.pem');
    expect(error.code).toBe('DSN_INVALID');
    expect(error.connection).toBe('writer');
    expect(error.message).toMatch(/sslrootcert/);
    expect(error.message).toContain('/nonexistent/rds-ca.pem');
    expect(error.message).toContain('ENOENT');
    expect(error.message).not.toContain('Pw0rd-x');
    expect(error.cause).toMatchObject({ code: 'ENOENT' });
  });

  it('the files are not read when TLS is off', () => {
    expect(settings('postgres://h/d?sslmode=disable&sslrootcert=/nonexistent/ca.pem').tls).toBe(false);
  });

  it('sslrootcert=system: the default CA store and verify-full by default', () => {
    const result = settings('postgres://h/d?sslrootcert=system');
    expect(result).toMatchObject({ mode: 'verify-full', explicit: true, source: 'sslrootcert=system' });
    expect((result.tls as tls.ConnectionOptions).ca).toBeUndefined();
    expect(failure('postgres://h/d?sslrootcert=system&sslmode=require').message).toMatch(/too weak for sslrootcert=system/);
  });

  it('a client certificate without its key is an error', () => {
    expect(failure(`postgres://h/d?sslmode=require&sslcert=${dir}/client.crt`).message).toMatch(/both sslcert and sslkey/);
  });
});

describe('invalid TLS parameters', () => {
  it.each([
    ['postgres://h/d?sslmode=required-ish', /sslmode=required-ish is not a TLS mode/],
    ['u@tcp(h)/d?tls=custom', /tls=custom is not a TLS mode.*named Go TLS config/],
    ['mysql://h/d?ssl=Amazon%20RDS', /ssl=Amazon RDS is not a TLS mode/],
    ['postgres://h/d?sslmode=disable&tls=true', /sslmode=disable and tls=true contradict/],
    ['mysql://h/d?sslmode=require&ssl-mode=DISABLED', /sslmode=require and ssl-mode=DISABLED disagree/],
    [`postgres://h/d?sslmode=require&sslrootcert=/a.pem&ssl-ca=/b.pem`, /sslrootcert and ssl-ca disagree/],
    ['postgres://h/d?sslmode=require&ssl_min_protocol_version=SSLv3', /ssl_min_protocol_version=SSLv3 is not a TLS version/],
  ])('%s', (dsn, message) => {
    const error = failure(dsn);
    expect(error.code).toBe('DSN_INVALID');
    expect(error.message).toMatch(message);
    expect(error.message).toContain('connection "writer"');
  });
});

describe('TLS_PARAM_NAMES', () => {
  it('lists every spelling sslModeToTls reads', () => {
    for (const name of ['sslmode', 'ssl-mode', 'ssl_mode', 'ssl', 'tls', 'requiressl', 'sslrootcert', 'ssl-ca', 'sslcert', 'sslkey', 'sslpassword', 'sslcrl', 'sslservername', 'ssl_min_protocol_version']) {
      expect(TLS_PARAM_NAMES).toContain(name);
    }
  });

  it('withoutTlsParams keeps everything else, in order', () => {
    const { params } = parseDsn('postgres://h/d?application_name=x&sslmode=require&sslrootcert=/a&connect_timeout=5&tls=true');
    expect(withoutTlsParams(params)).toEqual({ application_name: 'x', connect_timeout: '5' });
  });
});

describe('real TLS handshakes against a local server', () => {
  let dir: string;
  let server: tls.Server;
  let port: number;
  const files = { ca: '', otherCa: '', clientCert: '', clientKey: '' };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbmodule-tls-'));
    const caExtensions = [
      { name: 'basicConstraints' as const, cA: true },
      { name: 'keyUsage' as const, keyCertSign: true, cRLSign: true, digitalSignature: true },
    ];
    const ca = await generate([{ name: 'commonName', value: 'dbmodule test CA' }], { keyType: 'ec', algorithm: 'sha256', extensions: caExtensions });
    const otherCa = await generate([{ name: 'commonName', value: 'unrelated CA' }], { keyType: 'ec', algorithm: 'sha256', extensions: caExtensions });
    const serverCert = await generate([{ name: 'commonName', value: 'db.example.test' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'db.example.test' }] },
      ],
    });
    const clientCert = await generate([{ name: 'commonName', value: 'app' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true },
        { name: 'extKeyUsage', clientAuth: true },
      ],
    });
    const write = (name: string, content: string): string => {
      const file = path.join(dir, name);
      writeFileSync(file, content);
      return file;
    };
    files.ca = write('ca.pem', ca.cert);
    files.otherCa = write('other-ca.pem', otherCa.cert);
    files.clientCert = write('client.crt', clientCert.cert);
    files.clientKey = write('client.key', clientCert.private);
    // The server asks for a client certificate but accepts connections without one, and
    // reports whether the one it got was signed by the CA.
    server = tls.createServer({ key: serverCert.private, cert: serverCert.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: false }, (socket) => {
      socket.on('error', () => {});
      socket.end(socket.authorized ? 'client-verified' : 'anonymous');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Connects to 127.0.0.1 with the DSN's TLS options; the greeting, or the TLS error code. */
  function handshake(query: string): Promise<string> {
    const options = settings(`postgres://u@127.0.0.1:${port}/d?${query}`).tls;
    if (options === false) throw new Error('expected TLS options');
    return new Promise((resolve) => {
      const socket = tls.connect({ ...options, host: '127.0.0.1', port });
      let greeting = '';
      socket.on('data', (chunk: Buffer) => (greeting += chunk.toString()));
      socket.on('end', () => resolve(greeting));
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
    });
  }

  it('require accepts a certificate nobody vouches for', async () => {
    expect(await handshake('sslmode=require')).toBe('anonymous');
  });

  it('require with an unrelated root certificate fails the chain check', async () => {
    expect(await handshake(`sslmode=require&sslrootcert=${files.otherCa}`)).toBe('error SELF_SIGNED_CERT_IN_CHAIN');
  });

  it('verify-ca accepts the right CA although the host name does not match', async () => {
    expect(await handshake(`sslmode=verify-ca&sslrootcert=${files.ca}`)).toBe('anonymous');
  });

  it('verify-ca without the CA rejects the chain', async () => {
    expect(await handshake('sslmode=verify-ca')).toBe('error SELF_SIGNED_CERT_IN_CHAIN');
  });

  it('verify-full rejects the host name mismatch', async () => {
    expect(await handshake(`sslmode=verify-full&sslrootcert=${files.ca}`)).toBe('error ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('verify-full accepts it when sslservername names the certificate (tunnels)', async () => {
    expect(await handshake(`sslmode=verify-full&sslrootcert=${files.ca}&sslservername=db.example.test`)).toBe('anonymous');
  });

  it('sslcert and sslkey present a client certificate the server verifies', async () => {
    expect(await handshake(`sslmode=verify-ca&sslrootcert=${files.ca}&sslcert=${files.clientCert}&sslkey=${files.clientKey}`)).toBe('client-verified');
  });
});
