/** MySQL/MariaDB contenders without dbmodule: the bare mysql2 pool, and the wrapper's pool client. */

import type { Pool, PoolOptions } from 'mysql2';
import { rdsSigner } from '../lib/aws.js';
import { serverAddress } from '../lib/databases.js';
import { wrapperConfig } from './postgres.js';
import { POOL_SIZE, type QueryTarget, type Route } from './target.js';

/** A statement on mysql2's callback pool (its fastest API), as a promise. */
export function mysqlQuery(pool: Pool, sql: string, params?: readonly unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    pool.query(sql, params as unknown[] | undefined, (error, rows) => (error ? reject(error) : resolve(rows)));
  });
}

/** Connection fields for mysql2: the server, or the IAM endpoint with an rds-signer token per new session. */
export async function mysqlEndpoint(route: Route): Promise<PoolOptions> {
  if (route.kind === 'direct') {
    const a = serverAddress('mysql');
    return { host: a.host, port: a.port, user: a.user, password: a.password ?? '', database: a.database };
  }
  const signer = await rdsSigner(route);
  return {
    host: 'localhost',
    port: route.port,
    user: route.user,
    database: serverAddress('mysql').database,
    ssl: { ca: route.caPem },
    // mysql2 awaits an auth plugin's promise: a token signed for each new session.
    authPlugins: { mysql_clear_password: () => async () => Buffer.from(`${await signer.getAuthToken()}\0`) },
  };
}

/** `mysql2.createPool` as its README shows it. */
export async function bareMysqlPool(route: Route, connectionLimit = POOL_SIZE): Promise<QueryTarget & { pool: Pool }> {
  const mysql = await import('mysql2');
  const pool = mysql.createPool({ ...(await mysqlEndpoint(route)), connectionLimit, maxIdle: connectionLimit, waitForConnections: true });
  return {
    name: 'bare',
    label: route.kind === 'iam' ? 'mysql2 pool + rds-signer' : 'mysql2 pool',
    pool,
    run: (sql, params) => mysqlQuery(pool, sql, params),
    close: () => new Promise<void>((resolve) => pool.end(() => resolve())),
  };
}

/** `AwsMySQLPoolClient` with a pool of the same size. */
export async function wrapperMysqlPool(route: Route): Promise<QueryTarget> {
  const { AwsMySQLPoolClient } = await import('aws-advanced-nodejs-wrapper/mysql');
  const { AwsPoolConfig } = await import('aws-advanced-nodejs-wrapper');
  const client = new AwsMySQLPoolClient(
    wrapperConfig(route, 'mysql'),
    new AwsPoolConfig({ maxConnections: POOL_SIZE, maxIdleConnections: POOL_SIZE, waitForConnections: true }),
  );
  return {
    name: 'wrapper',
    label: route.kind === 'iam' ? "wrapper AwsMySQLPoolClient (plugins 'iam')" : "wrapper AwsMySQLPoolClient (plugins '')",
    run: (sql, params) => client.query({ sql }, params as unknown[] | undefined),
    close: () => client.end(),
  };
}

/**
 * The wrapper's IAM login as its documentation configures it (no `enableCleartextPlugin`): returns
 * the error it fails with, or undefined if it works, for the findings.
 */
export async function wrapperMysqlIamAsDocumented(route: Route): Promise<string | undefined> {
  const { AwsMySQLPoolClient } = await import('aws-advanced-nodejs-wrapper/mysql');
  const { AwsPoolConfig } = await import('aws-advanced-nodejs-wrapper');
  const { enableCleartextPlugin: _omitted, ...config } = wrapperConfig(route, 'mysql');
  const client = new AwsMySQLPoolClient(config, new AwsPoolConfig({ maxConnections: 1 }));
  try {
    await client.query({ sql: 'SELECT 1' });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}
