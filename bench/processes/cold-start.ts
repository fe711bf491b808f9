/**
 * One cold start: from process start to the first query result. `node cold-start.js <contender>
 * <json settings> [--audit]` prints `{ firstResultMs, awsModules? }`. Everything is imported
 * dynamically after the clock starts, as an application's own imports would be.
 *
 * Contenders: bare-pg, dbmodule-pg, bare-mysql, dbmodule-mysql (straight to the server),
 * signer-pg, dbmodule-iam-pg (through the RDS IAM endpoint, credentials from the AWS SDK default chain).
 */

import { register, createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

interface Settings {
  readonly pgUrl: string;
  readonly mysqlUrl: string;
  /** For the IAM contenders. */
  readonly iam?: { readonly port: number; readonly caFile: string; readonly caPem: string; readonly signingHost: string; readonly user: string; readonly database: string };
}

const AWS_MODULE = /node_modules\/(@aws-sdk|@smithy|@aws-crypto|aws-advanced-nodejs-wrapper)\//;

const [contender = '', json = '{}', flag] = process.argv.slice(2);
const settings = JSON.parse(json) as Settings;
const audit = flag === '--audit' ? startAudit() : undefined;

const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function firstResult(): Promise<unknown> {
  switch (contender) {
    case 'bare-pg': {
      const { default: pg } = await import('pg');
      const pool = new pg.Pool({ connectionString: settings.pgUrl, max: 10 });
      const result = await pool.query('SELECT 1 AS x');
      void pool.end();
      return result.rows[0];
    }
    case 'dbmodule-pg':
    case 'dbmodule-mysql': {
      const { createDatabase } = await import('../../src/index.js');
      const driver = contender === 'dbmodule-pg' ? 'postgres' : 'mysql';
      const db = await createDatabase({ connections: { main: { driver, dsn: driver === 'postgres' ? settings.pgUrl : settings.mysqlUrl } } }, { logger: silent });
      const result = await db.connection().query('SELECT 1 AS x');
      void db.close();
      return result.rows[0];
    }
    case 'bare-mysql': {
      const mysql = await import('mysql2');
      const pool = mysql.createPool({ uri: settings.mysqlUrl, connectionLimit: 10 });
      const rows = await new Promise<unknown[]>((resolve, reject) => pool.query('SELECT 1 AS x', (e, r) => (e ? reject(e) : resolve(r as unknown[]))));
      pool.end(() => {});
      return rows[0];
    }
    case 'signer-pg': {
      const iam = settings.iam!;
      const [{ default: pg }, { Signer }] = await Promise.all([import('pg'), import('@aws-sdk/rds-signer')]);
      const signer = new Signer({ hostname: iam.signingHost, port: 5432, username: iam.user });
      const pool = new pg.Pool({ host: 'localhost', port: iam.port, user: iam.user, database: iam.database, password: () => signer.getAuthToken(), ssl: { ca: iam.caPem }, max: 10 });
      const result = await pool.query('SELECT 1 AS x');
      void pool.end();
      return result.rows[0];
    }
    case 'dbmodule-iam-pg': {
      const iam = settings.iam!;
      const { createDatabase } = await import('../../src/index.js');
      const db = await createDatabase(
        {
          connections: {
            main: {
              driver: 'postgres',
              dsn: `postgresql://${iam.user}@localhost:${iam.port}/${iam.database}?sslmode=verify-full&sslrootcert=${iam.caFile}`,
              aws_iam_auth: { enabled: true, signing_host: iam.signingHost, signing_port: 5432 },
            },
          },
        },
        { logger: silent },
      );
      const result = await db.connection().query('SELECT 1 AS x');
      void db.close();
      return result.rows[0];
    }
    default:
      throw new Error(`unknown cold-start contender "${contender}"`);
  }
}

interface Audit {
  finish(): Promise<string[]>;
}

/** Records every resolved module URL (ESM, through hooks) and every CommonJS module loaded (require.cache). */
function startAudit(): Audit {
  const seen = new Set<string>();
  const { port1, port2 } = new MessageChannel();
  let flushed: (() => void) | undefined;
  port1.on('message', (message: { url?: string; flushed?: boolean }) => {
    if (message.url) seen.add(message.url);
    if (message.flushed) flushed?.();
  });
  register('./module-audit-hooks.js', import.meta.url, { data: { port: port2 }, transferList: [port2] });
  return {
    async finish() {
      await new Promise<void>((resolve) => {
        flushed = resolve;
        port1.postMessage('flush');
      });
      port1.close();
      const cjs = Object.keys(createRequire(import.meta.url).cache);
      return [...new Set([...seen, ...cjs])].filter((url) => AWS_MODULE.test(url));
    },
  };
}

const row = (await firstResult()) as { x?: unknown } | undefined;
const firstResultMs = performance.now();
if (Number(row?.x) !== 1) throw new Error(`${contender}: SELECT 1 answered ${JSON.stringify(row)}`);
const awsModules = audit ? await audit.finish() : undefined;
process.stdout.write(`${JSON.stringify({ firstResultMs, ...(awsModules ? { awsModules } : {}) })}\n`);
process.exit(0);
