import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { DbModuleError, messageOf } from '../errors.js';
import type { EmulatorTlsOptions } from './options.js';

/** What the endpoints present and what clients must trust. */
export interface TlsMaterial {
  readonly secureContext: SecureContext;
  /** PEM of the CA clients must trust, as written to `caFile`. */
  readonly caPem: string;
  readonly caFile: string;
  /** Removes the temporary directory when the emulator created it. */
  cleanup(): Promise<void>;
}

/**
 * Uses the given certificate, or generates a CA and a server certificate signed by it for
 * `hostnames` (DNS or IP SANs), then writes the CA to `caFile` (default: a new temporary directory).
 */
export async function prepareTls(hostnames: readonly string[], tls: EmulatorTlsOptions | undefined, caFile: string | undefined): Promise<TlsMaterial> {
  const material = tls ? { cert: tls.cert, key: tls.key, ca: tls.ca ?? tls.cert } : await generateCertificates(hostnames);
  let secureContext: SecureContext;
  try {
    secureContext = createSecureContext({ cert: material.cert, key: material.key, minVersion: 'TLSv1.2' });
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
  return {
    secureContext,
    caPem: material.ca,
    caFile: file,
    cleanup: async () => {
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    },
  };
}

// --- internal ---

async function generateCertificates(hostnames: readonly string[]): Promise<{ cert: string; key: string; ca: string }> {
  const { generate } = await import('selfsigned');
  const notBeforeDate = new Date(Date.now() - 24 * 3600_000);
  const notAfterDate = new Date(Date.now() + 2 * 365 * 24 * 3600_000);
  // EC keys: generating two RSA keys would cost most of the emulator's start-up time.
  const common = { keyType: 'ec' as const, curve: 'P-256' as const, algorithm: 'sha256', notBeforeDate, notAfterDate };
  const ca = await generate([{ name: 'commonName', value: 'dbmodule RDS IAM emulator CA' }], {
    ...common,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: (hostnames[0] ?? 'localhost').replace(/^\*\*\./, '*.') }], {
    ...common,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: hostnames.map((name) => (isIP(name) ? { type: 7 as const, ip: name } : { type: 2 as const, value: name.replace(/^\*\*\./, '*.') })) },
    ],
  });
  return { cert: server.cert, key: server.private, ca: ca.cert };
}
