import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

/** Credentials the server handed out, kept so tests can check what signed a token. */
export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
}

/**
 * An ECS-style container credentials endpoint on 127.0.0.1: every request gets new keys
 * (rotation) that expire `lifetimeMs` after the test clock's now; `failing` makes it answer 500.
 */
export interface CredentialsServer {
  readonly url: string;
  readonly issued: IssuedCredentials[];
  /** Requests received, failed ones included. */
  hits: number;
  failing: boolean;
  lifetimeMs: number;
  byAccessKeyId(id: string): IssuedCredentials | undefined;
  reset(): void;
  close(): Promise<void>;
}

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const upper = (n: number): string => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');

export async function startCredentialsServer(clock: { now(): number }, lifetimeMs: number): Promise<CredentialsServer> {
  let counter = 0;
  const state = {
    hits: 0,
    failing: false,
    lifetimeMs,
    issued: [] as IssuedCredentials[],
  };
  const server: Server = createServer((request, response) => {
    state.hits += 1;
    if (state.failing || request.url !== '/creds') {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end('{"Code":"InternalError","Message":"told to fail"}');
      return;
    }
    counter += 1;
    // Whole seconds, as real endpoints send them.
    const expiresAt = Math.floor((clock.now() + state.lifetimeMs) / 1000) * 1000;
    const issued: IssuedCredentials = {
      accessKeyId: `ASIA${String(counter).padStart(4, '0')}${upper(12)}`,
      // base64 so secrets carry + / = and the signer's escaping is exercised.
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(240).toString('base64')}`,
      expiresAt,
    };
    state.issued.push(issued);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        AccessKeyId: issued.accessKeyId,
        SecretAccessKey: issued.secretAccessKey,
        Token: issued.sessionToken,
        Expiration: new Date(expiresAt).toISOString().replace('.000Z', 'Z'),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/creds`,
    get issued() {
      return state.issued;
    },
    get hits() {
      return state.hits;
    },
    set hits(value: number) {
      state.hits = value;
    },
    get failing() {
      return state.failing;
    },
    set failing(value: boolean) {
      state.failing = value;
    },
    get lifetimeMs() {
      return state.lifetimeMs;
    },
    set lifetimeMs(value: number) {
      state.lifetimeMs = value;
    },
    byAccessKeyId: (id) => state.issued.find((c) => c.accessKeyId === id),
    reset() {
      state.hits = 0;
      state.failing = false;
      state.lifetimeMs = lifetimeMs;
      state.issued.length = 0;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

const AWS_VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_EC2_METADATA_DISABLED',
];

/**
 * Points the AWS SDK default chain at exactly the given variables: no shared files, no instance
 * metadata, nothing inherited. The SDK's remote link reads `process.env` itself, so the variables
 * are set there; the returned function restores every one of them.
 */
export function isolateAwsEnvironment(variables: Record<string, string>): () => void {
  const saved = new Map(AWS_VARIABLES.concat(Object.keys(variables)).map((name) => [name, process.env[name]]));
  for (const name of AWS_VARIABLES) delete process.env[name];
  const missing = join(tmpdir(), `dbmodule-no-aws-${process.pid}`, 'none');
  process.env.AWS_SHARED_CREDENTIALS_FILE = missing;
  process.env.AWS_CONFIG_FILE = missing;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  Object.assign(process.env, variables);
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}
