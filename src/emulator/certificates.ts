import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { DbModuleError, messageOf } from '../errors.js';
import type { EmulatorTlsOptions } from './options.js';
import { hostMatches } from './sigv4-verify.js';

/** What a TLS socket of an endpoint is given: its certificate, and the per-name ones `**.` patterns need. */
export interface TlsServerIdentity {
  readonly secureContext: SecureContext;
  readonly SNICallback?: (servername: string, callback: (error: Error | null, context?: SecureContext) => void) => void;
}

/** What the endpoints present and what clients must trust. */
export interface TlsMaterial {
  readonly identity: TlsServerIdentity;
  /** PEM of the CA clients must trust, as written to `caFile`. */
  readonly caPem: string;
  readonly caFile: string;
  /** Removes the temporary directory when the emulator created it. */
  cleanup(): Promise<void>;
}

/**
 * Uses the given certificate, or generates a CA and a server certificate signed by it for
 * `hostnames` (DNS or IP SANs), then writes the CA to `caFile` (default: a new temporary directory).
 *
 * A certificate's `*.` covers one label only, so a `**.` pattern (any depth, as in
 * `**.us-east-1.rds.amazonaws.com` for `db.cluster-x.us-east-1.rds.amazonaws.com`) cannot be put in
 * one certificate: a client naming such a host in SNI gets a certificate issued for exactly that name.
 */
export async function prepareTls(hostnames: readonly string[], tls: EmulatorTlsOptions | undefined, caFile: string | undefined): Promise<TlsMaterial> {
  const authority = tls ? undefined : await generateAuthority();
  const material = tls ? { cert: tls.cert, key: tls.key, ca: tls.ca ?? tls.cert } : await issueServerCertificate(authority as Authority, hostnames);
  let secureContext: SecureContext;
  try {
    secureContext = serverContext(material);
  } catch (error) {
    throw new DbModuleError('TLS_FAILED', `emulator: the TLS certificate or key cannot be used: ${messageOf(error)}`, {
      cause: error,
      solutions: ['Pass a PEM certificate and the matching PEM private key as tls.cert and tls.key.'],
    });
  }
  const tempDir = caFile ? undefined : await mkdtemp(join(tmpdir(), 'dbmodule-emulator-'));
  const file = caFile ?? join(tempDir as string, 'ca.pem');
  try {
    if (caFile) await mkdir(dirname(caFile), { recursive: true });
    await writeFile(file, material.ca, { mode: 0o644 });
  } catch (error) {
    throw new DbModuleError('TLS_FAILED', `emulator: cannot write the CA file ${file}: ${messageOf(error)}`, { cause: error });
  }
  const deepPatterns = hostnames.filter((name) => name.startsWith('**.'));
  return {
    identity: authority && deepPatterns.length > 0 ? { secureContext, SNICallback: perNameContexts(authority, hostnames, deepPatterns, secureContext) } : { secureContext },
    caPem: material.ca,
    caFile: file,
    cleanup: async () => {
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    },
  };
}

// --- internal ---

interface Authority {
  readonly cert: string;
  readonly key: string;
}

/** Per-name certificates kept; a client cycling through more names than this gets some re-issued. */
const MAX_ISSUED = 256;

function perNameContexts(authority: Authority, hostnames: readonly string[], deepPatterns: readonly string[], fallback: SecureContext): NonNullable<TlsServerIdentity['SNICallback']> {
  const covered = hostnames.map(certificateName);
  const issued = new Map<string, Promise<SecureContext>>();
  return (servername, callback) => {
    const name = servername.toLowerCase();
    if (covered.some((pattern) => hostMatches(pattern, name)) || !deepPatterns.some((pattern) => hostMatches(pattern, name))) {
      callback(null, fallback);
      return;
    }
    let context = issued.get(name);
    if (!context) {
      if (issued.size >= MAX_ISSUED) issued.delete(issued.keys().next().value as string);
      context = issueServerCertificate(authority, [name]).then(serverContext);
      context.catch(() => issued.delete(name));
      issued.set(name, context);
    }
    context.then((ready) => callback(null, ready), (error: unknown) => callback(error instanceof Error ? error : new Error(messageOf(error))));
  };
}

function serverContext(material: { cert: string; key: string }): SecureContext {
  return createSecureContext({ cert: material.cert, key: material.key, minVersion: 'TLSv1.2' });
}

/** The name a certificate can carry for a pattern: `**.` becomes `*.` (one label). */
function certificateName(pattern: string): string {
  return pattern.replace(/^\*\*\./, '*.');
}

// EC keys: RSA key generation would cost most of the emulator's start-up time.
const KEY = { keyType: 'ec' as const, curve: 'P-256' as const, algorithm: 'sha256' };

function validity(): { notBeforeDate: Date; notAfterDate: Date } {
  return { notBeforeDate: new Date(Date.now() - 24 * 3600_000), notAfterDate: new Date(Date.now() + 2 * 365 * 24 * 3600_000) };
}

async function generateAuthority(): Promise<Authority> {
  const { generate } = await import('selfsigned');
  const ca = await generate([{ name: 'commonName', value: 'dbmodule RDS IAM emulator CA' }], {
    ...KEY,
    ...validity(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: ca.cert, key: ca.private };
}

async function issueServerCertificate(authority: Authority, hostnames: readonly string[]): Promise<{ cert: string; key: string; ca: string }> {
  const { generate } = await import('selfsigned');
  const names = hostnames.map(certificateName);
  const server = await generate([{ name: 'commonName', value: names[0] ?? 'localhost' }], {
    ...KEY,
    ...validity(),
    ca: { key: authority.key, cert: authority.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((name) => (isIP(name) ? { type: 7 as const, ip: name } : { type: 2 as const, value: name })) },
    ],
  });
  return { cert: server.cert, key: server.private, ca: authority.cert };
}
