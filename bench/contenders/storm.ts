/**
 * Contenders of the IAM connection storm: each opens `size` new sessions at once through the
 * local RDS IAM endpoint, runs `SELECT 1` on each, and reports how long that took and how many
 * tokens were signed and credential resolutions were asked for.
 */

import type { Pool as PgPool, PoolClient } from 'pg';
import type { Pool as MysqlPool, PoolConnection } from 'mysql2';
import { createIamTokenProvider } from '../../src/iam/index.js';
import { silentLogger } from '../../src/logging.js';
import { countingProvider, rdsSigner } from '../lib/aws.js';
import { PASSWORD_USER, PASSWORD_USER_SECRET, serverAddress, type Engine } from '../lib/databases.js';
import { openDbmodule } from './dbmodule.js';
import { wrapperConfig } from './postgres.js';
import type { Route } from './target.js';

export interface StormOutcome {
  readonly ms: number;
  /** Tokens signed during the storm; undefined where nothing signs (password). */
  readonly signings: number | undefined;
  /** Times a credential provider was asked for credentials. */
  readonly credentialResolutions: number | undefined;
}

export interface StormTarget {
  readonly engine: Engine;
  readonly size: number;
  /** IAM route for this contender (its own signed host, a user unique to the round). */
  readonly route: Extract<Route, { kind: 'iam' }>;
}

export interface StormContender {
  readonly name: string;
  readonly label: string;
  /** Sessions the endpoint should have seen: IAM logins, or passed-through password logins. */
  readonly login: 'iam' | 'password';
  run(target: StormTarget): Promise<StormOutcome>;
}

/** `size` sessions checked out of `pool` at once (the pool opens each), `SELECT 1` on each, then given back. */
async function openSessions(engine: Engine, size: number, pool: PgPool | MysqlPool): Promise<void> {
  if (engine === 'postgres') {
    const pg = pool as PgPool;
    const clients = await Promise.all(Array.from({ length: size }, () => pg.connect()));
    await Promise.all(clients.map((client: PoolClient) => client.query('SELECT 1')));
    for (const client of clients) client.release();
    return;
  }
  const my = pool as MysqlPool;
  const connections = await Promise.all(
    Array.from({ length: size }, () => new Promise<PoolConnection>((resolve, reject) => my.getConnection((e, c) => (e ? reject(e) : resolve(c))))),
  );
  await Promise.all(connections.map((c) => new Promise<void>((resolve, reject) => c.query('SELECT 1', (e) => (e ? reject(e) : resolve())))));
  for (const connection of connections) connection.release();
}

/** A new driver pool of `size`, stormed, then ended. */
async function stormNewPool(engine: Engine, size: number, options: Record<string, unknown>): Promise<void> {
  const pool = await newPool(engine, options, size);
  try {
    await openSessions(engine, size, pool);
  } finally {
    if (engine === 'postgres') await (pool as PgPool).end();
    else await new Promise<void>((resolve) => (pool as MysqlPool).end(() => resolve()));
  }
}

async function newPool(engine: Engine, options: Record<string, unknown>, size: number): Promise<PgPool | MysqlPool> {
  if (engine === 'postgres') {
    const { default: pg } = await import('pg');
    return new pg.Pool({ ...options, max: size });
  }
  const mysql = await import('mysql2');
  return mysql.createPool({ ...options, connectionLimit: size, maxIdle: size, waitForConnections: true, connectTimeout: 60_000 });
}

function database(engine: Engine): string {
  return serverAddress(engine).database;
}

/** Plain password logins through the same endpoint and TLS (passed through to the server). */
export const passwordStorm: StormContender = {
  name: 'password',
  label: 'driver pool, password login',
  login: 'password',
  async run({ engine, size, route }) {
    const started = performance.now();
    const options = { host: 'localhost', port: route.port, user: PASSWORD_USER, password: PASSWORD_USER_SECRET, database: database(engine), ssl: { ca: route.caPem } };
    await stormNewPool(engine, size, options);
    return { ms: performance.now() - started, signings: undefined, credentialResolutions: undefined };
  },
};

/** The bare driver pool with an @aws-sdk/rds-signer token per new session. */
export const signerStorm: StormContender = {
  name: 'bare-signer',
  label: 'driver pool + rds-signer per session',
  login: 'iam',
  async run({ engine, size, route }) {
    const counting = countingProvider();
    let signings = 0;
    const started = performance.now();
    const signer = await rdsSigner(route, counting.provider);
    const token = async (): Promise<string> => {
      signings += 1;
      return signer.getAuthToken();
    };
    const base = { host: 'localhost', port: route.port, user: route.user, database: database(engine), ssl: { ca: route.caPem } };
    const options =
      engine === 'postgres'
        ? { ...base, password: token }
        : { ...base, authPlugins: { mysql_clear_password: () => async () => Buffer.from(`${await token()}\0`) } };
    await stormNewPool(engine, size, options);
    return { ms: performance.now() - started, signings, credentialResolutions: counting.calls() };
  },
};

/** dbmodule's token provider on its own (`dbmodule/iam`) behind the bare driver pool, from a cold cache. */
export const providerStorm: StormContender = {
  name: 'dbmodule-provider',
  label: 'driver pool + dbmodule/iam provider',
  login: 'iam',
  async run({ engine, size, route }) {
    const counting = countingProvider();
    const started = performance.now();
    const provider = createIamTokenProvider({ host: route.signingHost, port: route.signingPort, user: route.user, credentials: counting.provider, logger: silentLogger });
    const base = { host: 'localhost', port: route.port, user: route.user, database: database(engine), ssl: { ca: route.caPem } };
    const options =
      engine === 'postgres'
        ? { ...base, password: () => provider.getToken() }
        : { ...base, authPlugins: { mysql_clear_password: () => async () => Buffer.from(`${await provider.getToken()}\0`) } };
    try {
      await stormNewPool(engine, size, options);
      const state = provider.state();
      if (state.credentialResolutions !== counting.calls()) {
        throw new Error(`dbmodule/iam reports ${state.credentialResolutions} credential resolutions, the provider was called ${counting.calls()} times`);
      }
      return { ms: performance.now() - started, signings: state.signCount, credentialResolutions: counting.calls() };
    } finally {
      provider.close();
    }
  },
};

/** `createDatabase` (which opens and pings the first session) and `size` sessions from `connection.pool`. */
export function dbmoduleStorm(maxConnectsPerSecond: number | undefined): StormContender {
  return {
    name: maxConnectsPerSecond === undefined ? 'dbmodule-capped' : 'dbmodule',
    label: maxConnectsPerSecond === undefined ? 'dbmodule createDatabase (default cap 50 connects/s)' : 'dbmodule createDatabase (cap lifted)',
    login: 'iam',
    async run({ engine, size, route }) {
      const counting = countingProvider();
      const started = performance.now();
      const db = await openDbmodule(
        engine,
        { ...route, ...(maxConnectsPerSecond ? { maxConnectsPerSecond } : {}) },
        { maxOpen: size, credentials: counting.provider, extra: { connection_timeout: '60s' } },
      );
      const connection = db.connection();
      try {
        await openSessions(engine, size, connection.pool as PgPool | MysqlPool);
        const ms = performance.now() - started;
        const state = connection.tokenState()!;
        if (state.credentialResolutions !== counting.calls()) {
          throw new Error(`dbmodule reports ${state.credentialResolutions} credential resolutions, the provider was called ${counting.calls()} times`);
        }
        return { ms, signings: state.signCount, credentialResolutions: counting.calls() };
      } finally {
        await db.close();
      }
    },
  };
}

/** The wrapper's client with plugins 'iam': `size` clients connecting at once, from a cold token cache. */
export const wrapperStorm: StormContender = {
  name: 'wrapper',
  label: "wrapper client (plugins 'iam')",
  login: 'iam',
  async run({ engine, size, route }) {
    const counting = countingProvider();
    const config = {
      ...wrapperConfig(route, engine),
      customAwsCredentialProviderHandler: { getAwsCredentialsProvider: () => counting.provider },
      // The wrapper caches the detected dialect per host name, process-wide and without the port: after
      // PostgreSQL on localhost, a MySQL client to localhost fails with "Unknown dialect code: 'pg'".
      ...(engine === 'mysql' ? { dialect: 'mysql' } : {}),
    };
    const started = performance.now();
    const clients: { end(): Promise<unknown> }[] = [];
    try {
      if (engine === 'postgres') {
        const { AwsPGClient } = await import('aws-advanced-nodejs-wrapper/pg');
        await Promise.all(
          Array.from({ length: size }, async () => {
            const client = new AwsPGClient(config);
            clients.push(client);
            await client.connect();
            await client.query('SELECT 1');
          }),
        );
      } else {
        const { AwsMySQLClient } = await import('aws-advanced-nodejs-wrapper/mysql');
        await Promise.all(
          Array.from({ length: size }, async () => {
            const client = new AwsMySQLClient(config);
            clients.push(client);
            await client.connect();
            await client.query({ sql: 'SELECT 1' });
          }),
        );
      }
      // Each signing asks the credential provider once (rds-signer resolves credentials per presign).
      return { ms: performance.now() - started, signings: counting.calls(), credentialResolutions: counting.calls() };
    } finally {
      await Promise.allSettled(clients.map((client) => client.end()));
    }
  },
};
