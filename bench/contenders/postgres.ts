/** PostgreSQL contenders without dbmodule: the bare pg pool, and the AWS Advanced NodeJS Wrapper's pool client. */

import type { PoolConfig } from 'pg';
import { BENCH_CREDENTIALS, BENCH_REGION, rdsSigner } from '../lib/aws.js';
import { addressOf, serverAddress } from '../lib/databases.js';
import { POOL_SIZE, type QueryTarget, type Route } from './target.js';

/** `pg.Pool` as its README shows it; over IAM its password function asks @aws-sdk/rds-signer for each new session. */
export async function barePgPool(route: Route, max = POOL_SIZE): Promise<QueryTarget & { pool: import('pg').Pool }> {
  const { default: pg } = await import('pg');
  const config: PoolConfig = { ...(await pgEndpoint(route)), max };
  const pool = new pg.Pool(config);
  return {
    name: 'bare',
    label: route.kind === 'iam' ? 'pg.Pool + rds-signer' : 'pg.Pool',
    pool,
    run: (sql, params) => pool.query(sql, params as unknown[] | undefined),
    close: () => pool.end(),
  };
}

/** Connection fields for pg: the server itself, or the IAM endpoint with a token signed by rds-signer per session. */
export async function pgEndpoint(route: Route): Promise<PoolConfig> {
  if (route.kind === 'direct') {
    const a = route.url ? addressOf(route.url) : serverAddress('postgres');
    return { host: a.host, port: a.port, user: a.user, password: a.password, database: a.database };
  }
  const signer = await rdsSigner(route);
  return {
    host: 'localhost',
    port: route.port,
    user: route.user,
    database: serverAddress('postgres').database,
    password: () => signer.getAuthToken(),
    ssl: { ca: route.caPem },
  };
}

/** The wrapper's settings: IAM plugin off (`plugins: ''`) directly, or on (`plugins: 'iam'`) through the endpoint. */
export function wrapperConfig(route: Route, engine: 'postgres' | 'mysql'): Record<string, unknown> {
  if (route.kind === 'direct') {
    const a = serverAddress(engine);
    return { host: a.host, port: a.port, user: a.user, password: a.password ?? '', database: a.database, plugins: '' };
  }
  return {
    host: 'localhost',
    port: route.port,
    user: route.user,
    database: serverAddress(engine).database,
    plugins: 'iam',
    iamHost: route.signingHost,
    iamDefaultPort: route.signingPort,
    iamRegion: BENCH_REGION,
    ssl: { ca: route.caPem },
    // The wrapper's default is a new fromNodeProviderChain() per signing; static keys keep the comparison about the wrapper.
    customAwsCredentialProviderHandler: { getAwsCredentialsProvider: () => async () => BENCH_CREDENTIALS },
    // mysql2 >= 3.22 refuses mysql_clear_password unless asked; wrapper 2.0.1 does not ask (fixed upstream in PR #693).
    ...(engine === 'mysql' ? { enableCleartextPlugin: true } : {}),
  };
}

/** `AwsPgPoolClient` with a pool of the same size. */
export async function wrapperPgPool(route: Route): Promise<QueryTarget> {
  const { AwsPgPoolClient } = await import('aws-advanced-nodejs-wrapper/pg');
  const { AwsPoolConfig } = await import('aws-advanced-nodejs-wrapper');
  const client = new AwsPgPoolClient(wrapperConfig(route, 'postgres'), new AwsPoolConfig({ maxConnections: POOL_SIZE, maxIdleConnections: POOL_SIZE }));
  return {
    name: 'wrapper',
    label: route.kind === 'iam' ? "wrapper AwsPgPoolClient (plugins 'iam')" : "wrapper AwsPgPoolClient (plugins '')",
    run: (sql, params) => (params ? client.query(sql, params as unknown[]) : client.query(sql)),
    close: () => client.end(),
  };
}
