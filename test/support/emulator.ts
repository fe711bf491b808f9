import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Signer } from '@aws-sdk/rds-signer';
import { SignatureV4 } from '@smithy/signature-v4';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Emulator } from '../../src/emulator/index.js';
import { MYSQL_URL, PG_URL } from './databases.js';

/** Test keys: fixed strings, never real credentials. */
export const KEY = { accessKeyId: 'AKIAEMULATORTEST0001', secretAccessKey: 'emulator-test-secret-0001' } as const;
export const OTHER_KEY = { accessKeyId: 'AKIAEMULATORTEST0002', secretAccessKey: 'emulator-test-secret-0002' } as const;
export const IAM_USER = 'iam_user';
/** The emulator relays to the test servers (DBMODULE_TEST_PG_URL / DBMODULE_TEST_MYSQL_URL, else the shared ones). */
export const PG_UPSTREAM = PG_URL;
export const MYSQL_UPSTREAM = MYSQL_URL;

export interface SignOptions {
  hostname?: string;
  port: number;
  username?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** A token from the AWS SDK's own signer (independent of the emulator's verifier). */
export function sign(options: SignOptions): Promise<string> {
  return new Signer({
    hostname: options.hostname ?? 'localhost',
    port: options.port,
    username: options.username ?? IAM_USER,
    region: options.region ?? 'us-east-1',
    credentials: options.credentials ?? KEY,
  }).getAuthToken();
}

/** node:crypto SHA-256 in the shape smithy's signer wants. */
export class NodeSha256 {
  readonly #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data;
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Presigns like rds-signer but with any expiry or payload hash, using smithy's SigV4 directly
 * (rds-signer hard-codes 900 seconds and the empty-body hash).
 */
export async function presign(options: SignOptions & { expiresIn: number; unsignedPayload?: boolean }): Promise<string> {
  const hostname = options.hostname ?? 'localhost';
  const signer = new SignatureV4({ service: 'rds-db', region: options.region ?? 'us-east-1', credentials: options.credentials ?? KEY, sha256: NodeSha256 });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      port: options.port,
      path: '/',
      query: { Action: 'connect', DBUser: options.username ?? IAM_USER },
      headers: { host: `${hostname}:${options.port}` },
      // A body that is neither a string nor bytes makes smithy sign UNSIGNED-PAYLOAD, as botocore does.
      ...(options.unsignedPayload ? { body: {} } : {}),
    },
    { expiresIn: options.expiresIn },
  );
  const query = Object.entries(presigned.query ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join('&');
  return `${hostname}:${options.port}/?${query}`;
}

/** A pg client over TLS verified against the emulator CA (verify-full on `servername`). */
export function pgClient(emulator: Emulator, password: string, extra: Partial<pg.ClientConfig> = {}): pg.Client {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: emulator.postgres?.port,
    user: IAM_USER,
    database: 'dbmodule_test',
    password,
    connectionTimeoutMillis: 10_000,
    ...extra,
    ssl: 'ssl' in extra ? extra.ssl : { ca: readFileSync(emulator.caFile), servername: 'localhost' },
  });
  client.on('error', () => {});
  return client;
}

/** A mysql2 connection over TLS verified against the emulator CA, cleartext plugin enabled. */
export async function mysqlConnection(emulator: Emulator, password: string, extra: Record<string, unknown> = {}): Promise<mysql.Connection> {
  const connection = await mysql.createConnection({
    host: '127.0.0.1',
    port: emulator.mysql?.port,
    user: IAM_USER,
    database: 'dbmodule_test',
    password,
    ssl: { ca: readFileSync(emulator.caFile), servername: 'localhost' },
    enableCleartextPlugin: true,
    connectTimeout: 10_000,
    ...extra,
  } as mysql.ConnectionOptions);
  connection.on('error', () => {});
  return connection;
}
